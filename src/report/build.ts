// The report site builder: from a set of committed stage entries (and, from `xai report`, the run record) writes a
// static, self-contained site — index.html, assets/report.css, assets/report.js, images and SVG charts copied next
// to it, no network access, opens from disk. Every section is optional: the report shows what the run has.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry } from './sources.ts';
import { closure, scalarRows } from './sources.ts';
import { Site, esc, jsonDetails, kv, num, table } from './html.ts';
import { imagesSection } from './images.ts';
import { dissectionSections } from './dissection.ts';
import { clipDissectSections } from './clipdissect.ts';
import { evaluateSections } from './evaluate.ts';
import type { RunRecord } from '../engine/runs.ts';

export interface BuildOptions {
  /** Site directory (created; previous report files in it are replaced). */
  outDir: string;
  /** Project root (base of relative dataset roots). */
  root: string;
  title?: string;
  /** Images in the per-image gallery (default 24). */
  maxImages?: number;
  /** Top-activating images drawn per unit (default 5). */
  topImages?: number;
  /** Thumbnail side of the unit images, px (default 96). */
  thumb?: number;
  /** The run record, when building from a run (metadata: status, times, cache hits, config). */
  run?: RunRecord;
  /** Extra scoreboards (e.g. the latest sweep's), shown after the scoreboard stages'. */
  scoreboards?: { title: string; rows: Record<string, unknown>[]; source: string }[];
  /** Time this build's run started (ms since epoch): entries finished before it came from the cache. */
  runStartedMs?: number;
  log?: (msg: string) => void;
}

export interface BuildResult {
  index: string;
  sections: string[];
  files: number;
}

const ASSETS = join(import.meta.dirname, 'assets');

/** Builds the site; returns the path of index.html and the ids of the sections written. */
export async function buildReport(given: Entry[], o: BuildOptions): Promise<BuildResult> {
  const log = o.log ?? (() => {});
  const entries = closure(given);
  // a fresh site: only the report's own subdirectories are removed (an --out dir may hold other things)
  for (const d of ['img', 'charts', 'data', 'assets']) await rm(join(o.outDir, d), { recursive: true, force: true });
  await mkdir(o.outDir, { recursive: true });
  const site = new Site(o.outDir);

  await imagesSection(site, entries, { maxImages: o.maxImages ?? 24, root: o.root, log });
  await dissectionSections(site, entries, { topImages: o.topImages ?? 5, thumb: o.thumb ?? 96, root: o.root, log });
  await clipDissectSections(site, entries);
  await evaluateSections(site, entries);
  await scoreboardSection(site, entries, o.scoreboards ?? []);
  await metadataSection(site, entries, o);

  const pipeline = o.run?.pipeline ?? mostCommon(given.map((e) => e.manifest.pipeline).filter(Boolean));
  const title = o.title ?? (pipeline ? `${pipeline} — xai report` : 'xai report');
  for (const f of ['report.css', 'report.js']) await site.write(`assets/${f}`, await readFile(join(ASSETS, f)));
  const html = page(title, o, site, pipeline);
  const index = join(o.outDir, 'index.html');
  await writeFile(index, html);
  return { index, sections: site.sections.map((s) => s.id), files: site.files + 1 };
}

function mostCommon(xs: string[]): string | undefined {
  const n = new Map<string, number>();
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}

function page(title: string, o: BuildOptions, site: Site, pipeline: string | undefined): string {
  const run = o.run;
  const sub = run
    ? `pipeline <b>${esc(run.pipeline)}</b>${run.config.description ? ` — ${esc(run.config.description)}` : ''}<br>run ${esc(run.runId)} · ${esc(run.status)} · ${run.seconds.toFixed(1)} s · ${esc(run.finished)}`
    : `${pipeline ? `pipeline <b>${esc(pipeline)}</b> · ` : ''}built ${esc(new Date().toISOString())}`;
  const nav = site.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('');
  const body = site.sections.length
    ? site.sections.map((s) => `<section id="${esc(s.id)}"><h2>${esc(s.title)}</h2>\n${s.html}\n</section>`).join('\n')
    : '<section><p>This run has no outputs a report can show (CAM, LIME, dissection, comparison, scoreboard stages).</p></section>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file: data:; style-src 'self' file: 'unsafe-inline'; script-src 'self' file:">
<title>${esc(title)}</title>
<link rel="stylesheet" href="assets/report.css">
</head>
<body>
<header class="top"><div class="wrap"><h1>${esc(title)}</h1><p class="sub">${sub}</p><nav>${nav}</nav></div></header>
<main class="wrap">
${body}
</main>
<footer class="wrap muted">Generated by xai-pipeline ${esc(run?.versions?.xai ?? '')} on ${esc(new Date().toISOString())}. Static files only; opens from disk.</footer>
<script src="assets/report.js"></script>
</body>
</html>
`;
}

/** Scoreboard rows (avg_iou, avg_time, n_images, params) from scoreboard stages and sweeps, with the Pareto plot. */
async function scoreboardSection(site: Site, entries: Entry[], extra: NonNullable<BuildOptions['scoreboards']>): Promise<void> {
  const boards = [...extra];
  // the board's results, with avg_time joined from the timed LIME entry (kept out of the board's table)
  const stageRows = entries
    .filter((e) => e.kind === 'scoreboard' && e.hasTable('scoreboard'))
    .flatMap((e) => scalarRows(e.table('scoreboard')).map((r) => ({ stage: e.stageId, ...r, avg_time: e.board()?.avg_time ?? null })));
  if (stageRows.length) boards.unshift({ title: 'Scoreboard', rows: stageRows, source: 'scoreboard stage(s) of this run' });
  if (!boards.length) return;
  const { scatterChart } = await import('../viz/svg.ts');
  const { paretoFront } = await import('../algo/compare/index.ts');
  const parts: string[] = [];
  for (const b of boards) {
    const rows = b.rows.filter((r) => typeof r.avg_iou === 'number' || typeof r.avg_time === 'number');
    const pts = rows.map((r) => ({ iou: Number(r.avg_iou ?? NaN), time: Number(r.avg_time ?? NaN) }));
    const front = new Set(paretoFront(pts));
    // the parameters that differ between configurations; the full set in a collapsed block
    const flats = rows.map((r) => new Map(paramsOf(r).map(([k, v]) => [k, v])));
    const keys = [...new Set(flats.flatMap((f) => [...f.keys()]))];
    const varying = keys.filter((k) => new Set(flats.map((f) => f.get(k) ?? '∅')).size > 1);
    type Row = Record<string, unknown> & { i: number };
    const label = (r: Record<string, unknown>, i: number) =>
      String(r.label ?? r.run ?? r.run_id ?? (varying.length ? varying.map((k) => `${k.split('.').pop()}=${flats[i].get(k) ?? '∅'}`).join(' ') : (r.stage ?? `#${i + 1}`)));
    const cols = [
      { head: '', cell: (r: Row) => (front.has(r.i) ? '<span class="pareto" title="on the Pareto front">★</span>' : '') },
      { head: 'configuration', cell: (r: Row) => esc(label(r, r.i)), sort: (r: Row) => label(r, r.i) },
      { head: 'avg IoU', cell: (r: Row) => num(r.avg_iou, 4), cls: 'num', sort: (r: Row) => Number(r.avg_iou ?? -1) },
      { head: 'avg time (s/image)', cell: (r: Row) => num(r.avg_time, 4), cls: 'num', sort: (r: Row) => Number(r.avg_time ?? -1) },
      { head: 'forwards / image', cell: (r: Row) => num(r.forwards_per_image), cls: 'num', sort: (r: Row) => Number(r.forwards_per_image ?? -1) },
      { head: 'images', cell: (r: Row) => num(r.n_images), cls: 'num', sort: (r: Row) => Number(r.n_images ?? 0) },
      { head: 'against', cell: (r: Row) => esc(r.against ?? '') },
      ...varying.map((k) => ({ head: esc(k), cell: (r: Row) => `<code>${esc(flats[r.i].get(k) ?? '–')}</code>`, sort: (r: Row) => flats[r.i].get(k) ?? '' })),
      {
        head: 'parameters',
        cell: (r: Row) => (flats[r.i].size ? `<details><summary>${flats[r.i].size} params</summary><code class="params">${[...flats[r.i]].map(([k, v]) => esc(`${k}=${v}`)).join('<br>')}</code></details>` : ''),
      },
    ];
    const indexed: Row[] = rows.map((r, i) => ({ ...r, i }));
    const sorted = [...indexed].sort((x, y) => Number(y.avg_iou ?? -1) - Number(x.avg_iou ?? -1));
    // point labels: the varying values only (the table names them), else the configuration's name
    const pointLabel = (r: Record<string, unknown>, i: number) => (varying.length ? varying.map((k) => flats[i].get(k) ?? '∅').join(', ') : label(r, i));
    let chart = '';
    // a single configuration needs no plot: its row says it all
    if (pts.filter((p) => Number.isFinite(p.iou) && Number.isFinite(p.time)).length > 1) {
      chart = await site.chart(
        `pareto-${b.title}.svg`,
        scatterChart({
          title: `${b.title}: IoU vs time${varying.length ? ` (points: ${varying.map((k) => k.split('.').pop()).join(', ')})` : ''}, Pareto front in red`,
          points: rows.map((r, i) => ({ x: Number(r.avg_time ?? NaN), y: Number(r.avg_iou ?? NaN), label: rows.length <= 12 ? pointLabel(r, i) : undefined })),
          pareto: [...front],
          xLabel: 'average time per image (s)',
          yLabel: 'average IoU',
          width: 560,
          height: 380,
        }),
        `${rows.length} configuration(s), ${front.size} on the Pareto front (★: no other configuration is both better and faster)`,
      );
    }
    const head = boards.length > 1 || b.title !== 'Scoreboard' ? `<h3>${esc(b.title)}</h3>` : '';
    parts.push(`${head}<p class="muted">${esc(b.source)}; avg IoU = mean IoU of the LIME masks with one reference for every image (column against: the ground truth, or the CAM; mixed only when asked for); avg time = seconds per image of the LIME stage, measured with nothing else computing beside it (a measurement, kept apart from the results); forwards / image = model forwards per image (the deterministic cost).</p>${chart}<div class="tablewrap">${table(sorted, cols, 'class="data sortable"')}</div>`);
  }
  site.add({ id: 'scoreboard', title: 'Scoreboard', html: parts.join('\n') });
}

/** A row's parameters as flat key=value pairs (`params` JSON or object, else `overrides`). */
function paramsOf(r: Record<string, unknown>): [string, string][] {
  let p = r.params ?? r.overrides;
  if (typeof p === 'string') {
    try {
      p = JSON.parse(p);
    } catch {
      return [['params', p as string]];
    }
  }
  if (Array.isArray(p)) return p.map((x, i) => [String(i), typeof x === 'string' ? x : JSON.stringify(x)]);
  if (p && typeof p === 'object') return flat(p as Record<string, unknown>);
  return [];
}

function flat(o: Record<string, unknown>, prefix = ''): [string, string][] {
  return Object.entries(o).flatMap(([k, v]): [string, string][] =>
    v && typeof v === 'object' && !Array.isArray(v) ? flat(v as Record<string, unknown>, `${prefix}${k}.`) : [[`${prefix}${k}`, JSON.stringify(v)]],
  );
}

/** Run metadata: the run record when there is one (config, versions, times, cache hits), else the entries' manifests. */
async function metadataSection(site: Site, entries: Entry[], o: BuildOptions): Promise<void> {
  const parts: string[] = [];
  const run = o.run;
  if (run) {
    const st = Object.values(run.stages);
    const cached = st.filter((s) => s.status === 'cached').length;
    const done = st.filter((s) => s.status === 'done').length;
    parts.push(
      kv([
        ['pipeline', `${esc(run.pipeline)} <span class="muted">(${esc(run.file)})</span>`],
        ['run', esc(run.runId)],
        ['status', `<span class="status ${esc(run.status)}">${esc(run.status)}</span>`],
        ['started', esc(run.started)],
        ['finished', `${esc(run.finished)} (${run.seconds.toFixed(2)} s)`],
        ['stages', `${st.length}: ${done} computed, ${cached} from the cache${st.length - done - cached ? `, ${st.length - done - cached} other` : ''}`],
        ['command', `<code>${esc(['xai', ...run.argv].join(' '))}</code>`],
        ['overrides', run.overrides.length ? run.overrides.map((x) => `<code>${esc(x)}</code>`).join(' ') : '<span class="muted">none</span>'],
        ['host', `${esc(run.host)} · ${run.jobs} job(s)`],
        ['backends', esc((run.backends ?? []).map((b) => (typeof b === 'string' ? b : JSON.stringify(b))).join(', ') || '–')],
        ['versions', esc(Object.entries(run.versions ?? {}).map(([k, v]) => `${k} ${v}`).join(' · '))],
        ['pipeline file sha256', `<code>${esc(run.fileHash.slice(0, 16))}…</code>`],
      ]),
    );
    const rows = Object.entries(run.stages).map(([id, s]) => ({ id, ...s }));
    parts.push(
      table(
        rows,
        [
          { head: 'stage', cell: (r) => `<b>${esc(r.id)}</b>` },
          { head: 'kind', cell: (r) => `${esc(r.kind)} <span class="muted">v${esc(r.version)}</span>` },
          { head: 'status', cell: (r) => `<span class="status ${esc(r.status)}">${esc(r.status === 'done' ? 'computed' : r.status)}</span>` },
          { head: 'compute time (s)', cell: (r) => (r.seconds !== undefined ? r.seconds.toFixed(2) + (r.status === 'cached' ? ' <span class="muted">(when computed)</span>' : '') : '–'), cls: 'num' },
          { head: 'items', cell: (r) => esc(Object.entries(r.map ?? {}).map(([t, m]) => `${t}: ${m.items}${m.resumed ? ` (${m.resumed} resumed)` : ''}${m.errors ? `, ${m.errors} bad` : ''}`).join('; ')) },
          { head: 'key', cell: (r) => (r.key ? `<code title="${esc(r.key)}">${esc(r.key.slice(0, 10))}</code>` : '–') },
          { head: 'params', cell: (r) => jsonDetails('params', r.params) + (r.error ? `<div class="error">${esc(r.error)}</div>` : '') },
        ],
        'class="data meta"',
      ),
    );
    parts.push(jsonDetails('Resolved configuration (every stage with defaults applied)', run.config));
  } else {
    const t0 = o.runStartedMs;
    const rows = entries.map((e) => ({ e, finished: Date.parse(e.manifest.timings?.finished ?? '') }));
    const versions = entries.map((e) => e.manifest.versions).find((v) => v && Object.keys(v).length) ?? {};
    parts.push(
      kv([
        ['stages', `${entries.length} upstream stage output(s) of this report`],
        ['versions', esc(Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(' · '))],
      ]),
    );
    parts.push(
      table(
        rows,
        [
          { head: 'stage', cell: (r) => `<b>${esc(r.e.stageId)}</b>` },
          { head: 'kind', cell: (r) => `${esc(r.e.kind)} <span class="muted">v${esc(r.e.manifest.version)}</span>` },
          {
            head: 'status',
            cell: (r) => (t0 === undefined || !Number.isFinite(r.finished) ? '–' : r.finished >= t0 ? '<span class="status done">computed</span>' : '<span class="status cached">cached</span>'),
          },
          { head: 'time (s)', cell: (r) => num(r.e.manifest.timings?.seconds, 2), cls: 'num' },
          { head: 'finished', cell: (r) => esc(r.e.manifest.timings?.finished ?? '') },
          { head: 'key', cell: (r) => `<code title="${esc(r.e.key)}">${esc(r.e.key.slice(0, 10))}</code>` },
          { head: 'params', cell: (r) => jsonDetails('params', r.e.manifest.params) },
        ],
        'class="data meta"',
      ),
    );
    if (t0 !== undefined) parts.push(`<p class="muted">computed = the stage's output was written after this run started; cached = reused from an earlier run.</p>`);
  }
  site.add({ id: 'metadata', title: 'Run metadata', html: parts.join('\n') });
}
