// Where a report's data comes from: committed cache entries, read through the engine's Cache interface (the report
// never joins cache paths itself). A report is built from a set of entries — the stages of a run record
// (`xai report`) or the inputs of the `report` stage — closed over their upstreams (found by key through each entry's
// recorded inputs), so e.g. the dataset behind a `cam` stage is reachable even when only the `cam` stage is given.
import type { RecordBatch, Table } from 'apache-arrow';
import type { Cache, CacheEntry, Manifest } from '../engine/cache.ts';
import { boardOf } from '../engine/sweep.ts';
import type { Json } from '../engine/types.ts';
import { readArrowFile } from '../arrow/io.ts';

/** One committed stage execution, as the report reads it. */
export interface Entry {
  /** Stage id (the id in the run, else the entry's informational stageId). */
  stageId: string;
  kind: string;
  key: string;
  manifest: Readonly<Manifest>;
  meta: Record<string, Json>;
  /** Upstream entries by input name (those found in the store). */
  inputs: Record<string, Entry>;
  hasTable(name: string): boolean;
  table(name: string): Table;
  /** Table `name`'s record batches, read one at a time (for tables that grow with the image count). */
  batches(name: string): AsyncIterable<RecordBatch>;
  /** Absolute path of one of its files; undefined when absent. */
  file(rel: string): string | undefined;
  files(): string[];
  /** A scoreboard's board with its avg_time (the timed LIME entry's seconds per image); undefined for other kinds. */
  board(): Record<string, Json> | undefined;
}

/** Resolves entries by key through the cache, each once. */
export class EntryStore {
  private readonly byKey = new Map<string, Entry>();
  constructor(readonly cache: Cache) {}

  /** The entry of (kind, key) — any kind when kind is undefined —, or undefined when it is not committed. */
  get(kind: string | undefined, key: string, stageId?: string): Entry | undefined {
    const hit = this.byKey.get(key);
    if (hit) return stageId && hit.stageId !== stageId ? { ...hit, stageId } : hit;
    const e = kind ? this.cache.get(kind, key) : this.cache.find(key);
    return e ? this.wrap(e, stageId) : undefined;
  }

  private wrap(c: CacheEntry, stageId?: string): Entry {
    const e: Entry = {
      stageId: stageId ?? c.stageId,
      kind: c.kind,
      key: c.key,
      manifest: c.manifest,
      meta: c.meta,
      inputs: {},
      hasTable: (name) => c.hasTable(name),
      table: (name) => {
        const p = c.tablePath(name);
        if (!p) throw new Error(`stage '${e.stageId}' (${c.kind}) has no table '${name}'`);
        return readArrowFile(p);
      },
      batches: (name) => c.batches(name),
      file: (rel) => c.file(rel),
      files: () => c.files(),
      board: () => boardOf(this.cache, c),
    };
    this.byKey.set(e.key, e);
    for (const [name, k] of Object.entries(c.inputs)) {
      const up = this.byKey.get(k) ?? this.get(undefined, k);
      if (up) e.inputs[name] = up;
    }
    return e;
  }
}

/** The given entries and every upstream reachable from them, each once, upstreams first. */
export function closure(entries: readonly Entry[]): Entry[] {
  const seen = new Map<string, Entry>();
  const visit = (e: Entry) => {
    if (seen.has(e.key)) return;
    for (const up of Object.values(e.inputs)) visit(up);
    seen.set(e.key, e);
  };
  for (const e of entries) visit(e);
  // an entry given explicitly keeps its own stage id (upstreams found by key carry the manifest's)
  for (const e of entries) seen.set(e.key, e);
  return [...seen.values()];
}

/** Column values of a table as a plain JS array (null for missing values). */
export function column<T = unknown>(t: Table | RecordBatch, name: string): T[] | undefined {
  const c = t.getChild(name);
  if (!c) return undefined;
  const out: T[] = new Array(t.numRows);
  for (let i = 0; i < t.numRows; i++) out[i] = c.get(i) as T;
  return out;
}

/** Rows of a table as plain objects, only scalar columns (lists/structs summarised), `limit` rows at most. */
export function scalarRows(t: Table, limit = Infinity): Record<string, unknown>[] {
  const names = t.schema.fields.map((f) => f.name);
  const n = Math.min(t.numRows, limit);
  const cols = names.map((nm) => t.getChild(nm)!);
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const r: Record<string, unknown> = {};
    names.forEach((nm, j) => {
      const v = cols[j].get(i);
      r[nm] = scalar(v);
    });
    rows.push(r);
  }
  return rows;
}

function scalar(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Date) return v.toISOString();
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    const len = (v as ArrayLike<unknown>).length;
    return `[${len} values]`;
  }
  const maybe = v as { toArray?: () => ArrayLike<unknown>; toJSON?: () => unknown };
  if (typeof maybe.toArray === 'function') {
    const a = maybe.toArray();
    if (a.length <= 8) return `[${Array.from(a, (x) => (typeof x === 'number' ? Math.round(x * 1000) / 1000 : String(x))).join(', ')}]`;
    return `[${a.length} values]`;
  }
  if (typeof maybe.toJSON === 'function') return JSON.stringify(maybe.toJSON());
  return String(v);
}
