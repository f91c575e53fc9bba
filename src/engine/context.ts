// Builds what a stage's run(ctx) receives: upstream outputs (read from their manifests), the output writer into
// the work dir, the logger, progress and ctx.map.
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import type { RecordBatch, Schema, Table } from 'apache-arrow';
import { StageError } from './errors.ts';
import { writeAtomic, writeChunks } from './atomic.ts';
import { MANIFEST, type CacheEntry, type ItemTiming, type MapStats } from './cache.ts';
import type { EventBus } from './events.ts';
import type { Json, Logger, MapOptions, OutputWriter, StageContext, UpstreamMeta, UpstreamOutputs } from './types.ts';

export function upstreamMeta(stageId: string, e: CacheEntry): UpstreamMeta {
  return { stageId, kind: e.kind, key: e.key, params: e.params, meta: e.meta };
}

/** A finished upstream stage's outputs, read through its cache entry. */
export function upstreamOutputs(stageId: string, e: CacheEntry): UpstreamOutputs {
  return {
    ...upstreamMeta(stageId, e),
    dir: e.dir,
    tables: e.tables,
    table: (name: string) => e.table(name),
    batches: (name: string) => e.batches(name),
    file(name: string): string {
      const p = e.file(name);
      if (!p) throw new Error(`stage '${stageId}' has no file '${name}'`);
      return p;
    },
    files: () => e.files(),
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


export interface Collected {
  tables: Record<string, { file: string; rows: number }>;
  meta: Record<string, Json>;
  map: Record<string, MapStats>;
  /** Per-item timings of ctx.map tables and figures recorded with ctx.timing (go to the manifest's timings). */
  itemTimings: Record<string, ItemTiming>;
  stageTimings: Record<string, Json>;
}

export interface ContextInit {
  stageId: string;
  kind: string;
  key: string;
  params: unknown;
  inputs: Record<string, UpstreamOutputs>;
  outDir: string;
  /** Where the out dir will be once committed (for ctx.out.committedPath). */
  entryDir: string;
  mapDir: string;
  root: string;
  signal: AbortSignal;
  bus: EventBus;
  failOnItemError: boolean;
  /** Worker threads of ctx.map's item modules (`xai run --workers`; default 1: the stage's own thread). */
  workers?: number;
  /** redis://host:port of the distributed executor (`xai run --queue`), if any. */
  queue?: string;
  /** For the tables' schema metadata (src/arrow/conventions.ts). */
  pipeline: string;
  version: string;
  /** Column descriptions per table, from the stage's `outputs`. */
  columns?: Record<string, Record<string, string>>;
}

export function makeContext(init: ContextInit): { ctx: StageContext; collected: Collected } {
  const { stageId, outDir, bus } = init;
  mkdirSync(outDir, { recursive: true });
  rmSync(join(outDir, MANIFEST), { force: true });
  const collected: Collected = { tables: {}, meta: {}, map: {}, itemTimings: {}, stageTimings: {} };
  const tableMeta = (name: string) => ({ stage: stageId, kind: init.kind, key: init.key, pipeline: init.pipeline, version: init.version, table: name, params: init.params, columns: init.columns?.[name] });
  const checkName = (name: string) => {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) throw new StageError(stageId, `invalid table name '${name}'`);
  };
  const writeTable = async (name: string, table: Table) => {
    checkName(name);
    const { tableToBytes } = await import('../arrow/io.ts');
    const { conform } = await import('../arrow/conventions.ts');
    const file = `${name}.arrow`;
    await writeAtomic(join(outDir, file), tableToBytes(conform(table, tableMeta(name))));
    collected.tables[name] = { file, rows: table.numRows };
  };
  /**
   * Writes a table from parts (tables of `schema`, read one at a time: the whole is never in memory) as one IPC file,
   * the bytes of writeTable of the parts concatenated; returns its path.
   */
  const writeTableParts = async (name: string, schema: Schema, parts: Iterable<Table | RecordBatch> | AsyncIterable<Table | RecordBatch>): Promise<string> => {
    checkName(name);
    const { conformSchema } = await import('../arrow/conventions.ts');
    const { AsyncByteQueue, RecordBatch, RecordBatchFileWriter, Table } = await import('apache-arrow');
    const { tableToBytes } = await import('../arrow/io.ts');
    const s = conformSchema(schema, tableMeta(name));
    const file = `${name}.arrow`;
    let rows = 0;
    const pending: Uint8Array[] = [];
    // the writer's output collected here and written after each part (the writer itself never blocks)
    class Sink extends AsyncByteQueue {
      override write(v: ArrayBufferView | ArrayBuffer): void {
        const u = v instanceof Uint8Array ? v : ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v);
        if (u.byteLength) pending.push(u);
      }
    }
    await writeAtomic(join(outDir, file), async (fh) => {
      const writer = new RecordBatchFileWriter();
      writer.reset(new Sink()); // the schema goes out with the first batch
      let started = false;
      for await (const part of parts) {
        for (const b of part instanceof RecordBatch ? [part] : part.batches) {
          if (b.numRows === 0) continue;
          writer.write(new RecordBatch(s, b.data));
          started = true;
          rows += b.numRows;
        }
        await writeChunks(fh, pending.splice(0));
      }
      if (started) writer.finish();
      else pending.push(tableToBytes(new Table(s))); // no rows: as writeTable writes an empty table
      await writeChunks(fh, pending.splice(0));
    });
    collected.tables[name] = { file, rows };
    return join(outDir, file);
  };
  const out: OutputWriter = {
    table: writeTable,
    async tableParts(name, schema, parts) {
      await writeTableParts(name, schema, parts);
    },
    async file(relPath, data) {
      await writeAtomic(join(outDir, safeRel(stageId, relPath)), data);
    },
    path(relPath) {
      const p = join(outDir, safeRel(stageId, relPath));
      mkdirSync(dirname(p), { recursive: true });
      return p;
    },
    committedPath(relPath) {
      return join(init.entryDir, safeRel(stageId, relPath));
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
    timing(name, value) {
      collected.stageTimings[name] = JSON.parse(JSON.stringify(value)) as Json;
    },
    async map<I>(opts: MapOptions<I>) {
      const { runMap } = await import('./map.ts');
      return runMap(opts, {
        stageId,
        dir: init.mapDir,
        signal: init.signal,
        failOnItemError: init.failOnItemError,
        progress,
        writeTable,
        writeTableParts,
        writeFile: (rel, data) => out.file(rel, data),
        workers: init.workers,
        queue: init.queue,
        projectRoot: init.root,
        ...(process.env.XAI_FLUSH_MS ? { flushMs: Number(process.env.XAI_FLUSH_MS) } : {}),
        stats: (name, s, t) => {
          collected.map[name] = s;
          if (t) collected.itemTimings[name] = t;
        },
      });
    },
  };
  return { ctx, collected };
}
