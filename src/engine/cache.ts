// The artifacts store: content-addressed cache entries (complete = manifest.json present, written last and moved
// in by one directory rename), work directories for in-progress executions, verification of entries.
// This module is the only one that knows the entry layout and the manifest file (as wireit's src/caching/cache.ts):
// everything else — the runner, `xai show/status/runs/compare/gc/report`, the report builder and the stages (through
// ctx.inputs) — reads entries as CacheEntry objects from the Cache interface below.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, sep } from 'node:path';
import type { RecordBatch, Table } from 'apache-arrow';
import { listFiles, type HashMemo } from './fingerprint.ts';
import type { Json } from './types.ts';

export const MANIFEST = 'manifest.json';
/** Names under artifacts/ that the store uses: a pipeline may not be named so (its latest view is artifacts/<name>/). */
export const RESERVED_NAMES = ['cache', 'work', 'runs', 'sweeps', 'lock', 'tmp', 'trash', 'memo.json'];

export interface FileRecord {
  /** Relative path inside the entry ('/' separators). */
  path: string;
  size: number;
  sha256: string;
  /** mtime at commit; an unchanged size+mtime skips re-hashing on verification. */
  mtimeMs: number;
}

export interface MapStats {
  items: number;
  computed: number;
  resumed: number;
  errors: number;
}

/** Per-item timing of one ctx.map table (items computed in this entry's executions, resumed ones included). */
export interface ItemTiming {
  n: number;
  total_ms: number;
  mean_ms: number;
  std_ms: number;
  /** Mean ms per item of the phases the stage reported (e.g. LIME's fit), over the items that reported them. */
  phases?: Record<string, number>;
}

/**
 * When and how long an entry took to compute, apart from its results (which are byte-reproducible): wall time, the
 * stages that were computing beside it in the same process (their work shares the CPU and the event loop), whether
 * it was scheduled alone, per-item times of its ctx.map tables, and figures the stage recorded (ctx.timing).
 */
export interface Timings {
  started: string;
  finished: string;
  seconds: number;
  /** Scheduled with nothing else computing (a stage whose time a scoreboard consumes). */
  alone?: boolean;
  /** Stage ids that computed at the same time (absent: none). */
  beside?: string[];
  items?: Record<string, ItemTiming>;
  stage?: Record<string, Json>;
}

export interface Manifest {
  format: 1;
  kind: string;
  version: string;
  key: string;
  /** Code fingerprint of the stage: project files of its import graph → sha256, package → version. */
  code?: { files: Record<string, string>; packages: Record<string, string> };
  /** Stage id and pipeline of the run that produced it (informational; entries are shared by key). */
  stageId: string;
  pipeline: string;
  params: Json;
  /** Input name → upstream key. */
  inputs: Record<string, string>;
  /** Read path → content hash. */
  reads: Record<string, string>;
  files: FileRecord[];
  /** Table name → file and row count. */
  tables: Record<string, { file: string; rows: number }>;
  meta: Record<string, Json>;
  map?: Record<string, MapStats>;
  timings: Timings;
  versions: Record<string, string>;
}

/** A committed cache entry, as every reader sees it. Paths come from here; nobody else joins them. */
export class CacheEntry {
  constructor(
    /** Absolute path of the entry directory (its files live under it). */
    readonly dir: string,
    readonly manifest: Readonly<Manifest>,
  ) {}
  get kind(): string {
    return this.manifest.kind;
  }
  get key(): string {
    return this.manifest.key;
  }
  /** Stage id of the run that produced it (informational: entries are shared by key). */
  get stageId(): string {
    return this.manifest.stageId;
  }
  get params(): Json {
    return this.manifest.params;
  }
  get meta(): Record<string, Json> {
    return this.manifest.meta ?? {};
  }
  /** Input name → upstream key. */
  get inputs(): Record<string, string> {
    return this.manifest.inputs ?? {};
  }
  get timings(): Timings {
    return this.manifest.timings;
  }
  get tables(): string[] {
    return Object.keys(this.manifest.tables ?? {});
  }
  hasTable(name: string): boolean {
    return Object.hasOwn(this.manifest.tables ?? {}, name);
  }
  rows(name: string): number | undefined {
    return this.manifest.tables?.[name]?.rows;
  }
  /** Absolute path of table `name`'s Arrow IPC file; undefined when the entry has no such table. */
  tablePath(name: string): string | undefined {
    const t = this.manifest.tables?.[name];
    return t ? join(this.dir, t.file) : undefined;
  }
  /** Reads table `name` (throws naming the entry's tables when absent). */
  async table(name: string): Promise<Table> {
    const p = this.tablePath(name);
    if (!p) throw new Error(`stage '${this.stageId}' (${this.kind}) has no table '${name}' (tables: ${this.tables.join(', ') || 'none'})`);
    const { readArrowFile } = await import('../arrow/io.ts');
    return readArrowFile(p);
  }
  /** Table `name`'s record batches, read one at a time (throws naming the entry's tables when absent). */
  async *batches(name: string): AsyncGenerator<RecordBatch> {
    const p = this.tablePath(name);
    if (!p) throw new Error(`stage '${this.stageId}' (${this.kind}) has no table '${name}' (tables: ${this.tables.join(', ') || 'none'})`);
    const { readArrowBatches } = await import('../arrow/io.ts');
    yield* readArrowBatches(p);
  }
  /** Absolute path of one of its files (relative name as written); undefined when absent. */
  file(rel: string): string | undefined {
    const r = rel.split(sep).join('/');
    return this.manifest.files.some((f) => f.path === r) ? join(this.dir, r) : undefined;
  }
  /** Relative names of its files that are not tables. */
  files(): string[] {
    const tableFiles = new Set(Object.values(this.manifest.tables ?? {}).map((t) => t.file));
    return this.manifest.files.map((f) => f.path).filter((p) => p !== MANIFEST && !tableFiles.has(p));
  }
  /** Total bytes of its files. */
  get bytes(): number {
    return this.manifest.files.reduce((a, f) => a + f.size, 0);
  }
}

/** What every part of the product reads and writes cache entries through. */
export interface Cache {
  /** The complete entry of (kind, key), or undefined. */
  get(kind: string, key: string): CacheEntry | undefined;
  /** The complete entry with this key, whatever its kind (upstreams are recorded by key). */
  find(key: string): CacheEntry | undefined;
  /** Checks an entry's files against its manifest; the problem, or undefined when intact. */
  verify(e: CacheEntry, opts?: { full?: boolean; memo?: HashMemo }): Promise<string | undefined>;
  /** Commits a finished execution's work dir as the entry of (kind, key). */
  set(m: Omit<Manifest, 'files'>): Promise<CacheEntry>;
  remove(kind: string, key: string): Promise<void>;
  list(): StoreListing[];
}

export interface StoreListing {
  area: 'cache' | 'work';
  kind: string;
  key: string;
  dir: string;
  complete: boolean;
}

let hashBuf: Buffer | undefined;
/**
 * sha256 (hex) of a file, as fingerprint.ts's sha256File, read in 4 MiB chunks into one reused buffer: the stream
 * version's 64 KiB chunks cost about 2.5× the hashing itself on the hundreds of MB of a dissection's maps.
 */
export async function sha256FileFast(path: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    // one buffer per call in flight (calls may interleave across awaits)
    const buf = hashBuf ?? Buffer.allocUnsafe(4 << 20);
    hashBuf = undefined;
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
      }
    } finally {
      hashBuf = buf;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** Directory-safe form of a kind name. */
export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export class ArtifactStore implements Cache {
  readonly dir: string;
  constructor(readonly root: string) {
    this.dir = join(root, 'artifacts');
  }

  entryDir(kind: string, key: string): string {
    return join(this.dir, 'cache', safeName(kind), key);
  }
  workDir(kind: string, key: string): string {
    return join(this.dir, 'work', safeName(kind), key);
  }
  /**
   * The work dir of a forced execution (`--force`): the partial work of an interrupted forced attempt (marked `forced`)
   * is kept, so the same `--force` rerun resumes it; any other partial work is removed. True when it resumes.
   */
  forcedWorkDir(kind: string, key: string): boolean {
    const dir = this.workDir(kind, key);
    const mark = join(dir, 'forced');
    if (existsSync(mark)) return true;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(mark, '');
    return false;
  }
  /** Where a running stage writes its outputs (inside its work dir). */
  outDir(kind: string, key: string): string {
    return join(this.workDir(kind, key), 'out');
  }
  get memoFile(): string {
    return join(this.dir, 'memo.json');
  }

  /** The complete entry of (kind, key), or undefined. */
  get(kind: string, key: string): CacheEntry | undefined {
    const dir = this.entryDir(kind, key);
    try {
      return new CacheEntry(dir, JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest);
    } catch {
      return undefined;
    }
  }

  private kinds?: string[];
  /** The complete entry with this key, whatever its kind. */
  find(key: string): CacheEntry | undefined {
    this.kinds ??= safeList(join(this.dir, 'cache'));
    for (const k of this.kinds) {
      const e = this.get(k, key);
      if (e) return e;
    }
    return undefined;
  }

  /**
   * Checks an entry against its manifest: every file present with its recorded size, and its checksum when the
   * mtime changed since commit (or always with `full`). Returns the problem, or undefined when intact.
   */
  async verify(e: CacheEntry, opts: { full?: boolean; memo?: HashMemo } = {}): Promise<string | undefined> {
    const m = e.manifest;
    const dir = e.dir;
    for (const f of m.files) {
      const p = join(dir, f.path);
      let st;
      try {
        st = statSync(p);
      } catch {
        return `file ${f.path} is missing`;
      }
      if (st.size !== f.size) return `file ${f.path} has size ${st.size}, manifest says ${f.size}`;
      if (!opts.full && st.mtimeMs === f.mtimeMs) continue;
      const known = opts.memo?.known(p, st.size, st.mtimeMs);
      const h = known ?? (await sha256FileFast(p));
      if (h !== f.sha256) return `file ${f.path} checksum mismatch (sha256 ${h.slice(0, 12)}…, manifest says ${f.sha256.slice(0, 12)}…)`;
      opts.memo?.remember(p, st.size, st.mtimeMs, h);
    }
    return undefined;
  }

  /**
   * Commits a finished execution: hashes the files in its out dir, writes manifest.json there, then renames the
   * directory into cache/ (atomic). A previous entry at the same key (corrupted, or forced) is replaced.
   */
  async set(m: Omit<Manifest, 'files'>): Promise<CacheEntry> {
    const out = this.outDir(m.kind, m.key);
    const files: FileRecord[] = [];
    for (const rel of listFiles(out)) {
      if (rel === MANIFEST || rel.endsWith('.tmp')) continue;
      const p = join(out, rel);
      const st = statSync(p);
      files.push({ path: rel, size: st.size, sha256: await sha256FileFast(p), mtimeMs: st.mtimeMs });
    }
    const manifest: Manifest = { ...m, files };
    const tmp = join(out, `${MANIFEST}.tmp`);
    await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
    await rename(tmp, join(out, MANIFEST));
    const dest = this.entryDir(m.kind, m.key);
    mkdirSync(join(dest, '..'), { recursive: true });
    if (existsSync(dest)) await this.discard(dest);
    renameSync(out, dest);
    await rm(this.workDir(m.kind, m.key), { recursive: true, force: true });
    this.kinds = undefined;
    return new CacheEntry(dest, manifest);
  }

  /** Moves a directory out of the way (into artifacts/trash) and deletes it. */
  async discard(dir: string): Promise<void> {
    const trash = join(this.dir, 'trash');
    mkdirSync(trash, { recursive: true });
    const t = join(trash, `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    renameSync(dir, t);
    await rm(t, { recursive: true, force: true });
  }

  /** Removes a cache entry (e.g. corrupted). */
  async remove(kind: string, key: string): Promise<void> {
    const d = this.entryDir(kind, key);
    if (existsSync(d)) await this.discard(d);
  }

  /** All cache entries (complete or not) and work dirs. */
  list(): StoreListing[] {
    const out: StoreListing[] = [];
    for (const area of ['cache', 'work'] as const) {
      const base = join(this.dir, area);
      if (!existsSync(base)) continue;
      for (const kind of readdirSync(base).sort()) {
        const kd = join(base, kind);
        if (!lstatSync(kd).isDirectory()) continue;
        for (const key of readdirSync(kd).sort()) {
          const dir = join(kd, key);
          out.push({ area, kind, key, dir, complete: area === 'cache' && existsSync(join(dir, MANIFEST)) });
        }
      }
    }
    return out;
  }

  /** Removes leftovers of interrupted discards. */
  cleanTrash(): void {
    rmSync(join(this.dir, 'trash'), { recursive: true, force: true });
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** ' (alone)' / ' (beside a, b)': what else computed while an entry did. */
export function timingNote(t: Pick<Timings, 'alone' | 'beside'> | undefined): string {
  if (!t) return '';
  if (t.alone) return ' (alone)';
  return t.beside?.length ? ` (beside ${t.beside.join(', ')})` : '';
}

/** The cache of the project at `root` (its artifacts/ directory). */
export function openCache(root: string): ArtifactStore {
  return new ArtifactStore(root);
}

/** Total size in bytes of the files under a directory. */
export function dirSize(dir: string): number {
  let total = 0;
  try {
    for (const rel of listFiles(dir)) total += statSync(join(dir, rel)).size;
  } catch {
    /* vanished */
  }
  return total;
}
