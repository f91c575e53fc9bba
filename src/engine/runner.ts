// The executor: runs a plan's stages in dependency order on a p-queue (independent stages concurrently), each
// through cache check → run in its work dir → commit; a failed stage stops its descendants while independent
// stages finish. Emits RunEvents; writes the run record, the pipeline state and the latest view at the end.
import { availableParallelism, hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import PQueue from 'p-queue';
import { ArtifactStore, type CacheEntry } from './cache.ts';
import { codeFingerprint, type CodeFingerprint } from './codegraph.ts';
import { makeContext, upstreamMeta, upstreamOutputs } from './context.ts';
import { StageError, errorMessage } from './errors.ts';
import { EventBus } from './events.ts';
import { HashMemo, hashPath, stageKey } from './fingerprint.ts';
import { lock as takeLock, type LockInfo } from './lock.ts';
import { RunRecorder, newRunId, toolVersions, updateState, updateView, writeRunRecord, type RunRecord, type StageRecord } from './runs.ts';
import type { Plan, PlanStage } from './analyze.ts';
import type { Json, UpstreamMeta } from './types.ts';

export interface RunOptions {
  /** Stages run at once (default: number of cores). */
  jobs?: number;
  /** Worker threads per item-module map (ctx.map with `worker`; default: number of cores; 1: the stage's own thread). */
  workers?: number;
  /** redis://host:port: item modules run on `xai worker` processes through this BullMQ queue (shared artifacts/). */
  queue?: string;
  /** Stage ids to recompute even if cached ('*' = all; a stage may be named 'all'). */
  force?: string[];
  /** Re-hash every file of reused entries (default: only files whose mtime changed). */
  verify?: boolean;
  /** Wait for another run's lock instead of failing. */
  wait?: boolean;
  signal?: AbortSignal;
  bus?: EventBus;
  argv?: string[];
  /** Called once when waiting for another process's lock (with `wait`). */
  onWait?: (holder: LockInfo) => void;
  /** Run id (default: time + pid). `xai sweep` derives it from the overrides, so a combination's record is stable. */
  runId?: string;
  /**
   * Update the pipeline's latest run record, state and latest view (default true). `xai sweep` runs its combinations
   * with false: they get a run record, but `xai status`/`show` and artifacts/<pipeline>/ keep the plain run's.
   */
  latest?: boolean;
  /** Sweep facts recorded in the run record (`sweep` field). */
  sweep?: Json;
  /** Runs executed at once in this process (`xai sweep --parallel`) share one session: see openRunSession. */
  session?: RunSession;
}

type Executions = Map<string, { stageId: string; done: Promise<CacheEntry | undefined> }>;

/**
 * What runs executed at once in one process share: the artifacts lock (taken once, by the session) and the executions
 * memoised by key, so two runs that need one entry (a sweep's common upstream stages) compute it once.
 */
export interface RunSession {
  readonly executions: Executions;
  /** One gate for all the runs: each stage records what computed beside it, whatever run it belonged to. */
  readonly gate: ComputeGate;
  /** One hash memo (artifacts/memo.json) for all the runs. */
  readonly memo: HashMemo;
  close(): void;
}

export async function openRunSession(root: string, command: string): Promise<RunSession> {
  const store = new ArtifactStore(root);
  const lk = await takeLock(`${store.dir}/lock`, command);
  return { executions: new Map(), gate: new ComputeGate(), memo: new HashMemo(store.memoFile), close: () => lk.release() };
}

export interface RunResult {
  ok: boolean;
  interrupted: boolean;
  failed: { stageId: string; error: string }[];
  record: RunRecord;
  recordFile: string;
}

/** Resolves a `reads()` path against the project root. */
function absRead(root: string, p: string): string {
  return isAbsolute(p) ? p : resolve(root, p);
}

/**
 * Cache key of a stage given its upstreams' entries: kind, version (an explicit override), the code fingerprint of
 * its module's import graph, params (less keyExclude), upstream keys and the content hashes of the files its
 * `reads()` names.
 */
export async function keyFor(
  st: PlanStage,
  upstream: Map<string, CacheEntry>,
  memo: HashMemo,
  root: string,
): Promise<{ key: string; reads: Record<string, string>; upstreamKeys: Record<string, string>; code: CodeFingerprint }> {
  const upstreamKeys: Record<string, string> = {};
  const metas: Record<string, UpstreamMeta> = {};
  for (const [name, id] of Object.entries(st.inputs)) {
    const e = upstream.get(id);
    if (!e) throw new Error(`upstream '${id}' has no output`);
    upstreamKeys[name] = e.key;
    metas[name] = upstreamMeta(id, e);
  }
  const reads: Record<string, string> = {};
  if (st.def.reads) {
    for (const p of st.def.reads(st.params, metas)) reads[p] = await hashPath(absRead(root, p), memo);
  }
  const code = await codeFingerprint(st.modulePath, root, memo);
  const keyParams = st.def.keyExclude?.length && st.params && typeof st.params === 'object' ? Object.fromEntries(Object.entries(st.params as Record<string, unknown>).filter(([k]) => !st.def.keyExclude!.includes(k))) : st.params;
  const key = stageKey({ kind: st.def.kind, version: st.def.version, code: code.hash, params: keyParams, upstream: upstreamKeys, reads });
  return { key, reads, upstreamKeys, code };
}

/** Stages whose compute time a downstream stage consumes (an input declared `timed`): they run with nothing beside. */
export function timedStages(plan: Plan): Set<string> {
  const out = new Set<string>();
  for (const st of plan.stages) {
    for (const [name, id] of Object.entries(st.inputs)) if (st.def.inputs?.[name]?.timed) out.add(id);
  }
  return out;
}

/**
 * Admission of computing stages: a `timed` stage computes alone (it waits until nothing else computes, and nothing
 * starts beside it; waiting timed stages go first). Records, for each computing stage, which others computed beside it.
 */
class ComputeGate {
  private readonly active = new Set<string>();
  private alone = false;
  private waitingAlone = 0;
  private readonly wakers: (() => void)[] = [];
  readonly beside = new Map<string, Set<string>>();

  async enter(id: string, alone: boolean, signal: AbortSignal): Promise<void> {
    if (alone) this.waitingAlone++;
    try {
      while (alone ? this.active.size > 0 : this.alone || this.waitingAlone > 0) {
        if (signal.aborted) throw signal.reason;
        await new Promise<void>((r) => this.wakers.push(r));
      }
    } finally {
      if (alone) this.waitingAlone--;
    }
    const b = new Set(this.active);
    for (const other of this.active) this.beside.get(other)?.add(id);
    this.beside.set(id, b);
    this.active.add(id);
    if (alone) this.alone = true;
  }

  leave(id: string): string[] {
    this.active.delete(id);
    if (this.active.size === 0) this.alone = false;
    for (const w of this.wakers.splice(0)) w();
    return [...(this.beside.get(id) ?? [])].sort();
  }

  /** Wakes waiters (e.g. after an abort). */
  wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }
}

export async function executePlan(plan: Plan, opts: RunOptions = {}): Promise<RunResult> {
  const root = plan.root;
  const store = new ArtifactStore(root);
  const bus = opts.bus ?? new EventBus();
  const jobs = Math.max(1, opts.jobs ?? availableParallelism());
  const workers = Math.max(1, opts.workers ?? availableParallelism());
  const force = new Set(opts.force ?? []);
  const forced = (id: string) => force.has(id) || force.has('*');
  const argv = opts.argv ?? [];
  const lk = opts.session
    ? { release() {}, tookOver: undefined }
    : await takeLock(`${store.dir}/lock`, `xai ${argv.join(' ')}`.trim(), {
        wait: opts.wait,
        onWait: opts.onWait,
      });
  if (lk.tookOver) bus.emit({ type: 'stage-log', stageId: '-', level: 'warn', message: `took over a stale lock of pid ${lk.tookOver.pid} (started ${lk.tookOver.started})` });
  const memo = opts.session?.memo ?? new HashMemo(store.memoFile);
  const versions = toolVersions(root);
  const runId = opts.runId ?? newRunId();
  const t0 = Date.now();
  const started = new Date(t0).toISOString();
  const abort = new AbortController();
  // In a session, runs compute beside each other by design: no stage waits to compute alone (what computed beside it
  // is recorded, as `<run id>/<stage>`).
  const gate = opts.session?.gate ?? new ComputeGate();
  const gateId = (id: string) => (opts.session ? `${runId}/${id}` : id);
  const timed = timedStages(plan);
  /** Executions memoised by key (as wireit's executor): two stages with one key compute once. */
  const executions: Executions = opts.session?.executions ?? new Map();
  const onAbort = () => {
    abort.abort(new Error('interrupted'));
    gate.wake();
  };
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) onAbort();

  const manifests = new Map<string, CacheEntry>();
  const recorder = new RunRecorder(bus);
  const failed: { stageId: string; error: string }[] = [];
  const state = new Map<string, 'pending' | 'queued' | 'ok' | 'failed' | 'skipped'>(plan.stages.map((s) => [s.id, 'pending']));
  const queue = new PQueue({ concurrency: jobs });
  const codes = new Map<string, { files: Record<string, string>; packages: Record<string, string> }>();

  /** A stage's run record: static facts from the plan + what the events said (RunRecorder). */
  const stageRecord = (st: PlanStage): StageRecord => {
    const ev = recorder.stages.get(st.id) ?? {};
    return {
      kind: st.def.kind,
      version: st.def.version,
      uses: st.spec.uses,
      status: ev.status ?? 'skipped',
      params: st.params as Json,
      inputs: ev.inputs ?? Object.fromEntries(Object.entries(st.inputs).map(([n, id]) => [n, { stage: id, key: manifests.get(id)?.key }])),
      ...(st.spec.includes.length ? { includes: st.spec.includes } : {}),
      ...ev,
      ...(codes.has(st.id) ? { code: codes.get(st.id) } : {}),
    } as StageRecord;
  };

  const runStage = async (st: PlanStage): Promise<void> => {
    const t = Date.now();
    let settle: ((e: CacheEntry | undefined) => void) | undefined;
    try {
      if (abort.signal.aborted) throw abort.signal.reason;
      const { key, reads, upstreamKeys, code } = await keyFor(st, manifests, memo, root);
      codes.set(st.id, { files: code.files, packages: code.packages });
      const kind = st.def.kind;
      const inputsRec = Object.fromEntries(Object.entries(st.inputs).map(([n, id]) => [n, { stage: id, key: upstreamKeys[n] }]));
      bus.emit({ type: 'stage-key', stageId: st.id, kind, key, inputs: inputsRec, reads });
      const twin = executions.get(key);
      if (twin) {
        // the same execution as another stage of this run: wait for it instead of racing it in the same work dir
        const e = await twin.done;
        if (!e) throw new StageError(st.id, `the stage with the same key ('${twin.stageId}') did not finish`);
        manifests.set(st.id, e);
        state.set(st.id, 'ok');
        bus.emit({ type: 'stage-cached', stageId: st.id, kind, key, backend: e.meta.backend, map: e.manifest.map, computeSeconds: e.timings.seconds, sameAs: twin.stageId });
        return;
      }
      executions.set(key, { stageId: st.id, done: new Promise<CacheEntry | undefined>((r) => (settle = r)) });
      if (!forced(st.id)) {
        const hit = store.get(kind, key);
        const badItems = hit && plan.pipeline.failOnItemError ? Object.values(hit.manifest.map ?? {}).reduce((a, s) => a + s.errors, 0) : 0;
        if (badItems > 0) {
          bus.emit({ type: 'stage-log', stageId: st.id, level: 'info', message: `cached entry has ${badItems} bad item(s) and fail_on_item_error is set: recomputing` });
        } else if (hit) {
          const problem = await store.verify(hit, { full: opts.verify, memo });
          if (!problem) {
            manifests.set(st.id, hit);
            bus.emit({ type: 'stage-cached', stageId: st.id, kind, key, backend: hit.meta.backend, map: hit.manifest.map, computeSeconds: hit.timings?.seconds });
            state.set(st.id, 'ok');
            settle!(hit);
            return;
          }
          bus.emit({ type: 'stage-corrupt', stageId: st.id, key, reason: problem });
          await store.remove(kind, key);
        }
      } else {
        // A forced stage starts from scratch, except that an interrupted forced attempt resumes its own partial work.
        if (store.forcedWorkDir(kind, key)) bus.emit({ type: 'stage-log', stageId: st.id, level: 'info', message: 'resuming the partial work of an interrupted --force' });
      }
      const alone = timed.has(st.id) && !opts.session;
      await gate.enter(gateId(st.id), alone, abort.signal);
      let beside: string[] = [];
      let entry: CacheEntry;
      const tc = Date.now();
      try {
        bus.emit({ type: 'stage-start', stageId: st.id, kind, key });
        const inputs = Object.fromEntries(Object.entries(st.inputs).map(([name, id]) => [name, upstreamOutputs(id, manifests.get(id)!)]));
        const workDir = store.workDir(kind, key);
        const { ctx, collected } = makeContext({
          stageId: st.id,
          kind,
          key,
          params: structuredClone(st.params),
          inputs,
          outDir: store.outDir(kind, key),
          entryDir: store.entryDir(kind, key),
          mapDir: `${workDir}/map`,
          root,
          signal: abort.signal,
          bus,
          failOnItemError: plan.pipeline.failOnItemError,
          workers,
          queue: opts.queue,
          pipeline: plan.pipeline.name,
          version: versions.xai ?? 'unknown',
          columns: Object.fromEntries(Object.entries(st.def.outputs ?? {}).flatMap(([n, o]) => (o.columns ? [[n, o.columns]] : []))),
        });
        const s0 = new Date(tc).toISOString();
        try {
          await st.def.run(ctx);
        } finally {
          beside = gate.leave(gateId(st.id));
        }
        if (abort.signal.aborted) throw abort.signal.reason;
        const seconds = (Date.now() - tc) / 1000;
        entry = await store.set({
          format: 1,
          kind,
          version: st.def.version,
          key,
          code: { files: code.files, packages: code.packages },
          stageId: st.id,
          pipeline: plan.pipeline.name,
          params: st.params as Json,
          inputs: upstreamKeys,
          reads,
          tables: collected.tables,
          // Paths into the work dir (from ctx.out.path) point at the committed entry once it is moved there.
          meta: rewritePaths(collected.meta, store.outDir(kind, key), store.entryDir(kind, key)) as Record<string, Json>,
          ...(Object.keys(collected.map).length ? { map: collected.map } : {}),
          timings: {
            started: s0,
            finished: new Date().toISOString(),
            seconds,
            ...(alone ? { alone: true } : {}),
            ...(beside.length ? { beside } : {}),
            ...(Object.keys(collected.itemTimings).length ? { items: collected.itemTimings } : {}),
            ...(Object.keys(collected.stageTimings).length ? { stage: collected.stageTimings } : {}),
          },
          versions,
        });
      } catch (e) {
        gate.leave(gateId(st.id));
        throw e;
      }
      manifests.set(st.id, entry);
      state.set(st.id, 'ok');
      settle!(entry);
      bus.emit({ type: 'stage-done', stageId: st.id, kind, key, seconds: entry.timings.seconds, backend: entry.meta.backend, map: entry.manifest.map });
    } catch (e) {
      settle?.(undefined);
      const seconds = (Date.now() - t) / 1000;
      state.set(st.id, 'failed');
      if (abort.signal.aborted) {
        bus.emit({ type: 'stage-failed', stageId: st.id, error: 'interrupted', interrupted: true, seconds });
        return;
      }
      const msg = e instanceof StageError ? e.message.replace(/^stage '[^']*': /, '') : errorMessage(e);
      failed.push({ stageId: st.id, error: msg });
      const stack = e instanceof Error && e.stack && !(e instanceof StageError) ? `\n${e.stack.split('\n').slice(1, 6).join('\n')}` : '';
      bus.emit({ type: 'stage-failed', stageId: st.id, error: msg + (process.env.XAI_DEBUG ? stack : ''), interrupted: false, seconds });
    } finally {
      schedule();
    }
  };

  const schedule = () => {
    for (const st of plan.stages) {
      if (state.get(st.id) !== 'pending') continue;
      const deps = st.deps.map((d) => state.get(d));
      const bad = st.deps.find((d) => state.get(d) === 'failed' || state.get(d) === 'skipped');
      if (bad !== undefined || abort.signal.aborted) {
        state.set(st.id, 'skipped');
        const interrupted = abort.signal.aborted;
        const reason = interrupted ? 'run interrupted' : `upstream '${bad}' ${state.get(bad!) === 'failed' ? 'failed' : 'did not run'}`;
        bus.emit({ type: 'stage-skipped', stageId: st.id, reason, interrupted });
        continue;
      }
      if (deps.every((d) => d === 'ok')) {
        state.set(st.id, 'queued');
        void queue.add(() => runStage(st));
      }
    }
  };

  bus.emit({ type: 'run-start', pipeline: plan.pipeline.name, runId, stages: plan.stages.map((s) => s.id), jobs });
  let record: RunRecord | undefined;
  let recordFile = '';
  try {
    schedule();
    // Newly ready stages are added from inside finishing tasks, so onIdle covers the whole DAG.
    await queue.onIdle();
    schedule(); // mark anything left (skipped after an interrupt)
    const interrupted = abort.signal.aborted;
    const ok = failed.length === 0 && !interrupted;
    const seconds = (Date.now() - t0) / 1000;
    const ordered: Record<string, StageRecord> = {};
    for (const st of plan.stages) ordered[st.id] = stageRecord(st);
    record = {
      format: 1,
      runId,
      pipeline: plan.pipeline.name,
      file: plan.pipeline.file,
      fileHash: plan.pipeline.fileHash,
      fragments: plan.pipeline.fragments,
      status: ok ? 'ok' : interrupted ? 'interrupted' : 'failed',
      started,
      finished: new Date().toISOString(),
      seconds,
      argv,
      overrides: plan.pipeline.overrides,
      jobs,
      host: hostname(),
      config: {
        name: plan.pipeline.name,
        ...(plan.pipeline.description ? { description: plan.pipeline.description } : {}),
        fail_on_item_error: plan.pipeline.failOnItemError,
        stages: Object.fromEntries(
          plan.stages.map((s) => [
            s.id,
            { uses: s.spec.uses, kind: s.def.kind, version: s.def.version, inputs: s.inputs, params: s.params as Json, ...(s.spec.includes.length ? { include: s.spec.includes } : {}) },
          ]),
        ),
      },
      stages: ordered,
      versions,
      backends: distinct(Object.values(ordered).map((r) => r.backend).filter((b): b is Json => b !== undefined)),
      ...(opts.sweep !== undefined ? { sweep: opts.sweep } : {}),
    };
    const latest = opts.latest ?? true;
    recordFile = await writeRunRecord(store, record, { latest });
    if (latest) {
      const pstate = await updateState(store, record);
      updateView(store, pstate);
    }
    await memo.save();
    bus.emit({ type: 'run-end', ok, interrupted, seconds });
    return { ok, interrupted, failed, record, recordFile };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    recorder.stop();
    lk.release();
  }
}

/** Replaces the prefix `from` of every string in a JSON value (and equal strings) with `to`. */
export function rewritePaths(v: Json, from: string, to: string): Json {
  if (typeof v === 'string') return v === from || v.startsWith(from + '/') ? to + v.slice(from.length) : v;
  if (Array.isArray(v)) return v.map((x) => rewritePaths(x, from, to));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewritePaths(x, from, to)]));
  return v;
}

function distinct(values: Json[]): Json[] {
  const seen = new Set<string>();
  const out: Json[] = [];
  for (const v of values) {
    const k = JSON.stringify(v);
    if (!seen.has(k)) (seen.add(k), out.push(v));
  }
  return out;
}
