// The HTML report (docs/report.md): `buildReport` writes the static site from stage entries (src/report/build.ts);
// `reportFromRun` resolves what `xai report <pipeline-or-run>` names — a pipeline file, a pipeline name, a run record
// file or a run id — to the run record and its stages' committed outputs, and builds from those.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConfigError, didYouMean } from '../engine/errors.ts';
import { openCache } from '../engine/cache.ts';
import { listPipelines, readLatestRun, readRun, readRunFile, readState, type RunRecord } from '../engine/runs.ts';
import { readLatestSweep } from '../engine/sweep.ts';
import { EntryStore, type Entry } from './sources.ts';
import { buildReport, type BuildOptions, type BuildResult } from './build.ts';

export { buildReport, type BuildOptions, type BuildResult } from './build.ts';
export { EntryStore, closure, type Entry } from './sources.ts';

export interface FromRunOptions extends Omit<BuildOptions, 'outDir' | 'root' | 'run'> {
  root: string;
  /** Pipeline file, pipeline name, run record file or run id. */
  target: string;
  /** Site directory (default artifacts/reports/<pipeline>/). */
  out?: string;
}

/** The run record a target names, and whether it is the pipeline's latest (then failed stages fall back to state). */
export async function resolveRun(root: string, target: string): Promise<{ run: RunRecord; latest: boolean }> {
  const store = openCache(root);
  const pipelines = listPipelines(store);
  const latestOf = (name: string) => {
    const r = readLatestRun(store, name);
    if (!r) throw new ConfigError(`xai report: pipeline '${name}' has no run yet`, { suggestion: `run it first: xai run pipelines/${name}.yaml` });
    return { run: r, latest: true };
  };
  const abs = resolve(root, target);
  if (existsSync(abs) && statSync(abs).isFile()) {
    if (/\.ya?ml$/i.test(abs)) {
      const { loadPipeline } = await import('../engine/pipeline.ts');
      const p = loadPipeline(abs, { root });
      return latestOf(p.name);
    }
    const r = readRunFile(abs);
    if (!r) throw new ConfigError(`xai report: ${target} is neither a pipeline file (.yaml) nor a run record (artifacts/runs/<pipeline>/<run>.json)`);
    return r;
  }
  if (pipelines.includes(target)) return latestOf(target);
  for (const p of pipelines) {
    const r = readRun(store, p, target.replace(/\.json$/, ''));
    if (r) return { run: r, latest: false };
  }
  throw new ConfigError(`xai report: '${target}' is not a pipeline file, a pipeline with runs, a run record or a run id`, {
    suggestion: didYouMean(target, pipelines) ?? (pipelines.length ? `pipelines with runs: ${pipelines.join(', ')}` : 'no pipeline has run yet (xai run <pipeline.yaml>)'),
  });
}

/** The committed outputs of a run's stages (the latest run: stages that failed use their last successful output). */
export function runEntries(root: string, run: RunRecord, latest: boolean): { entries: Entry[]; missing: string[] } {
  const cache = openCache(root);
  const store = new EntryStore(cache);
  const state = latest ? readState(cache, run.pipeline) : undefined;
  const entries: Entry[] = [];
  const missing: string[] = [];
  for (const [id, s] of Object.entries(run.stages)) {
    if (s.kind === 'report') continue;
    let e = s.key && (s.status === 'done' || s.status === 'cached') ? store.get(s.kind, s.key, id) : undefined;
    if (!e && state?.stages[id]) e = store.get(state.stages[id].kind, state.stages[id].key, id);
    if (e) entries.push(e);
    else missing.push(id);
  }
  return { entries, missing };
}

/**
 * The scoreboard of the pipeline's latest `xai sweep`: a row per combination with its swept values, avg_iou,
 * avg_time, n_images.
 */
export function sweepScoreboard(root: string, pipeline: string): NonNullable<BuildOptions['scoreboards']>[number] | undefined {
  const latest = readLatestSweep(root, pipeline);
  const s = latest?.sweep as { sweepId?: string; id?: string; combinations?: { run_id: string; values?: Record<string, unknown>; status?: string; scoreboard?: Record<string, unknown> | null }[] } | undefined;
  if (!latest || !s?.combinations?.length) return undefined;
  const dir = latest.dir;
  const short = (k: string) => k.replace(/^stages\./, '');
  const rows = s.combinations
    .filter((c) => c.status === 'ok' && c.scoreboard)
    .map((c) => ({
      label: Object.entries(c.values ?? {}).map(([k, v]) => `${short(k).split('.').slice(-1)[0]}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') || c.run_id,
      run: c.run_id,
      avg_iou: c.scoreboard!.avg_iou,
      avg_time: c.scoreboard!.avg_time,
      forwards_per_image: c.scoreboard!.forwards_per_image,
      n_images: c.scoreboard!.n_images,
      against: c.scoreboard!.against,
      params: Object.fromEntries(Object.entries(c.values ?? {}).map(([k, v]) => [short(k), v])),
    }));
  if (!rows.length) return undefined;
  let id = s.sweepId ?? s.id;
  try {
    id ??= basename(realpathSync(dir));
  } catch {
    /* no link */
  }
  return { title: `Sweep ${id ?? ''}`.trim(), rows, source: `xai sweep: ${s.combinations.length} combination(s), ${rows.length} with a score (artifacts/sweeps/${pipeline}/latest/)` };
}

/** `xai report`: builds the site of a run; returns where it is. */
export async function reportFromRun(o: FromRunOptions): Promise<BuildResult & { run: RunRecord; missing: string[] }> {
  const { run, latest } = await resolveRun(o.root, o.target);
  const { entries, missing } = runEntries(o.root, run, latest);
  const outDir = resolve(o.root, o.out ?? join('artifacts', 'reports', run.pipeline));
  const sweep = sweepScoreboard(o.root, run.pipeline);
  const res = await buildReport(entries, { ...o, outDir, root: o.root, run, scoreboards: [...(o.scoreboards ?? []), ...(sweep ? [sweep] : [])] });
  return { ...res, run, missing };
}
