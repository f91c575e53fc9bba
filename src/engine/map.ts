// ctx.map: per-item execution in chunks with resume. Chunk k holds items [k·size, (k+1)·size) and is written to
// the stage's work dir as `chunk-<k>.arrow` + `chunk-<k>.json` (item ids + bad items; written last = the record
// that the chunk is finished). A rerun after an interruption skips finished chunks, so only missing items are
// computed; the final table is the chunks concatenated in order, identical to an uninterrupted run's.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Field, Int32, Schema, Utf8, type Table } from 'apache-arrow';
import { concatTables, readArrowBatches, readArrowFile, tableFromRows, tableToBytes } from '../arrow/io.ts';
import { StageError, errorMessage } from './errors.ts';
import { sha256 } from './fingerprint.ts';
import type { ItemTiming, MapStats } from './cache.ts';
import { factoryOf, runUnit, type ItemRunner, type Outcome } from './executor.ts';
import { ItemPool, threadsPerWorker } from './pool.ts';
import type { ItemError, MapOptions, MapResult } from './types.ts';

export interface MapEnv {
  stageId: string;
  /** Directory for this stage execution's chunks (kept across interruptions). */
  dir: string;
  signal: AbortSignal;
  failOnItemError: boolean;
  progress(done: number, total: number, unit?: string): void;
  /** Writes a finished table through the stage's output writer. */
  writeTable(name: string, table: Table): Promise<void>;
  /**
   * Writes a table from parts read one at a time (streamed into one file; the whole table is never in memory) and
   * returns the written file's path. Absent (tests): the parts are concatenated and passed to writeTable.
   */
  writeTableParts?(name: string, schema: Schema, parts: Iterable<Table>): Promise<string>;
  /** Records per-table stats and item timings for the manifest. */
  stats(name: string, s: MapStats, timing?: ItemTiming): void;
  /** Writes a file of an item (relative output path), through the stage's output writer. */
  writeFile?(rel: string, data: Uint8Array): Promise<void>;
  /** Worker threads for item modules (`xai run --workers`); 1 or absent: the stage's own thread. */
  workers?: number;
  /** Default: the working directory. */
  projectRoot?: string;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

interface ChunkRecord {
  ids: string[];
  errors: { item: string; index: number; message: string }[];
  /** Per item of the chunk: wall ms, and the phases it reported (kept apart from the rows: they are not results). */
  times?: { ms: number; phases?: Record<string, number> }[];
}

/** Per-item timings of a map table from its chunk records (resumed chunks included). */
export function itemTiming(records: readonly ChunkRecord[]): ItemTiming | undefined {
  const ms: number[] = [];
  const phases = new Map<string, { sum: number; n: number }>();
  for (const r of records) {
    for (const t of r.times ?? []) {
      ms.push(t.ms);
      for (const [k, v] of Object.entries(t.phases ?? {})) {
        const p = phases.get(k) ?? { sum: 0, n: 0 };
        p.sum += v;
        p.n++;
        phases.set(k, p);
      }
    }
  }
  if (!ms.length) return undefined;
  const total = ms.reduce((a, b) => a + b, 0);
  const mean = total / ms.length;
  const std = Math.sqrt(ms.reduce((a, b) => a + (b - mean) ** 2, 0) / ms.length);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: ms.length,
    total_ms: round(total),
    mean_ms: round(mean),
    std_ms: round(std),
    ...(phases.size ? { phases: Object.fromEntries([...phases].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, p]) => [k, round(p.sum / p.n)])) } : {}),
  };
}

export const errorsSchema = new Schema([
  new Field('item', new Utf8(), false),
  new Field('index', new Int32(), false),
  new Field('message', new Utf8(), false),
]);

const TABLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('interrupted');
}

interface Executor {
  run(unit: number[]): Promise<Outcome[]>;
  /** Units in flight at once. */
  concurrency: number;
  close(): Promise<void>;
}

/**
 * Where the units run: `fn`/`batchFn` in this thread; an item module in this thread (one worker, or a single unit to
 * do) or on a pool of min(workers, units) worker threads, onnxruntime's intra-op threads split between them.
 */
async function executor<I>(opts: MapOptions<I>, env: MapEnv, nUnits: number): Promise<Executor> {
  const now = env.now ?? (() => performance.now());
  const aborted = () => env.signal.aborted;
  const w = opts.worker;
  const prepared = (unit: number[]) => unit.map((i) => (w?.prepare ? w.prepare(opts.items[i], i) : opts.items[i]));
  const size = Math.min(env.workers ?? 1, nUnits);
  if (w && size > 1) {
    const pool = new ItemPool(w, size, { projectRoot: env.projectRoot ?? process.cwd(), threads: threadsPerWorker(size) }, `${env.stageId} ${opts.table}`);
    const onAbort = () => pool.abort(abortError(env.signal));
    env.signal.addEventListener('abort', onAbort, { once: true });
    return {
      run: (unit) => pool.run(prepared(unit), unit),
      concurrency: 2 * size,
      close: async () => {
        env.signal.removeEventListener('abort', onAbort);
        await pool.close();
      },
    };
  }
  let runner: ItemRunner<unknown>;
  if (w) runner = await factoryOf(w)(w.config, { projectRoot: env.projectRoot ?? process.cwd() });
  else {
    const { fn, batchFn } = opts;
    if (!fn) throw new StageError(env.stageId, `ctx.map '${opts.table}': give fn or worker`);
    runner = {
      run: async (item, i, timer) => ({ rows: await fn(item as I, i, timer) }),
      ...(batchFn ? { runBatch: async (items: unknown[], idx: number[]) => (await batchFn(items as I[], idx)).map((rows) => ({ rows })) } : {}),
    };
  }
  return {
    async run(unit) {
      try {
        return await runUnit(runner, prepared(unit), unit, { now, aborted });
      } catch (e) {
        throw aborted() ? abortError(env.signal) : e;
      }
    },
    concurrency: 1,
    close: async () => runner.close?.(),
  };
}

/** Runs the units, at most `ex.concurrency` at once, handing each unit's outcomes to `done` (the first error wins). */
async function schedule(units: number[][], ex: Executor, env: MapEnv, done: (o: Outcome[]) => Promise<void>): Promise<void> {
  let failure: unknown;
  const inflight = new Set<Promise<void>>();
  for (const unit of units) {
    while (inflight.size >= ex.concurrency && failure === undefined) await Promise.race(inflight);
    if (failure === undefined && env.signal.aborted) failure = abortError(env.signal);
    if (failure !== undefined) break;
    const p: Promise<void> = ex
      .run(unit)
      .then(done)
      .catch((e) => void (failure ??= e))
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  if (failure !== undefined) throw failure;
}

export async function runMap<I>(opts: MapOptions<I>, env: MapEnv): Promise<MapResult> {
  if (!TABLE_NAME.test(opts.table)) throw new StageError(env.stageId, `ctx.map: invalid table name '${opts.table}'`);
  const n = opts.items.length;
  const ids = opts.items.map((it, i) => String(opts.id(it, i)));
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new StageError(env.stageId, `ctx.map '${opts.table}': duplicate item id '${id}'`);
    seen.add(id);
  }
  const batchSize = Math.max(1, opts.batchSize ?? 1);
  const unitSize = opts.batchFn || opts.worker ? batchSize : 1;
  const chunkSize = Math.max(1, opts.chunkSize ?? 16, unitSize);
  const dir = join(env.dir, opts.table);
  // The chunk layout depends on the item list, the chunk size and the schema; if any changed, start over.
  const layout = sha256(JSON.stringify({ ids, chunkSize, schema: opts.schema.fields.map((f) => [f.name, String(f.type), f.nullable]) }));
  const layoutFile = join(dir, 'layout.json');
  let layoutOk = false;
  try {
    layoutOk = (JSON.parse(readFileSync(layoutFile, 'utf8')) as { layout: string }).layout === layout;
  } catch {
    /* none yet */
  }
  if (!layoutOk) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await writeAtomic(layoutFile, JSON.stringify({ layout, items: n, chunkSize }));
  }

  const nChunks = Math.ceil(n / chunkSize);
  const chunkName = (k: number) => `chunk-${String(k).padStart(6, '0')}`;
  const finished = (k: number): ChunkRecord | undefined => {
    const rec = join(dir, `${chunkName(k)}.json`);
    if (!existsSync(rec) || !existsSync(join(dir, `${chunkName(k)}.arrow`))) return undefined;
    try {
      const r = JSON.parse(readFileSync(rec, 'utf8')) as ChunkRecord;
      const want = ids.slice(k * chunkSize, (k + 1) * chunkSize);
      return r.ids.length === want.length && r.ids.every((x, i) => x === want[i]) ? r : undefined;
    } catch {
      return undefined;
    }
  };

  const now = env.now ?? (() => performance.now());
  let done = 0;
  let computed = 0;
  let resumed = 0;
  const records: ChunkRecord[] = [];
  for (let k = 0; k < nChunks; k++) {
    const r = finished(k);
    if (r) {
      records[k] = r;
      resumed += r.ids.length;
      done += r.ids.length;
    }
  }
  env.progress(done, n, 'items');

  const pending: { outcomes: Outcome[]; left: number }[] = [];
  // A chunk whose items are all done: its files complete (flush), its rows written, then its record (= finished).
  const commit = async (k: number, outcomes: Outcome[]): Promise<ChunkRecord> => {
    if (opts.flush) await opts.flush();
    const lo = k * chunkSize;
    let table: Table;
    try {
      table = tableFromRows(outcomes.flatMap((o) => o.out?.rows ?? []), opts.schema);
    } catch (e) {
      // Find the item whose rows do not fit the schema, to name it.
      for (const o of outcomes) {
        try {
          tableFromRows(o.out?.rows ?? [], opts.schema);
        } catch (e2) {
          throw new StageError(env.stageId, `ctx.map '${opts.table}': rows of item '${ids[o.index]}' do not fit the schema: ${errorMessage(e2)}`);
        }
      }
      throw new StageError(env.stageId, `ctx.map '${opts.table}': ${errorMessage(e)}`);
    }
    await writeAtomic(join(dir, `${chunkName(k)}.arrow`), tableToBytes(table));
    const rec: ChunkRecord = {
      ids: ids.slice(lo, lo + outcomes.length),
      errors: outcomes.flatMap((o) => (o.error ? [{ item: ids[o.index], index: o.index, message: o.error.message }] : [])),
      times: outcomes.map((o) => (o.phases ? { ms: o.ms, phases: o.phases } : { ms: o.ms })),
    };
    await writeAtomic(join(dir, `${chunkName(k)}.json`), JSON.stringify(rec));
    return rec;
  };

  // Units: batches of consecutive items inside a chunk (one item each without a batched form).
  const units: number[][] = [];
  for (let k = 0; k < nChunks; k++) {
    if (records[k]) continue;
    for (let b = k * chunkSize; b < Math.min(n, (k + 1) * chunkSize); b += unitSize) units.push(Array.from({ length: Math.min(unitSize, n - b, (k + 1) * chunkSize - b) }, (_, j) => b + j));
  }
  const sums: Record<string, number> = {};
  if (units.length) {
    const ex = await executor(opts, env, units.length);
    try {
      await schedule(units, ex, env, async (outcomes) => {
        for (const o of outcomes) {
          const k = Math.floor(o.index / chunkSize);
          const c = (pending[k] ??= { outcomes: [], left: Math.min(n, (k + 1) * chunkSize) - k * chunkSize });
          for (const f of o.out?.files ?? []) {
            if (!env.writeFile) throw new StageError(env.stageId, `ctx.map '${opts.table}': item '${ids[o.index]}' returned files but nothing writes them`);
            await env.writeFile(f.rel, f.data);
          }
          for (const [key, v] of Object.entries(o.out?.sums ?? {})) sums[key] = (sums[key] ?? 0) + v;
          if (o.error) {
            if (env.signal.aborted) throw abortError(env.signal);
            if (env.failOnItemError) throw new StageError(env.stageId, `item '${ids[o.index]}' (index ${o.index}): ${o.error.message} (fail_on_item_error is set)`, { cause: o.error.cause });
          }
          c.outcomes[o.index - k * chunkSize] = o;
          computed++;
          env.progress(++done, n, 'items');
          if (--c.left === 0) {
            delete pending[k];
            records[k] = await commit(k, c.outcomes);
          }
        }
      });
    } finally {
      await ex.close();
    }
  }

  // The final table: the chunks streamed into one file, one chunk in memory at a time; MapResult.table reads the file
  // when (and only if) the stage asks for it.
  const parts = function* () {
    for (let k = 0; k < records.length; k++) yield readArrowFile(join(dir, `${chunkName(k)}.arrow`));
  };
  let written: string | undefined;
  let whole: Table | undefined;
  if (env.writeTableParts) written = await env.writeTableParts(opts.table, opts.schema, parts());
  else {
    whole = concatTables([...parts()], opts.schema);
    await env.writeTable(opts.table, whole);
  }
  const errs = records.flatMap((r) => r.errors);
  await env.writeTable(`${opts.table}_errors`, tableFromRows(errs, errorsSchema));
  env.stats(opts.table, { items: n, computed, resumed, errors: errs.length }, itemTiming(records));
  const itemErrors: ItemError[] = errs.map((e) => ({ item: e.item, message: e.message }));
  return {
    get table() {
      return (whole ??= readArrowFile(written!));
    },
    batches: () => (written ? readArrowBatches(written) : (async function* () {
      yield* whole!.batches;
    })()),
    computed,
    resumed,
    errors: itemErrors,
    sums,
  };
}
