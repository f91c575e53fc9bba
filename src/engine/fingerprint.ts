// Cache keys: canonical JSON + sha256, and content hashes of the files a stage reads, memoised by
// path + size + mtime in artifacts/memo.json so big inputs are hashed once.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync, statSync, type Stats } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** Bump when the engine changes how entries are laid out or keyed: invalidates every cache entry. */
export const ENGINE_CACHE_VERSION = '2';
/** Hex characters of sha256 kept in keys (80 bits). */
export const KEY_LENGTH = 20;

/** JSON with object keys sorted at every level (arrays keep their order); `undefined` members dropped. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const keys = Object.keys(v as object)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((res, rej) => {
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => res())
      .on('error', rej);
  });
  return h.digest('hex');
}

interface MemoEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** sha256 of files memoised by absolute path + size + mtime. */
let saves = 0;

export class HashMemo {
  private entries: Record<string, MemoEntry> = {};
  private dirty = false;
  constructor(readonly file: string) {
    try {
      this.entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, MemoEntry>;
    } catch {
      this.entries = {};
    }
  }

  /** Content hash of one file (re-hashed only if size or mtime changed). */
  async hashFile(abs: string, st?: Stats): Promise<string> {
    const s = st ?? statSync(abs);
    const e = this.entries[abs];
    if (e && e.size === s.size && e.mtimeMs === s.mtimeMs) return e.sha256;
    const h = await sha256File(abs);
    this.entries[abs] = { size: s.size, mtimeMs: s.mtimeMs, sha256: h };
    this.dirty = true;
    return h;
  }

  /** Remembers a hash computed elsewhere (e.g. while committing an entry). */
  remember(abs: string, size: number, mtimeMs: number, hash: string): void {
    this.entries[abs] = { size, mtimeMs, sha256: hash };
    this.dirty = true;
  }

  /** Known hash if size and mtime still match, else undefined. */
  known(abs: string, size: number, mtimeMs: number): string | undefined {
    const e = this.entries[abs];
    return e && e.size === size && e.mtimeMs === mtimeMs ? e.sha256 : undefined;
  }

  /** Drops entries whose files are gone or under `prefix`. */
  prune(keep: (abs: string) => boolean): void {
    for (const k of Object.keys(this.entries)) {
      if (!keep(k)) {
        delete this.entries[k];
        this.dirty = true;
      }
    }
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    const tmp = `${this.file}.${process.pid}.${++saves}.tmp`; // unique: runs at once in one process (a sweep's session) save too
    await writeFile(tmp, JSON.stringify(this.entries));
    await rename(tmp, this.file);
    this.dirty = false;
  }
}

/** Files under a directory, recursively, sorted, as paths relative to it (with '/' separators). Symlinks followed. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile()) out.push(p);
      else if (ent.isSymbolicLink()) {
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) out.push(p);
      }
    }
  };
  walk(dir);
  return out.map((p) => relative(dir, p).split(sep).join('/')).sort();
}

/**
 * Content hash of a file or a directory (directory: sha256 over the sorted list of `relpath size filehash`).
 * A missing path hashes to 'missing' (so creating it later changes the key).
 */
export async function hashPath(abs: string, memo: HashMemo): Promise<string> {
  let st: Stats;
  try {
    st = statSync(abs);
  } catch {
    return 'missing';
  }
  if (st.isFile()) return memo.hashFile(abs, st);
  if (!st.isDirectory()) return 'unsupported';
  const h = createHash('sha256');
  for (const rel of listFiles(abs)) {
    const p = join(abs, rel);
    const s = statSync(p);
    h.update(`${rel}\0${s.size}\0${await memo.hashFile(p, s)}\n`);
  }
  return `dir:${h.digest('hex')}`;
}

export interface KeyInput {
  kind: string;
  version: string;
  /** Code fingerprint of the stage's import graph (codegraph.ts). */
  code: string;
  params: unknown;
  /** Input name → upstream key. */
  upstream: Record<string, string>;
  /** Path (as declared) → content hash. */
  reads: Record<string, string>;
}

/** The cache key of one stage execution. */
export function stageKey(k: KeyInput): string {
  return sha256(canonicalJson({ engine: ENGINE_CACHE_VERSION, ...k })).slice(0, KEY_LENGTH);
}
