// Shared by `xai runs` and `xai compare`: finding run records and reading their key metrics (the meta.metrics
// that stages record — e.g. the scoreboard's avg_iou / avg_time / n_images, the compare stage's mean IoUs).
import { ConfigError, didYouMean } from '../engine/errors.ts';
import { openCache } from '../engine/cache.ts';
import { listPipelines, listRuns as engineListRuns, readLatestRun, type RunRecord } from '../engine/runs.ts';
import { boardOf } from '../engine/sweep.ts';

/** Pipeline name from a pipeline file path (its `name:` or file name) or a name. */
export async function pipelineName(root: string, arg: string): Promise<string> {
  if (/\.ya?ml$/.test(arg)) {
    const { loadPipeline } = await import('../engine/pipeline.ts');
    return loadPipeline(arg, { root }).name;
  }
  return arg;
}

/** Run records of a pipeline (oldest first by finish time). */
export function listRuns(root: string, pipeline: string): RunRecord[] {
  return engineListRuns(openCache(root), pipeline);
}

export function allPipelines(root: string): string[] {
  return listPipelines(openCache(root));
}

/** A run record by id or unique id prefix (`latest` = the pipeline's latest run), searched in every pipeline. */
export function findRun(root: string, ref: string, pipeline?: string): RunRecord {
  const pipes = pipeline ? [pipeline] : allPipelines(root);
  if (ref === 'latest') {
    if (!pipeline) throw new ConfigError(`xai compare: 'latest' needs --pipeline <name>`);
    const r = readLatestRun(openCache(root), pipeline);
    if (!r) throw new ConfigError(`no runs of pipeline '${pipeline}'`);
    return r;
  }
  const all = pipes.flatMap((p) => listRuns(root, p));
  const exact = all.filter((r) => r.runId === ref);
  if (exact.length === 1) return exact[0];
  const pre = all.filter((r) => r.runId.startsWith(ref));
  if (pre.length === 1) return pre[0];
  if (exact.length > 1 || pre.length > 1) {
    const names = (exact.length > 1 ? exact : pre).map((r) => `${r.pipeline}/${r.runId}`);
    throw new ConfigError(`run '${ref}' is ambiguous: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}`, { suggestion: 'give more of the id, or --pipeline' });
  }
  throw new ConfigError(`no run '${ref}'${pipeline ? ` of pipeline '${pipeline}'` : ''}`, {
    suggestion: didYouMean(ref, all.map((r) => r.runId)) ?? (all.length ? 'see xai runs' : 'no runs recorded yet (artifacts/runs/)'),
  });
}

/**
 * Key metrics of a run: meta.metrics of its stages' cache entries, as `<stage>.<metric>` (scoreboards first, with
 * their avg_time joined from the timed LIME entry).
 */
export function runMetrics(root: string, rec: RunRecord): Record<string, number> {
  const cache = openCache(root);
  const out: Record<string, number> = {};
  const stages = Object.entries(rec.stages).sort(([, a], [, b]) => Number(b.kind === 'scoreboard') - Number(a.kind === 'scoreboard'));
  for (const [id, s] of stages) {
    if (!s.key || (s.status !== 'done' && s.status !== 'cached')) continue;
    const e = cache.get(s.kind, s.key);
    if (!e) continue; // entry gone (gc): no metrics
    const m = e.meta.metrics;
    if (!m || typeof m !== 'object' || Array.isArray(m)) continue;
    // a board's avg_time (a measurement, not in its results) goes next to avg_iou
    const t = boardOf(cache, e)?.avg_time;
    const { avg_iou, ...rest } = m;
    const ordered = typeof t === 'number' ? { ...(avg_iou !== undefined ? { avg_iou } : {}), avg_time: t, ...rest } : m;
    for (const [k, v] of Object.entries(ordered)) if (typeof v === 'number') out[`${id}.${k}`] = v;
  }
  return out;
}

/** `stages.lime.num_samples=250` → `lime.num_samples=250` (JSON-quoted strings unquoted). */
export function shortOverride(s: string): string {
  const eq = s.indexOf('=');
  if (eq < 0) return s;
  let v = s.slice(eq + 1);
  if (/^"[^"]*"$/.test(v)) v = v.slice(1, -1);
  return `${s.slice(0, eq).replace(/^stages\./, '')}=${v}`;
}

export function fmtNum(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** Cuts a string to `w` characters with an ellipsis. */
export function cut(s: string, w: number): string {
  return s.length > w ? s.slice(0, Math.max(1, w - 1)) + '…' : s;
}

/**
 * Where a run's outputs are: one line per stage with its latest-view directory, its tables (rows) and its files
 * grouped by top folder (e.g. `overlays/ 48 png`). Used by `xai run` after a successful run.
 */
export function outputsSummary(root: string, rec: RunRecord, viewBase = `artifacts/${rec.pipeline}`): string {
  const cache = openCache(root);
  const ids = Object.keys(rec.stages);
  const w = Math.max(...ids.map((i) => i.length));
  const lines = ['outputs:'];
  for (const id of ids) {
    const s = rec.stages[id];
    if (!s.key) continue;
    const e = cache.get(s.kind, s.key);
    if (!e) continue;
    const parts = e.tables.filter((n) => !(n.endsWith('_errors') && e.rows(n) === 0)).map((n) => `${n}.arrow (${e.rows(n)} rows)`);
    const groups = new Map<string, Map<string, number>>();
    for (const path of e.files()) {
      const slash = path.indexOf('/');
      const g = slash < 0 ? path : path.slice(0, slash + 1);
      const ext = path.includes('.') ? path.slice(path.lastIndexOf('.') + 1) : 'file';
      const e = groups.get(g) ?? new Map<string, number>();
      e.set(ext, (e.get(ext) ?? 0) + 1);
      groups.set(g, e);
    }
    for (const [g, e] of groups) {
      if (!g.endsWith('/')) parts.push(g);
      else if (g.split('/').length > 1 && [...e.values()].reduce((a, b) => a + b, 0) > 0) parts.push(`${g} (${[...e].map(([x, n]) => `${n} ${x}`).join(', ')})`);
    }
    lines.push(`  ${id.padEnd(w)}  ${viewBase}/${id}/  ${parts.join(', ') || '(meta only)'}`);
  }
  return lines.join('\n') + '\n';
}
