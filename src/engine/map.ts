// ctx.map: per-item execution in chunks with resume. Chunk k holds items [k·size, (k+1)·size) and is written to
// the stage's work dir as `chunk-<k>.arrow` + `chunk-<k>.json` (item ids + bad items; written last = the record
// that the chunk is finished). A rerun after an interruption skips finished chunks, so only missing items are
// computed; the final table is the chunks concatenated in order, identical to an uninterrupted run's.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Field, Int32, Schema, Utf8, type Table } from 'apache-arrow';
import { concatTables, readArrowFile, tableFromRows, tableToBytes } from '../arrow/io.ts';
import { StageError, errorMessage } from './errors.ts';
import { sha256 } from './fingerprint.ts';
import type { ItemTiming, MapStats } from './cache.ts';
import type { ItemError, ItemTimer, MapOptions, MapResult } from './types.ts';

export interface MapEnv {
  stageId: string;
  /** Directory for this stage execution's chunks (kept across interruptions). */
  dir: string;
  signal: AbortSignal;
  failOnItemError: boolean;
  progress(done: number, total: number, unit?: string): void;
  /** Writes a finished table through the stage's output writer. */
  writeTable(name: string, table: Table): Promise<void>;
  /** Records per-table stats and item timings for the manifest. */
  stats(name: string, s: MapStats, timing?: ItemTiming): void;
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
  const chunkSize = Math.max(1, opts.chunkSize ?? 16, opts.batchFn ? batchSize : 1);
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

  const now = () => performance.now();
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

  for (let k = 0; k < nChunks; k++) {
    if (records[k]) continue;
    const lo = k * chunkSize;
    const hi = Math.min(n, lo + chunkSize);
    const perItem: (Record<string, unknown>[] | undefined)[] = new Array(hi - lo);
    const times: { ms: number; phases?: Record<string, number>; fixed?: number }[] = Array.from({ length: hi - lo }, () => ({ ms: 0 }));
    const errors: ChunkRecord['errors'] = [];
    const fail = (i: number, e: unknown) => {
      if (env.signal.aborted) throw abortError(env.signal);
      const message = errorMessage(e);
      if (env.failOnItemError) throw new StageError(env.stageId, `item '${ids[i]}' (index ${i}): ${message} (fail_on_item_error is set)`, { cause: e });
      errors.push({ item: ids[i], index: i, message });
    };
    const timer = (i: number): ItemTimer => {
      const t = times[i - lo];
      return {
        phase(name, ms) {
          (t.phases ??= {})[name] = (t.phases[name] ?? 0) + ms;
        },
        set(ms) {
          t.fixed = ms;
        },
      };
    };
    const runOne = async (i: number) => {
      const t0 = now();
      try {
        const rows = await opts.fn(opts.items[i], i, timer(i));
        if (!Array.isArray(rows)) throw new Error(`fn must return an array of rows, got ${typeof rows}`);
        perItem[i - lo] = rows;
      } catch (e) {
        fail(i, e);
      }
      const t = times[i - lo];
      t.ms = t.fixed ?? now() - t0;
      delete t.fixed;
      computed++;
      env.progress(++done, n, 'items');
    };
    for (let b = lo; b < hi; b += opts.batchFn ? batchSize : 1) {
      if (env.signal.aborted) throw abortError(env.signal);
      if (!opts.batchFn) {
        await runOne(b);
        continue;
      }
      const idx = Array.from({ length: Math.min(batchSize, hi - b) }, (_, j) => b + j);
      let out: Record<string, unknown>[][] | undefined;
      const t0 = now();
      try {
        out = await opts.batchFn(idx.map((i) => opts.items[i]), idx);
        if (!Array.isArray(out) || out.length !== idx.length) throw new Error(`batchFn returned ${Array.isArray(out) ? out.length : typeof out} results for ${idx.length} items`);
      } catch (e) {
        if (env.signal.aborted) throw abortError(env.signal);
        // Isolate the bad item(s): redo this batch one item at a time through fn.
        out = undefined;
      }
      if (out) {
        const per = (now() - t0) / idx.length;
        idx.forEach((i, j) => {
          perItem[i - lo] = out![j];
          times[i - lo].ms = per;
        });
        computed += idx.length;
        done += idx.length;
        env.progress(done, n, 'items');
      } else for (const i of idx) await runOne(i);
    }
    if (opts.flush) await opts.flush();
    const rows = perItem.flatMap((r) => r ?? []);
    let table: Table;
    try {
      table = tableFromRows(rows, opts.schema);
    } catch (e) {
      // Find the item whose rows do not fit the schema, to name it.
      for (let i = lo; i < hi; i++) {
        try {
          tableFromRows(perItem[i - lo] ?? [], opts.schema);
        } catch (e2) {
          throw new StageError(env.stageId, `ctx.map '${opts.table}': rows of item '${ids[i]}' do not fit the schema: ${errorMessage(e2)}`);
        }
      }
      throw new StageError(env.stageId, `ctx.map '${opts.table}': ${errorMessage(e)}`);
    }
    await writeAtomic(join(dir, `${chunkName(k)}.arrow`), tableToBytes(table));
    const rec: ChunkRecord = { ids: ids.slice(lo, hi), errors, times };
    await writeAtomic(join(dir, `${chunkName(k)}.json`), JSON.stringify(rec));
    records[k] = rec;
  }

  const tables = records.map((_, k) => readArrowFile(join(dir, `${chunkName(k)}.arrow`)));
  const table = concatTables(tables, opts.schema);
  const errs = records.flatMap((r) => r.errors);
  await env.writeTable(opts.table, table);
  await env.writeTable(`${opts.table}_errors`, tableFromRows(errs, errorsSchema));
  env.stats(opts.table, { items: n, computed, resumed, errors: errs.length }, itemTiming(records));
  const itemErrors: ItemError[] = errs.map((e) => ({ item: e.item, message: e.message }));
  return { table, computed, resumed, errors: itemErrors };
}
