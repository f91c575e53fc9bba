// Run records (artifacts/runs/<pipeline>/<run-id>.json + latest.json), the per-pipeline state of the last
// successful execution of each stage (runs/<pipeline>/state.json: what `xai status` diffs against and `xai gc`
// keeps), and the stable latest view artifacts/<pipeline>/<stage> → symlink to the cache entry.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join, relative, dirname } from 'node:path';
import type { ArtifactStore, MapStats } from './cache.ts';
import type { EventBus, RunEvent, StageOutcome } from './events.ts';
import type { Json } from './types.ts';

export interface StageRecord {
  kind: string;
  version: string;
  uses: string;
  /** Cache key (absent when it could not be computed, e.g. an upstream failed). */
  key?: string;
  status: StageOutcome;
  /** Compute seconds: this run's for a computed stage, the original computation's for a cached one. */
  seconds?: number;
  /** Cached: the stage of this run with the same key that computed the entry. */
  sameAs?: string;
  /** Code fingerprint (project files of the stage's import graph → sha256, packages → versions). */
  code?: { files: Record<string, string>; packages: Record<string, string> };
  error?: string;
  params: Json;
  /** Input name → upstream stage and key. */
  inputs: Record<string, { stage: string; key?: string }>;
  reads?: Record<string, string>;
  includes?: string[];
  /** Runtime backend the stage reported (meta key `backend`). */
  backend?: Json;
  map?: Record<string, MapStats>;
}

export interface RunRecord {
  format: 1;
  runId: string;
  pipeline: string;
  file: string;
  /** sha256 of the pipeline file and of every fragment it included. */
  fileHash: string;
  fragments: Record<string, string>;
  status: 'ok' | 'failed' | 'interrupted';
  started: string;
  finished: string;
  seconds: number;
  argv: string[];
  overrides: string[];
  jobs: number;
  host: string;
  /** The fully resolved config: every stage's kind, version, inputs and params (defaults applied). */
  config: { name: string; description?: string; fail_on_item_error: boolean; stages: Record<string, { uses: string; kind: string; version: string; inputs: Record<string, string>; params: Json; include?: string[] }> };
  stages: Record<string, StageRecord>;
  versions: Record<string, string>;
  /** Distinct runtime backends reported by stages. */
  backends: Json[];
  /** Present on the runs of `xai sweep` combinations: sweep id, the combination's overrides. */
  sweep?: Json;
}

export interface StageState {
  kind: string;
  version: string;
  key: string;
  code?: { files: Record<string, string>; packages: Record<string, string> };
  params: Json;
  inputs: Record<string, { stage: string; key?: string }>;
  reads?: Record<string, string>;
  runId: string;
  finished: string;
}

export interface PipelineState {
  pipeline: string;
  file: string;
  stages: Record<string, StageState>;
}

/** Consumes a run's events into the per-stage part of its run record (status, key, time, error, backend, …). */
export class RunRecorder {
  readonly stages = new Map<string, Partial<StageRecord>>();
  private readonly off: () => void;
  constructor(bus: EventBus) {
    this.off = bus.on((e) => this.on(e));
  }
  private get(id: string): Partial<StageRecord> {
    let r = this.stages.get(id);
    if (!r) this.stages.set(id, (r = {}));
    return r;
  }
  private on(e: RunEvent): void {
    switch (e.type) {
      case 'stage-key': {
        const r = this.get(e.stageId);
        r.key = e.key;
        r.inputs = e.inputs;
        if (Object.keys(e.reads).length) r.reads = e.reads;
        break;
      }
      case 'stage-cached':
      case 'stage-done': {
        const r = this.get(e.stageId);
        r.status = e.type === 'stage-cached' ? 'cached' : 'done';
        r.key = e.key;
        r.seconds = e.type === 'stage-done' ? e.seconds : e.computeSeconds;
        if (e.type === 'stage-cached' && e.sameAs) r.sameAs = e.sameAs;
        if (e.backend !== undefined) r.backend = e.backend;
        if (e.map) r.map = e.map;
        break;
      }
      case 'stage-failed': {
        const r = this.get(e.stageId);
        r.status = e.interrupted ? 'interrupted' : 'failed';
        r.seconds = e.seconds;
        if (!e.interrupted) r.error = e.error;
        break;
      }
      case 'stage-skipped': {
        const r = this.get(e.stageId);
        r.status = e.interrupted ? 'interrupted' : 'skipped';
        r.error = e.reason;
        break;
      }
    }
  }
  stop(): void {
    this.off();
  }
}

async function writeJsonAtomic(path: string, v: unknown): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(v, null, 2) + '\n');
  await rename(tmp, path);
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function runsDir(store: ArtifactStore, pipeline: string): string {
  return join(store.dir, 'runs', pipeline);
}

export function newRunId(): string {
  return `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
}

export async function writeRunRecord(store: ArtifactStore, rec: RunRecord, opts: { latest?: boolean } = {}): Promise<string> {
  const dir = runsDir(store, rec.pipeline);
  const file = join(dir, `${rec.runId}.json`);
  await writeJsonAtomic(file, rec);
  if (opts.latest ?? true) await writeJsonAtomic(join(dir, 'latest.json'), rec);
  return file;
}

export function readLatestRun(store: ArtifactStore, pipeline: string): RunRecord | undefined {
  return readJson<RunRecord>(join(runsDir(store, pipeline), 'latest.json'));
}

export function readState(store: ArtifactStore, pipeline: string): PipelineState | undefined {
  return readJson<PipelineState>(join(runsDir(store, pipeline), 'state.json'));
}

/** A run record by pipeline and run id, or undefined. */
export function readRun(store: ArtifactStore, pipeline: string, runId: string): RunRecord | undefined {
  return readJson<RunRecord>(join(runsDir(store, pipeline), `${runId}.json`));
}

/** A run record file given by path (a record shape is checked), and whether it is a pipeline's latest. */
export function readRunFile(path: string): { run: RunRecord; latest: boolean } | undefined {
  const r = readJson<RunRecord>(path);
  if (!r || r.format !== 1 || !r.stages || !r.pipeline) return undefined;
  return { run: r, latest: path.endsWith(`${'/'}latest.json`) };
}

/** Every run record of a pipeline (oldest first by finish time). */
export function listRuns(store: ArtifactStore, pipeline: string): RunRecord[] {
  let names: string[] = [];
  try {
    names = readdirSync(runsDir(store, pipeline));
  } catch {
    return [];
  }
  const out: RunRecord[] = [];
  for (const f of names) {
    if (!f.endsWith('.json') || f === 'latest.json' || f === 'state.json') continue;
    const r = readJson<RunRecord>(join(runsDir(store, pipeline), f));
    if (r && r.runId && r.stages) out.push(r); // a partial or foreign file is skipped
  }
  return out.sort((a, b) => a.finished.localeCompare(b.finished) || a.runId.localeCompare(b.runId));
}

/** Pipelines with run records. */
export function listPipelines(store: ArtifactStore): string[] {
  try {
    return readdirSync(join(store.dir, 'runs')).sort();
  } catch {
    return [];
  }
}

/**
 * After a run: stages that finished (computed or cached) become the pipeline's current state; stages no longer in
 * the pipeline are dropped; the others keep their previous state.
 */
export async function updateState(store: ArtifactStore, rec: RunRecord): Promise<PipelineState> {
  const prev = readState(store, rec.pipeline);
  const stages: Record<string, StageState> = {};
  for (const [id, s] of Object.entries(rec.stages)) {
    if ((s.status === 'done' || s.status === 'cached') && s.key) {
      stages[id] = { kind: s.kind, version: s.version, key: s.key, ...(s.code ? { code: s.code } : {}), params: s.params, inputs: s.inputs, reads: s.reads, runId: rec.runId, finished: rec.finished };
    } else if (prev?.stages[id]) stages[id] = prev.stages[id];
  }
  const state: PipelineState = { pipeline: rec.pipeline, file: rec.file, stages };
  await writeJsonAtomic(join(runsDir(store, rec.pipeline), 'state.json'), state);
  return state;
}

/** Directory of the latest view of a pipeline. */
export function viewDir(store: ArtifactStore, pipeline: string): string {
  return join(store.dir, pipeline);
}

/**
 * Points artifacts/<pipeline>/<stage> at each stage's current cache entry with a relative symlink (replaced
 * atomically by rename); links of stages no longer in the state are removed. Linux/macOS symlinks.
 */
export function updateView(store: ArtifactStore, state: PipelineState): void {
  const dir = viewDir(store, state.pipeline);
  mkdirSync(dir, { recursive: true });
  for (const [id, s] of Object.entries(state.stages)) {
    const link = join(dir, id);
    const target = relative(dir, store.entryDir(s.kind, s.key));
    try {
      if (lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) continue;
    } catch {
      /* absent */
    }
    const tmp = `${link}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    symlinkSync(target, tmp, 'dir');
    try {
      if (existsSync(link) && !lstatSync(link).isSymbolicLink()) rmSync(link, { recursive: true, force: true });
    } catch {
      /* ignore */
    }
    renameSync(tmp, link);
  }
  for (const name of readdirSync(dir)) {
    if (!Object.hasOwn(state.stages, name)) {
      const p = join(dir, name);
      if (lstatSync(p).isSymbolicLink()) rmSync(p, { force: true });
    }
  }
}

/** Tool versions recorded in manifests and run records (read from package.json files; cheap). */
let versionsCache: Record<string, string> | undefined;
export function toolVersions(root: string): Record<string, string> {
  if (versionsCache) return versionsCache;
  const v: Record<string, string> = { node: process.version };
  const pkgVersion = (p: string) => readJson<{ version?: string }>(p)?.version;
  const own = pkgVersion(new URL('../../package.json', import.meta.url).pathname);
  if (own) v.xai = own;
  for (const dep of ['apache-arrow', 'onnxruntime-node', '@tensorflow/tfjs', 'sharp']) {
    const ver = pkgVersion(join(root, 'node_modules', dep, 'package.json')) ?? pkgVersion(new URL(`../../node_modules/${dep}/package.json`, import.meta.url).pathname);
    if (ver) v[dep] = ver;
  }
  versionsCache = v;
  return v;
}
