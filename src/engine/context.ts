// Builds what a stage's run(ctx) receives: upstream outputs (read from their manifests), the output writer into
// the work dir, the logger, progress and ctx.map.
import { mkdirSync, rmSync } from 'node:fs';
import { open, rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import type { Table } from 'apache-arrow';
import { StageError } from './errors.ts';
import { MANIFEST, type ArtifactStore, type Manifest, type MapStats } from './cache.ts';
import type { EventBus } from './events.ts';
import type { Json, Logger, MapOptions, OutputWriter, StageContext, UpstreamMeta, UpstreamOutputs } from './types.ts';

export function upstreamMeta(stageId: string, m: Manifest): UpstreamMeta {
  return { stageId, kind: m.kind, key: m.key, meta: m.meta };
}

/** A finished upstream stage's outputs, read from its cache entry. */
export function upstreamOutputs(stageId: string, m: Manifest, store: ArtifactStore): UpstreamOutputs {
  const dir = store.entryDir(m.kind, m.key);
  const tableFiles = new Set(Object.values(m.tables).map((t) => t.file));
  return {
    ...upstreamMeta(stageId, m),
    dir,
    tables: Object.keys(m.tables),
    async table(name: string): Promise<Table> {
      const t = m.tables[name];
      if (!t) throw new Error(`stage '${stageId}' has no table '${name}' (tables: ${Object.keys(m.tables).join(', ') || 'none'})`);
      const { readArrowFile } = await import('../arrow/io.ts');
      return readArrowFile(join(dir, t.file));
    },
    file(name: string): string {
      const rel = name.split(sep).join('/');
      if (!m.files.some((f) => f.path === rel)) throw new Error(`stage '${stageId}' has no file '${name}'`);
      return join(dir, rel);
    },
    files(): string[] {
      return m.files.map((f) => f.path).filter((p) => p !== MANIFEST && !tableFiles.has(p));
    },
  };
}

/** Checks a relative output path stays inside the output dir. */
function safeRel(stageId: string, rel: string): string {
  const n = normalize(rel);
  if (!rel || isAbsolute(rel) || n.startsWith('..') || n === '.' || n === MANIFEST) {
    throw new StageError(stageId, `invalid output path '${rel}' (must be relative, inside the stage's output, not '${MANIFEST}')`);
  }
  return n;
}

async function writeAtomic(path: string, data: Uint8Array | string | readonly Uint8Array[]): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  if (typeof data === 'string' || data instanceof Uint8Array) await writeFile(tmp, data);
  else {
    // chunks written in order without concatenating them first
    const fh = await open(tmp, 'w');
    try {
      for (let i = 0; i < data.length; i += 512) {
        const group = data.slice(i, i + 512);
        let { bytesWritten: done } = await fh.writev(group as Uint8Array[]);
        // a short write (rare for regular files): the rest chunk by chunk
        for (const c of group) {
          if (done >= c.byteLength) {
            done -= c.byteLength;
            continue;
          }
          let off = done;
          done = 0;
          while (off < c.byteLength) off += (await fh.write(c, off, c.byteLength - off)).bytesWritten;
        }
      }
    } finally {
      await fh.close();
    }
  }
  await rename(tmp, path);
}

export interface Collected {
  tables: Record<string, { file: string; rows: number }>;
  meta: Record<string, Json>;
  map: Record<string, MapStats>;
}

export interface ContextInit {
  stageId: string;
  kind: string;
  key: string;
  params: unknown;
  inputs: Record<string, UpstreamOutputs>;
  outDir: string;
  mapDir: string;
  root: string;
  signal: AbortSignal;
  bus: EventBus;
  failOnItemError: boolean;
}

export function makeContext(init: ContextInit): { ctx: StageContext; collected: Collected } {
  const { stageId, outDir, bus } = init;
  mkdirSync(outDir, { recursive: true });
  rmSync(join(outDir, MANIFEST), { force: true });
  const collected: Collected = { tables: {}, meta: {}, map: {} };
  const writeTable = async (name: string, table: Table) => {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) throw new StageError(stageId, `invalid table name '${name}'`);
    const { tableToBytes } = await import('../arrow/io.ts');
    const file = `${name}.arrow`;
    await writeAtomic(join(outDir, file), tableToBytes(table));
    collected.tables[name] = { file, rows: table.numRows };
  };
  const out: OutputWriter = {
    table: writeTable,
    async file(relPath, data) {
      await writeAtomic(join(outDir, safeRel(stageId, relPath)), data);
    },
    path(relPath) {
      const p = join(outDir, safeRel(stageId, relPath));
      mkdirSync(dirname(p), { recursive: true });
      return p;
    },
    meta(key, value) {
      let v: Json;
      try {
        v = JSON.parse(JSON.stringify(value)) as Json;
      } catch (e) {
        throw new StageError(stageId, `meta '${key}' is not JSON-serialisable: ${(e as Error).message}`);
      }
      collected.meta[key] = v;
    },
  };
  const log: Logger = {
    info: (message) => bus.emit({ type: 'stage-log', stageId, level: 'info', message }),
    warn: (message) => bus.emit({ type: 'stage-log', stageId, level: 'warn', message }),
    debug: (message) => bus.emit({ type: 'stage-log', stageId, level: 'debug', message }),
  };
  const progress = (done: number, total: number, unit?: string) => bus.emit({ type: 'stage-progress', stageId, done, total, unit });
  const ctx: StageContext = {
    stageId,
    kind: init.kind,
    key: init.key,
    params: init.params,
    inputs: init.inputs,
    out,
    log,
    signal: init.signal,
    projectRoot: init.root,
    resolve: (p: string) => (isAbsolute(p) ? p : resolve(init.root, p)),
    progress,
    async map<I>(opts: MapOptions<I>) {
      const { runMap } = await import('./map.ts');
      return runMap(opts, {
        stageId,
        dir: init.mapDir,
        signal: init.signal,
        failOnItemError: init.failOnItemError,
        progress,
        writeTable,
        stats: (name, s) => (collected.map[name] = s),
      });
    },
  };
  return { ctx, collected };
}
