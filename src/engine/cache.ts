// The artifacts store: content-addressed cache entries (complete = manifest.json present, written last and moved
// in by one directory rename), work directories for in-progress executions, verification of entries.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { listFiles, type HashMemo } from './fingerprint.ts';
import type { Json } from './types.ts';

export const MANIFEST = 'manifest.json';

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

export interface Manifest {
  format: 1;
  kind: string;
  version: string;
  key: string;
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
  timings: { started: string; finished: string; seconds: number };
  versions: Record<string, string>;
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

export class ArtifactStore {
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
  /** Where a running stage writes its outputs (inside its work dir). */
  outDir(kind: string, key: string): string {
    return join(this.workDir(kind, key), 'out');
  }
  get memoFile(): string {
    return join(this.dir, 'memo.json');
  }

  /** The manifest of a complete entry, or undefined. */
  readManifest(kind: string, key: string): Manifest | undefined {
    try {
      return JSON.parse(readFileSync(join(this.entryDir(kind, key), MANIFEST), 'utf8')) as Manifest;
    } catch {
      return undefined;
    }
  }

  /**
   * Checks an entry against its manifest: every file present with its recorded size, and its checksum when the
   * mtime changed since commit (or always with `full`). Returns the problem, or undefined when intact.
   */
  async verify(m: Manifest, opts: { full?: boolean; memo?: HashMemo } = {}): Promise<string | undefined> {
    const dir = this.entryDir(m.kind, m.key);
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
  async commit(m: Omit<Manifest, 'files'>): Promise<Manifest> {
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
    return manifest;
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
  list(): { area: 'cache' | 'work'; kind: string; key: string; dir: string; complete: boolean }[] {
    const out: { area: 'cache' | 'work'; kind: string; key: string; dir: string; complete: boolean }[] = [];
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
