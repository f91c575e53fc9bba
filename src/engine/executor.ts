// The executor interface of per-item work. A stage declares a pure item function in a module (an "item module": item
// in → rows and files out) and hands ctx.map a reference to it; the executor decides where it runs: in the stage's
// own thread (one worker) or on a pool of worker threads (src/engine/pool.ts), each of which opens the module's
// resources (a model) once through the module's factory. ctx.map (src/engine/map.ts) keeps the contract either way:
// chunks, resume, bad items, per-item timings, files complete before a chunk is recorded.
//
// An item module exports `url = import.meta.url` and one or more factories `(config, env) => Promise<ItemRunner>`;
// `config` and the items must be structured-cloneable (they are posted to the workers). Import the module with a
// literal specifier in the stage (`await import('../src/explain/cam-item.ts')`) so the cache key covers its code.
import { errorMessage } from './errors.ts';
import type { ItemTimer } from './types.ts';

export type Row = Record<string, unknown>;

/** What one item produces: its rows, its files (relative output paths), and additive counters (model calls, ms). */
export interface ItemOutput {
  rows: Row[];
  files?: { rel: string; data: Uint8Array }[];
  /** Summed over all items by the executor (MapResult.sums): counters that are results (model calls) or stage timings. */
  sums?: Record<string, number>;
}

export interface ItemRunner<I> {
  run(item: I, index: number, timer: ItemTimer): Promise<ItemOutput>;
  /** Optional batched form (one output per item); a throwing batch is redone item by item through `run`. */
  runBatch?(items: I[], indices: number[]): Promise<ItemOutput[]>;
  close?(): Promise<void>;
}

export interface WorkerEnv {
  /** Threads this runner may use for its own compute (onnxruntime intra-op); undefined: its default (the cores). */
  threads?: number;
  projectRoot: string;
}

export type ItemFactory<I, C> = (config: C, env: WorkerEnv) => Promise<ItemRunner<I>>;

/** A reference to an item function: the loaded module (with its `url`) and the name of its factory export. */
export interface ItemFunction<I, C> {
  module: { url: string } & Record<string, unknown>;
  factory: string;
  config: C;
}

/** The outcome of one item, as it crosses a thread boundary. */
export interface Outcome {
  index: number;
  out?: ItemOutput;
  /** The error of a bad item (its message; `cause` only in-process). */
  error?: { message: string; cause?: unknown };
  ms: number;
  phases?: Record<string, number>;
}

export function factoryOf<I, C>(f: Pick<ItemFunction<I, C>, 'module' | 'factory'>): ItemFactory<I, C> {
  const fn = f.module[f.factory];
  if (typeof fn !== 'function') throw new Error(`item module ${f.module.url} has no factory '${f.factory}'`);
  return fn as ItemFactory<I, C>;
}

/**
 * Runs one unit (a batch of consecutive items, or one item) through a runner: the batched form when the runner has
 * one (its time split evenly over the items), falling back to one item at a time when the batch throws; each item's
 * own error is recorded in its outcome. Rethrows when `aborted()` (an interruption is not a bad item).
 */
export async function runUnit<I>(
  r: ItemRunner<I>,
  items: I[],
  indices: number[],
  opts: { now: () => number; aborted: () => boolean; onItem?: () => void },
): Promise<Outcome[]> {
  const { now } = opts;
  if (r.runBatch) {
    const t0 = now();
    let outs: ItemOutput[] | undefined;
    try {
      outs = await r.runBatch(items, indices);
      if (!Array.isArray(outs) || outs.length !== items.length) throw new Error(`batch returned ${Array.isArray(outs) ? outs.length : typeof outs} results for ${items.length} items`);
      for (const o of outs) if (!Array.isArray(o?.rows)) throw new Error('batch result without rows');
    } catch {
      if (opts.aborted()) throw new Error('interrupted');
      outs = undefined;
    }
    if (outs) {
      const per = (now() - t0) / items.length;
      for (let j = 0; j < items.length; j++) opts.onItem?.();
      return outs.map((out, j) => ({ index: indices[j], out, ms: per }));
    }
  }
  const res: Outcome[] = [];
  for (let j = 0; j < items.length; j++) {
    const o: Outcome = { index: indices[j], ms: 0 };
    let fixed: number | undefined;
    const timer: ItemTimer = {
      phase(name, ms) {
        (o.phases ??= {})[name] = (o.phases[name] ?? 0) + ms;
      },
      set(ms) {
        fixed = ms;
      },
    };
    const t0 = now();
    try {
      const out = await r.run(items[j], indices[j], timer);
      if (!Array.isArray(out?.rows)) throw new Error(`fn must return an array of rows, got ${typeof out?.rows}`);
      o.out = out;
    } catch (e) {
      if (opts.aborted()) throw e;
      o.error = { message: errorMessage(e), cause: e };
    }
    o.ms = fixed ?? now() - t0;
    res.push(o);
    opts.onItem?.();
  }
  return res;
}
