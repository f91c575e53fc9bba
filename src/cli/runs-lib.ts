// Shared by `xai runs` and `xai compare`: finding run records and reading their key metrics (the meta.metrics
// that stages record — e.g. the scoreboard's avg_iou / avg_time / n_images, the compare stage's mean IoUs).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, didYouMean } from '../engine/errors.ts';
import type { RunRecord } from '../engine/runs.ts';
import type { Json } from '../engine/types.ts';

export function runsRoot(root: string): string {
  return join(root, 'artifacts', 'runs');
}

/** Pipeline name from a pipeline file path (its `name:` or file name) or a name. */
export async function pipelineName(root: string, arg: string): Promise<string> {
  if (/\.ya?ml$/.test(arg)) {
    const { loadPipeline } = await import('../engine/pipeline.ts');
    return loadPipeline(arg, { root }).name;
  }
  return arg;
}

/** Run ids of a pipeline (oldest first by finish time). */
export function listRuns(root: string, pipeline: string): RunRecord[] {
  const dir = join(runsRoot(root), pipeline);
  if (!existsSync(dir)) return [];
  const out: RunRecord[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json') || f === 'latest.json' || f === 'state.json') continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RunRecord;
      if (r && r.runId && r.stages) out.push(r);
    } catch {
      /* a partial or foreign file: skip */
    }
  }
  return out.sort((a, b) => a.finished.localeCompare(b.finished) || a.runId.localeCompare(b.runId));
}

export function allPipelines(root: string): string[] {
  try {
    return readdirSync(runsRoot(root)).filter((d) => existsSync(join(runsRoot(root), d))).sort();
  } catch {
    return [];
  }
}

/** A run record by id or unique id prefix (`latest` = the pipeline's latest run), searched in every pipeline. */
export function findRun(root: string, ref: string, pipeline?: string): RunRecord {
  const pipes = pipeline ? [pipeline] : allPipelines(root);
  if (ref === 'latest') {
    if (!pipeline) throw new ConfigError(`xai compare: 'latest' needs --pipeline <name>`);
    const f = join(runsRoot(root), pipeline, 'latest.json');
    if (!existsSync(f)) throw new ConfigError(`no runs of pipeline '${pipeline}'`);
    return JSON.parse(readFileSync(f, 'utf8')) as RunRecord;
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

/** Key metrics of a run: meta.metrics of its stages' cache entries, as `<stage>.<metric>` (scoreboards first). */
export function runMetrics(root: string, rec: RunRecord): Record<string, number> {
  const out: Record<string, number> = {};
  const stages = Object.entries(rec.stages).sort(([, a], [, b]) => Number(b.kind === 'scoreboard') - Number(a.kind === 'scoreboard'));
  for (const [id, s] of stages) {
    if (!s.key || (s.status !== 'done' && s.status !== 'cached')) continue;
    const safe = s.kind.replace(/[^A-Za-z0-9_.-]/g, '_');
    let meta: Record<string, Json> | undefined;
    try {
      meta = (JSON.parse(readFileSync(join(root, 'artifacts', 'cache', safe, s.key, 'manifest.json'), 'utf8')) as { meta: Record<string, Json> }).meta;
    } catch {
      continue; // entry gone (gc): no metrics
    }
    const m = meta?.metrics;
    if (!m || typeof m !== 'object' || Array.isArray(m)) continue;
    for (const [k, v] of Object.entries(m)) if (typeof v === 'number') out[`${id}.${k}`] = v;
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
  const ids = Object.keys(rec.stages);
  const w = Math.max(...ids.map((i) => i.length));
  const lines = ['outputs:'];
  for (const id of ids) {
    const s = rec.stages[id];
    if (!s.key) continue;
    let m: { tables: Record<string, { file: string; rows: number }>; files: { path: string }[] } | undefined;
    try {
      m = JSON.parse(readFileSync(join(root, 'artifacts', 'cache', s.kind.replace(/[^A-Za-z0-9_.-]/g, '_'), s.key, 'manifest.json'), 'utf8'));
    } catch {
      continue;
    }
    const parts = Object.entries(m!.tables)
      .filter(([n, t]) => !(n.endsWith('_errors') && t.rows === 0))
      .map(([n, t]) => `${n}.arrow (${t.rows} rows)`);
    const tableFiles = new Set(Object.values(m!.tables).map((t) => t.file));
    const groups = new Map<string, Map<string, number>>();
    for (const f of m!.files) {
      if (tableFiles.has(f.path) || f.path === 'manifest.json') continue;
      const slash = f.path.indexOf('/');
      const g = slash < 0 ? f.path : f.path.slice(0, slash + 1);
      const ext = f.path.includes('.') ? f.path.slice(f.path.lastIndexOf('.') + 1) : 'file';
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
