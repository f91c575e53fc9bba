// ctx.map: per-item execution with resume. Items run in units (a batch of `batchSize` consecutive items, aligned to
// multiples of it; one item without a batched form), in this thread or on the worker pool (src/engine/executor.ts).
// Finished units are committed in item order as chunks: a range [lo, lo + k) written to the stage's work dir as
// `chunk-<lo>.arrow` + `chunk-<lo>.json` (item ids, bad items, per-item times; written last = the record that the range
// is finished) once it holds `chunkSize` items or `flushMs` (~2 s) of work went by, so chunk boundaries vary and a kill
// loses about flushMs of work per worker. A rerun after an interruption computes only the items no chunk covers; the
// final table is streamed from the chunks in order (one record batch per unit, so its bytes do not depend on where the
// chunks ended), identical to an uninterrupted run's.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Field, Int32, Schema, Utf8, type RecordBatch, type Table } from 'apache-arrow';
import { concatTables, readArrowBatches, readArrowFile, tableFromRows, tableToBytes } from '../arrow/io.ts';
import { StageError, errorMessage } from './errors.ts';
import { writeAtomic } from './atomic.ts';
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
  writeTableParts?(name: string, schema: Schema, parts: Iterable<Table | RecordBatch> | AsyncIterable<Table | RecordBatch>): Promise<string>;
  /** Records per-table stats and item timings for the manifest. */
  stats(name: string, s: MapStats, timing?: ItemTiming): void;
  /** Writes a file of an item (relative output path), through the stage's output writer. */
  writeFile?(rel: string, data: Uint8Array): Promise<void>;
  /** Worker threads for item modules (`xai run --workers`); 1 or absent: the stage's own thread. */
  workers?: number;
  /** redis://host:port: item modules run as BullMQ jobs on `xai worker` processes (src/engine/queue.ts). */
  queue?: string;
  /** Default: the working directory. */
  projectRoot?: string;
  /** Overrides the stage's flushMs (XAI_FLUSH_MS: the resume granularity, e.g. 0 in tests: every unit a chunk). */
  flushMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

interface ChunkRecord {
  ids: string[];
  errors: { item: string; index: number; message: string }[];
  /** Per item of the chunk: wall ms, and the phases it reported (kept apart from the rows: they are not results). */
  times?: { ms: number; phases?: Record<string, number> }[];
  /** The chunk's items' `sums` added up (so that MapResult.totals covers resumed chunks). */
  sums?: Record<string, number>;
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

/**
 * An async iterable fed by push (the map's commits) and drained by one consumer (the output writer); push waits while
 * more than two items are queued, so a slow disk holds back the commits instead of filling memory. `end(error)` makes
 * the consumer throw.
 */
function channel<T>(): AsyncIterable<T> & { push(x: T): Promise<void>; end(error?: unknown): void } {
  const queue: T[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let drained: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    async push(x) {
      queue.push(x);
      poke();
      while (queue.length > 2 && !ended) await new Promise<void>((r) => (drained = r));
      if (failure !== undefined) throw failure;
    },
    end(error) {
      ended = true;
      failure ??= error;
      poke();
      drained?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (failure !== undefined) throw failure;
        if (queue.length) {
          yield queue.shift()!;
          const d = drained;
          drained = undefined;
          d?.();
          continue;
        }
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

/** Adds each of `parts` into `into` key by key (keys in first-seen order); returns `into`. */
function addSums(into: Record<string, number>, parts: readonly (Record<string, number> | undefined)[]): Record<string, number> {
  for (const p of parts) for (const [key, v] of Object.entries(p ?? {})) into[key] = (into[key] ?? 0) + v;
  return into;
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
  const prepared = (unit: number[]) => Promise.all(unit.map((i) => (w?.prepare ? w.prepare(opts.items[i], i) : opts.items[i])));
  if (w && env.queue) {
    const { QueueExecutor } = await import('./queue.ts');
    const q = new QueueExecutor(env.queue, w, join(env.dir, opts.table), env.projectRoot ?? process.cwd());
    try {
      await q.open();
    } catch (e) {
      throw new StageError(env.stageId, errorMessage(e));
    }
    const onAbort = () => q.fail(abortError(env.signal));
    env.signal.addEventListener('abort', onAbort, { once: true });
    return {
      run: async (unit) => q.run(await prepared(unit), unit),
      concurrency: q.concurrency,
      close: async () => {
        env.signal.removeEventListener('abort', onAbort);
        await q.close();
      },
    };
  }
  const size = Math.min(env.workers ?? 1, nUnits);
  if (w && size > 1) {
    const pool = new ItemPool(w, size, { projectRoot: env.projectRoot ?? process.cwd(), threads: threadsPerWorker(size) }, `${env.stageId} ${opts.table}`);
    const onAbort = () => pool.abort(abortError(env.signal));
    env.signal.addEventListener('abort', onAbort, { once: true });
    return {
      run: async (unit) => pool.run(await prepared(unit), unit),
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
        return await runUnit(runner, await prepared(unit), unit, { now, aborted });
      } catch (e) {
        throw aborted() ? abortError(env.signal) : e;
      }
    },
    concurrency: 1,
    close: async () => runner.close?.(),
  };
}

/** Runs the units in order, at most `ex.concurrency` at once, handing each unit's outcomes to `done` (the first error wins). */
async function schedule(
  units: number[][],
  ex: Executor,
  env: MapEnv,
  backlog: () => number,
  maxBacklog: number,
  done: (o: Outcome[]) => Promise<void>,
): Promise<void> {
  let failure: unknown;
  const inflight = new Set<Promise<void>>();
  for (const unit of units) {
    // bounded memory: at most `concurrency` units running and about maxBacklog finished ones waiting for a slow one
    while (inflight.size > 0 && (inflight.size >= ex.concurrency || backlog() >= maxBacklog) && failure === undefined) await Promise.race(inflight);
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
  const flushMs = env.flushMs ?? opts.flushMs ?? 2000;
  const dir = join(env.dir, opts.table);
  // The chunk layout depends on the item list, the unit size and the schema; if any changed, start over.
  const layout = sha256(JSON.stringify({ ids, unitSize, schema: opts.schema.fields.map((f) => [f.name, String(f.type), f.nullable]) }));
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
    await writeAtomic(layoutFile, JSON.stringify({ layout, items: n, unitSize }));
  }

  // Chunks are ranges of items [lo, lo + ids.length), named by lo; their boundaries vary (see commit) but always fall
  // on unit boundaries. A chunk is finished when its record (.json, written last) names exactly its items.
  const chunkName = (lo: number) => `chunk-${String(lo).padStart(9, '0')}`;
  const records = new Map<number, ChunkRecord>();
  let covered = 0;
  const starts = readdirSync(dir)
    .map((f) => /^chunk-(\d+)\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((x, y) => x - y);
  let end = 0;
  for (const lo of starts) {
    if (lo < end || lo % unitSize !== 0 || !existsSync(join(dir, `${chunkName(lo)}.arrow`))) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, `${chunkName(lo)}.json`), 'utf8')) as ChunkRecord;
      if (r.ids.length === 0 || lo + r.ids.length > n || !r.ids.every((x, i) => x === ids[lo + i])) continue;
      records.set(lo, r);
      end = lo + r.ids.length;
      covered += r.ids.length;
    } catch {
      /* unreadable record: the range is recomputed */
    }
  }

  // A fold (MapOptions.fold) resumes from its checkpoint: only the chunks it covers count, contiguously from 0.
  const foldFile = join(dir, 'fold.ckpt');
  if (opts.fold) {
    if (opts.worker) throw new StageError(env.stageId, `ctx.map '${opts.table}': fold needs fn (items folded in this thread), not worker`);
    let upTo = 0;
    let state: Uint8Array | undefined;
    try {
      const bytes = readFileSync(foldFile);
      const len = bytes.readUInt32LE(0);
      upTo = (JSON.parse(bytes.subarray(4, 4 + len).toString('utf8')) as { upTo: number }).upTo;
      state = bytes.subarray(4 + len);
    } catch {
      /* none (or unreadable): start over */
    }
    let end = 0;
    for (const [lo, r] of [...records].sort(([x], [y]) => x - y)) {
      if (lo === end && lo + r.ids.length <= upTo) end = lo + r.ids.length;
    }
    if (end !== upTo) ((upTo = 0), (state = undefined));
    for (const [lo, r] of [...records]) {
      if (lo + r.ids.length <= upTo) continue;
      records.delete(lo);
      covered -= r.ids.length;
      for (const ext of ['json', 'arrow']) rmSync(join(dir, `${chunkName(lo)}.${ext}`), { force: true });
    }
    if (state) await opts.fold.load(state);
  }

  const now = env.now ?? (() => performance.now());
  let done = covered;
  let computed = 0;
  const resumed = covered;
  env.progress(done, n, 'items');

  // The output table: when no chunk was resumed, the chunks' batches go to the output as they are committed (in item
  // order), so the finished table is never read back; otherwise the chunk files are streamed into it at the end.
  let live: ReturnType<typeof channel<Table>> | undefined;
  let liveWrite: Promise<string> | undefined;

  // A range of finished items: its files complete (flush), its rows written (one record batch per unit, so the final
  // table's batches do not depend on where chunks ended), then its record (= finished).
  const commit = async (outcomes: Outcome[]): Promise<void> => {
    if (opts.flush) await opts.flush();
    const lo = outcomes[0].index;
    const byUnit = new Map<number, Outcome[]>();
    for (const o of outcomes) {
      const u = o.index - (o.index % unitSize);
      byUnit.set(u, [...(byUnit.get(u) ?? []), o]);
    }
    let table: Table;
    try {
      table = concatTables([...byUnit.values()].map((os) => tableFromRows(os.flatMap((o) => o.out?.rows ?? []), opts.schema)), opts.schema);
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
    await writeAtomic(join(dir, `${chunkName(lo)}.arrow`), tableToBytes(table));
    if (live) await live.push(table);
    const rec: ChunkRecord = {
      ids: ids.slice(lo, lo + outcomes.length),
      errors: outcomes.flatMap((o) => (o.error ? [{ item: ids[o.index], index: o.index, message: o.error.message }] : [])),
      times: outcomes.map((o) => (o.phases ? { ms: o.ms, phases: o.phases } : { ms: o.ms })),
    };
    const chunkSums = addSums({}, outcomes.map((o) => o.out?.sums));
    if (Object.keys(chunkSums).length) rec.sums = chunkSums;
    await writeAtomic(join(dir, `${chunkName(lo)}.json`), JSON.stringify(rec));
    records.set(lo, rec);
    if (opts.fold && now() - lastSave >= (flushMs > 0 ? Math.max(flushMs, 20 * saveMs) : 0)) {
      // the fold's state after exactly the recorded items (fn folds in item order, one unit at a time)
      const t0 = now();
      const header = Buffer.from(JSON.stringify({ upTo: lo + outcomes.length }), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(header.length);
      await writeAtomic(foldFile, [len, header, ...(await opts.fold.save())]);
      lastSave = now();
      saveMs = lastSave - t0;
    }
  };
  let lastSave = now();
  let saveMs = 0;

  // Units: aligned batches [b, b + unitSize) of the items no chunk covers (one item each without a batched form).
  const isCovered = new Uint8Array(n);
  for (const [lo, r] of records) isCovered.fill(1, lo, lo + r.ids.length);
  const units: number[][] = [];
  for (let b = 0; b < n; b += unitSize) {
    if (isCovered[b]) continue;
    units.push(Array.from({ length: Math.min(unitSize, n - b) }, (_, j) => b + j));
  }
  const sums: Record<string, number> = {};
  if (units.length) {
    // Finished units wait in `ready` until they extend the open range from its start `head` (units in order); the range
    // is committed when it holds chunkSize items, when flushMs of work went by since the last commit, or at the end of a
    // run of uncovered items. So a kill loses at most ~flushMs of work per worker.
    const ready = new Map<number, Outcome[]>();
    let head = 0; // index into units of the open range's first unit
    let open: Outcome[] = [];
    let lastCommit = now();
    let committing: Promise<void> = Promise.resolve();
    const advance = async (final: boolean) => {
      while (head < units.length && ready.has(head)) {
        const u = head++;
        open.push(...ready.get(u)!);
        ready.delete(u);
        const gapEnds = head === units.length || units[head][0] !== units[u][units[u].length - 1] + 1;
        if (open.length >= chunkSize || gapEnds || now() - lastCommit >= flushMs) {
          const range = open;
          open = [];
          lastCommit = now();
          await commit(range);
        }
      }
      if (final && open.length) {
        const range = open;
        open = [];
        await commit(range);
      }
    };
    const unitOf = new Map(units.map((u, k) => [u[0], k]));
    const ex = await executor(opts, env, units.length);
    if (opts.output !== false && env.writeTableParts && records.size === 0) {
      const ch = (live = channel<Table>());
      liveWrite = env.writeTableParts(opts.table, opts.schema, ch);
      // a failed write fails the next commit with its error
      liveWrite.catch((e) => ch.end(e));
    }
    try {
      await schedule(units, ex, env, () => ready.size, 4 * Math.ceil(chunkSize / unitSize), async (outcomes) => {
        for (const o of outcomes) {
          for (const f of o.out?.files ?? []) {
            if (!env.writeFile) throw new StageError(env.stageId, `ctx.map '${opts.table}': item '${ids[o.index]}' returned files but nothing writes them`);
            await env.writeFile(f.rel, f.data);
          }
          addSums(sums, [o.out?.sums]);
          if (o.error) {
            if (env.signal.aborted) throw abortError(env.signal);
            if (env.failOnItemError) throw new StageError(env.stageId, `item '${ids[o.index]}' (index ${o.index}): ${o.error.message} (fail_on_item_error is set)`, { cause: o.error.cause });
          }
          computed++;
          env.progress(++done, n, 'items');
        }
        ready.set(unitOf.get(outcomes[0].index)!, outcomes);
        // one committer at a time, in unit order
        committing = committing.then(() => advance(false));
        await committing;
      });
      committing = committing.then(() => advance(true));
      await committing;
    } catch (e) {
      live?.end(e);
      await liveWrite?.catch(() => {});
      throw e;
    } finally {
      await ex.close();
    }
  }
  const ordered = [...records.entries()].sort(([x], [y]) => x - y);

  // The final table: the chunks streamed into one file, one chunk in memory at a time; MapResult.table reads the file
  // when (and only if) the stage asks for it. An intermediate (output: false) is read from the chunks themselves
  // (kept in the work dir while the stage runs).
  const chunkFiles = ordered.map(([lo]) => join(dir, `${chunkName(lo)}.arrow`));
  let written: string | undefined;
  let whole: Table | undefined;
  if (live) {
    live.end();
    written = await liveWrite!;
  } else if (opts.output !== false) {
    if (env.writeTableParts) {
      // one record batch in memory at a time
      const batches = async function* () {
        for (const f of chunkFiles) yield* readArrowBatches(f);
      };
      written = await env.writeTableParts(opts.table, opts.schema, batches());
    } else {
      whole = concatTables(chunkFiles.map((f) => readArrowFile(f)), opts.schema);
      await env.writeTable(opts.table, whole);
    }
  }
  const errs = ordered.flatMap(([, r]) => r.errors);
  await env.writeTable(`${opts.table}_errors`, tableFromRows(errs, errorsSchema));
  env.stats(opts.table, { items: n, computed, resumed, errors: errs.length }, itemTiming(ordered.map(([, r]) => r)));
  const itemErrors: ItemError[] = errs.map((e) => ({ item: e.item, message: e.message }));
  return {
    get table() {
      return (whole ??= written ? readArrowFile(written) : concatTables(chunkFiles.map((f) => readArrowFile(f)), opts.schema));
    },
    batches: written
      ? () => readArrowBatches(written!)
      : whole
        ? async function* () {
            yield* whole!.batches;
          }
        : async function* () {
            for (const f of chunkFiles) yield* readArrowBatches(f);
          },
    computed,
    resumed,
    errors: itemErrors,
    sums,
    totals: addSums({}, ordered.map(([, r]) => r.sums)),
  };
}
