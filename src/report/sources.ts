// Where a report's data comes from: committed cache entries (artifacts/cache/<kind>/<key>/, manifest.json + Arrow
// tables + files). A report is built from a set of entries — the stages of a run record (`xai report`) or the inputs
// of the `report` stage — closed over their upstreams (found by key through each manifest's `inputs`), so e.g. the
// dataset behind a `cam` stage is reachable even when only the `cam` stage is given.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import type { Manifest } from '../engine/cache.ts';
import type { Json } from '../engine/types.ts';
import { readArrowFile } from '../arrow/io.ts';

/** One committed stage execution, as the report reads it. */
export interface Entry {
  /** Stage id (the id in the run, else the manifest's informational stageId). */
  stageId: string;
  kind: string;
  key: string;
  dir: string;
  manifest: Manifest;
  meta: Record<string, Json>;
  /** Upstream entries by input name (those found in the store). */
  inputs: Record<string, Entry>;
  hasTable(name: string): boolean;
  table(name: string): Table;
  /** Absolute path of one of its files; undefined when absent. */
  file(rel: string): string | undefined;
  files(): string[];
}

/** Reads manifests from an artifacts directory and resolves entries by key. */
export class EntryStore {
  private readonly byKey = new Map<string, Entry>();
  private kinds?: string[];
  constructor(readonly artifactsDir: string) {}

  private cacheDir(): string {
    return join(this.artifactsDir, 'cache');
  }

  /** The entry of (kind, key), or undefined when it is not committed. */
  get(kind: string | undefined, key: string, stageId?: string): Entry | undefined {
    const hit = this.byKey.get(key);
    if (hit) {
      if (stageId && hit.stageId !== stageId) return { ...hit, stageId };
      return hit;
    }
    let dir: string | undefined;
    if (kind) {
      const d = join(this.cacheDir(), kind.replace(/[^A-Za-z0-9_.-]/g, '_'), key);
      if (existsSync(join(d, 'manifest.json'))) dir = d;
    }
    if (!dir) {
      this.kinds ??= safeList(this.cacheDir());
      for (const k of this.kinds) {
        const d = join(this.cacheDir(), k, key);
        if (existsSync(join(d, 'manifest.json'))) {
          dir = d;
          break;
        }
      }
    }
    if (!dir) return undefined;
    return this.fromDir(dir, stageId);
  }

  /** An entry from its directory (with manifest.json). */
  fromDir(dir: string, stageId?: string): Entry {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const tableFiles = new Set(Object.values(manifest.tables ?? {}).map((t) => t.file));
    const e: Entry = {
      stageId: stageId ?? manifest.stageId,
      kind: manifest.kind,
      key: manifest.key,
      dir,
      manifest,
      meta: manifest.meta ?? {},
      inputs: {},
      hasTable: (name) => Boolean(manifest.tables?.[name]),
      table: (name) => {
        const t = manifest.tables?.[name];
        if (!t) throw new Error(`stage '${e.stageId}' (${manifest.kind}) has no table '${name}'`);
        return readArrowFile(join(dir, t.file));
      },
      file: (rel) => (manifest.files.some((f) => f.path === rel) ? join(dir, rel) : undefined),
      files: () => manifest.files.map((f) => f.path).filter((p) => p !== 'manifest.json' && !tableFiles.has(p)),
    };
    this.byKey.set(e.key, e);
    for (const [name, k] of Object.entries(manifest.inputs ?? {})) {
      const up = this.byKey.get(k) ?? this.get(undefined, k);
      if (up) e.inputs[name] = up;
    }
    return e;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
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
export function column<T = unknown>(t: Table, name: string): T[] | undefined {
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
