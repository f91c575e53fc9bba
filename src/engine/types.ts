// The stage API: what a stage kind in `stages/` declares and what its `run(ctx)` receives.
// This file is the contract between the engine (src/engine) and the stages; keep it small and stable.
import type { RecordBatch, Schema, Table } from 'apache-arrow';
import type { ItemFunction } from './executor.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON schema (draft-07, as ajv takes it) for a stage's params. Defaults in it are applied before `run`. */
export type JsonSchema = Record<string, unknown>;

/** One stage kind: a module in `stages/<kind>.ts` whose default export is a StageDef. */
export interface StageDef<P = any> {
  /** The name used in `uses:` (equals the file name in stages/). */
  kind: string;
  /** Bump when the code changes what the stage outputs: it is part of the cache key. */
  version: string;
  description: string;
  /** JSON schema of `params` (with defaults). Validated before anything runs. */
  params: JsonSchema;
  /**
   * Top-level params that do not change what the stage outputs (e.g. a thread count): left out of the cache key, so
   * changing them reuses the cached entry (they are still recorded in the manifest and run record).
   */
  keyExclude?: readonly string[];
  /**
   * Named upstream inputs this stage takes (pipeline: `inputs: { <name>: <stage id> }`). `timed`: this stage consumes
   * the upstream's compute time (a scoreboard), so the upstream computes with nothing else beside it.
   */
  inputs?: Record<string, { description: string; optional?: boolean; kinds?: string[]; timed?: boolean }>;
  /**
   * Tables and files the stage writes, for docs and `xai show`. `columns`: descriptions of a table's columns (with
   * units), written into its schema (field metadata xai.description); common column names are described centrally
   * (src/arrow/conventions.ts).
   */
  outputs?: Record<string, { description: string; type: 'table' | 'file' | 'files'; columns?: Record<string, string> }>;
  /**
   * Files or directories the stage reads besides its upstream outputs (a model file, a dataset folder), as paths
   * relative to the project root or absolute. Their content is part of the cache key (hashes memoised by
   * path + size + mtime). May read upstream metas (e.g. a dataset root that an upstream stage recorded).
   */
  reads?(params: P, inputs: Record<string, UpstreamMeta>): string[];
  /** Extra semantic checks after schema validation (e.g. a model config that must exist); throw ConfigError. */
  check?(params: P, ctx: CheckContext): void | Promise<void>;
  /**
   * Checks the params of each stage that takes this stage's output as an input, against what this stage will provide
   * (a model's layer names and labels), before anything runs (`xai validate`, and `xai run` before any stage starts).
   * Return or throw ConfigErrors whose `path` is the consumer's key (`stages.<consumer>.params.<key>`): the analyzer
   * locates them (file:line:col).
   */
  checkConsumer?(params: P, consumer: ConsumerInfo, ctx: CheckContext): ConfigErrorLike[] | void | Promise<ConfigErrorLike[] | void>;
  run(ctx: StageContext<P>): Promise<void>;
}

export interface CheckContext {
  projectRoot: string;
  stageId: string;
  /** Location of the stage in its pipeline file, for error messages. */
  where: string;
}

/** A downstream stage, as `checkConsumer` sees it. */
export interface ConsumerInfo {
  stageId: string;
  kind: string;
  /** The input name under which it takes this stage. */
  input: string;
  /** Its params, validated, defaults applied. */
  params: Record<string, unknown>;
}

/** A ConfigError (src/engine/errors.ts), structurally (this file imports no engine module). */
export type ConfigErrorLike = Error & { exitCode: 2; detail: string; path?: string };

/** What a downstream stage sees of a finished upstream stage before it runs (for `reads`). */
export interface UpstreamMeta {
  stageId: string;
  kind: string;
  key: string;
  /** The params it ran with (defaults applied). */
  params: Json;
  meta: Record<string, Json>;
}

/** A finished upstream stage's outputs. */
export interface UpstreamOutputs extends UpstreamMeta {
  /** Absolute path of the cache entry directory. */
  dir: string;
  /** Names of the tables it wrote. */
  tables: string[];
  /** Reads one of its Arrow tables. */
  table(name: string): Promise<Table>;
  /** One of its Arrow tables, one record batch at a time (bounded memory: the file is never loaded whole). */
  batches(name: string): AsyncIterable<RecordBatch>;
  /** Absolute path of one of its files (relative name as written). Throws if absent. */
  file(name: string): string;
  /** Relative names of all its files (not tables). */
  files(): string[];
}

export interface OutputWriter {
  /** Writes a whole Arrow table `name` (stored as `<name>.arrow`). */
  table(name: string, table: Table): Promise<void>;
  /**
   * Writes table `name` from parts produced one at a time (tables or record batches of `schema`): one IPC file, the
   * whole never in memory — for outputs that grow with the item count.
   */
  tableParts(name: string, schema: Schema, parts: Iterable<Table | RecordBatch> | AsyncIterable<Table | RecordBatch>): Promise<void>;
  /**
   * Writes a file (PNG, SVG, JSON, …) at a relative path inside the stage's output directory; `data` may be a list of
   * chunks, written in order (no concatenated copy).
   */
  file(relPath: string, data: Uint8Array | string | readonly Uint8Array[]): Promise<void>;
  /** Absolute path where a stage may write large files directly (e.g. a generated dataset); committed with the rest. */
  path(relPath: string): string;
  /** The absolute path a file written at `relPath` will have once the entry is committed (for messages). */
  committedPath(relPath: string): string;
  /** Small JSON metadata for downstream stages (recorded in the manifest). */
  meta(key: string, value: Json): void;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface ItemError {
  item: string;
  message: string;
}

export interface MapOptions<I> {
  /** Output table name; the table holds the rows of all items, in item order. */
  table: string;
  items: readonly I[];
  /** Stable id per item (image id); used to record finished items for resume. */
  id(item: I, index: number): string;
  /** Arrow schema of the rows. */
  schema: Schema;
  /**
   * false: the table is the stage's intermediate, read through the MapResult (batches(), table) while the stage runs,
   * and not written as an output (its bad items still are, as `<table>_errors`). Default true.
   */
  output?: boolean;
  /**
   * Items per chunk written to disk at most (resume granularity). Default 16. A chunk is also written once `flushMs`
   * of work went by since the last one (default 2000), so a kill loses about that much work.
   */
  chunkSize?: number;
  flushMs?: number;
  /**
   * The item function as an item module (src/engine/executor.ts), instead of `fn`/`batchFn`: the executor runs it in
   * this thread or on the worker pool (`xai run --workers N`), its rows, files and sums identical either way.
   * `prepare` makes what is posted for an item (default: the item itself; it must be structured-cloneable); it may
   * return a promise, and is called in item order.
   */
  worker?: ItemFunction<unknown, unknown> & { prepare?(item: I, index: number): unknown };
  /**
   * Computes the rows for one item (object per row, keys = schema fields). Files written through ctx.out.file
   * inside `fn` are kept across resume. Throwing records the item as bad (table `<table>_errors`) unless the
   * pipeline sets `fail_on_item_error`. The item's wall time is measured by the engine and kept apart from the
   * rows (manifest timings); `timer.phase(name, ms)` adds a named phase (e.g. LIME's fit), `timer.set(ms)` replaces
   * the measured time (a stage that knows its own cost, e.g. a test double).
   */
  fn?(item: I, index: number, timer: ItemTimer): Promise<Record<string, unknown>[]>;
  /** Optional batched form: computes several items at once (same contract, one result per item). */
  batchFn?(items: I[], indices: number[]): Promise<Record<string, unknown>[][]>;
  /** Items per batchFn call (per call of the item module's runBatch). */
  batchSize?: number;
  /**
   * Awaited before each chunk is recorded as finished: `fn` / `batchFn` may leave the writes of their files in flight
   * (overlapping them with the next items' work) as long as `flush` waits for them; a chunk is only marked done once
   * its files are complete.
   */
  flush?(): Promise<void>;
  /**
   * A reduction over the items that `fn` folds into the stage's own state, item by item in item order (so `fn` runs in
   * this thread, one item at a time; not with `worker`), made resumable: after a chunk is recorded, at most every
   * max(flushMs, 20 × the last save's duration) (flushMs 0: after every chunk), the bytes of `save()` are written beside the chunks as the state after
   * exactly the recorded items. A rerun after an interruption calls `load` with them and recomputes only the items after
   * that checkpoint (chunks recorded after it are dropped and their items folded again); without a checkpoint it
   * starts over.
   */
  fold?: MapFold;
}

export interface MapFold {
  save(): Promise<Uint8Array[]> | Uint8Array[];
  load(bytes: Uint8Array): Promise<void> | void;
}

export interface ItemTimer {
  phase(name: string, ms: number): void;
  set(ms: number): void;
}

export interface MapResult {
  /**
   * The whole table, read from the written output when first accessed (ctx.map streams the chunks into the output
   * and does not hold it: a stage that needs only counts never loads it).
   */
  table: Table;
  /** The table's record batches, read one at a time from the output (bounded memory, for summaries). */
  batches(): AsyncIterable<RecordBatch>;
  /** Items computed in this execution (excludes those resumed from a previous interrupted one). */
  computed: number;
  resumed: number;
  errors: ItemError[];
  /** Sums of the item module's per-item `sums` over the items computed in this execution. */
  sums: Record<string, number>;
  /** The same sums over every item of the table, resumed chunks included (from their chunk records). */
  totals: Record<string, number>;
}

export interface StageContext<P = any> {
  stageId: string;
  kind: string;
  /** Cache key of this execution. */
  key: string;
  params: P;
  inputs: Record<string, UpstreamOutputs>;
  out: OutputWriter;
  log: Logger;
  signal: AbortSignal;
  projectRoot: string;
  /** Resolves a path from the pipeline/config relative to the project root. */
  resolve(p: string): string;
  /** Reports progress for the live display (items done of total). */
  progress(done: number, total: number, unit?: string): void;
  /**
   * Records a timing figure (ms per phase, …) in the entry's manifest timings — never in a table, so results stay
   * byte-reproducible; `xai show <stage> --timings` and the report read it.
   */
  timing(name: string, value: Json): void;
  /** Per-item map with chunking, resume, progress and bad-item recording. */
  map<I>(opts: MapOptions<I>): Promise<MapResult>;
}
