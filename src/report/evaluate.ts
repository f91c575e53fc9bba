// Report sections on faithfulness (docs/evaluate.md): an evaluate stage's summary table (per explanation: deletion /
// insertion AUC, ROAD) and mean deletion and insertion curves; a sanity-check stage's similarity-vs-depth plot (one
// line per explanation) and table; a lime-stability stage's table.
import type { Entry } from './sources.ts';
import { scalarRows } from './sources.ts';
import { esc, rowsTable, type Site } from './html.ts';

export async function evaluateSections(site: Site, entries: Entry[]): Promise<void> {
  for (const e of entries.filter((x) => x.kind === 'evaluate' && x.hasTable('summary') && x.hasTable('per_image'))) await evaluateSection(site, e);
  for (const e of entries.filter((x) => x.kind === 'sanity-check' && x.hasTable('summary'))) await sanitySection(site, e);
  for (const e of entries.filter((x) => x.kind === 'lime-stability' && x.hasTable('summary'))) stabilitySection(site, e);
}

const r4 = (v: unknown) => (typeof v === 'number' ? Math.round(v * 1e4) / 1e4 : v);

/** The randomisation sanity check: mean similarity to the original map vs the number of randomised layers, one line per explanation. */
async function sanitySection(site: Site, e: Entry): Promise<void> {
  const { lineChart } = await import('../viz/svg.ts');
  const rows = scalarRows(e.table('summary')) as Record<string, unknown>[];
  const layers = rows.filter((r) => r.metric === 'spearman_abs' && r.explanation === rows[0]?.explanation).map((r) => [r.step as number, r.randomised as string] as const);
  const charts: string[] = [];
  for (const [metric, title] of [['spearman_abs', "Spearman's ρ (|map|) to the original"], ['ssim', 'SSIM to the original']] as const) {
    const by = new Map<string, [number, number][]>();
    for (const r of rows) {
      if (r.metric !== metric || r.mean === null) continue;
      const name = r.explanation as string;
      by.set(name, [...(by.get(name) ?? [[0, 1]]), [r.step as number, r.mean as number]]);
    }
    if (!by.size) continue;
    const series = [...by].map(([label, points]) => ({ label, points: points.sort((a, b) => a[0] - b[0]) }));
    charts.push(await site.chart(`sanity-${e.stageId}-${metric}.svg`, lineChart({ title, series, xLabel: 'layers randomised (from the logits down)', yLabel: `${metric} (mean over images)` })));
  }
  const table = rows.filter((r) => r.metric === 'spearman_abs' || r.metric === 'ssim').map((r) => ({ explanation: r.explanation, step: r.step, randomised: r.randomised, metric: r.metric, n: r.n, mean: r4(r.mean), std: r4(r.std) }));
  const html = [
    `<p>Model-parameter randomisation test (Adebayo et al. 2018): the model's weighted layers re-initialised one more per step from the logits down (${esc(layers.map(([k, n]) => `${k}: ${n}`).join(', '))}), each CAM recomputed and compared with the original map. A method that explains the model loses similarity as layers are randomised; a map that stays similar does not depend on those weights. See docs/evaluate.md.</p>`,
    charts.join('\n'),
    rowsTable(table),
  ].join('\n');
  site.add({ id: `sanity-${e.stageId}`, title: `Faithfulness: sanity check (${e.stageId})`, html });
}

/** LIME stability over seeds: the summary table. */
function stabilitySection(site: Site, e: Entry): void {
  const rows = (scalarRows(e.table('summary')) as Record<string, unknown>[]).map((r) => ({ metric: r.metric, n: r.n, mean: r4(r.mean), median: r4(r.median), std: r4(r.std), min: r4(r.min), max: r4(r.max) }));
  const seeds = e.manifest.meta?.seeds;
  const html = [
    `<p>LIME rerun with ${esc(String(seeds ?? 'K'))} sampling seeds per image (the lime stage's params and segments): mean pairwise Jaccard of the masks, mean pairwise Kendall's τ-b of the top-k superpixel weights, spread of the surrogate's R². See docs/evaluate.md.</p>`,
    rowsTable(rows),
  ].join('\n');
  site.add({ id: `stability-${e.stageId}`, title: `Faithfulness: LIME stability (${e.stageId})`, html });
}

async function evaluateSection(site: Site, e: Entry): Promise<void> {
  const { lineChart } = await import('../viz/svg.ts');
  const summary = (scalarRows(e.table('summary')) as Record<string, unknown>[]).map((r) => ({
    explanation: r.explanation, metric: r.metric, n: r.n, mean: r4(r.mean), std: r4(r.std), min: r4(r.min), max: r4(r.max),
  }));
  // Mean curve per explanation (images where the curve exists).
  const t = e.table('per_image');
  const expl = t.getChild('explanation')!;
  const charts: string[] = [];
  for (const [col, title] of [['deletion_curve', 'Deletion (lower area = more faithful)'], ['insertion_curve', 'Insertion (higher area = more faithful)']] as const) {
    const c = t.getChild(col);
    if (!c) continue;
    const sums = new Map<string, { s: Float64Array; n: number }>();
    for (let r = 0; r < t.numRows; r++) {
      const v = c.get(r) as { toArray(): Float32Array } | null;
      if (!v) continue;
      const a = v.toArray();
      const name = expl.get(r) as string;
      const acc = sums.get(name) ?? { s: new Float64Array(a.length), n: 0 };
      a.forEach((x, i) => (acc.s[i] += x));
      acc.n++;
      sums.set(name, acc);
    }
    if (!sums.size) continue;
    const series = [...sums].map(([label, { s, n }]) => ({ label, points: Array.from(s, (v, i) => [i / (s.length - 1), v / n] as [number, number]) }));
    charts.push(await site.chart(`evaluate-${e.stageId}-${col}.svg`, lineChart({ title, series, xLabel: 'fraction of pixels (by saliency)', yLabel: 'target probability (mean)' })));
  }
  const html = [
    `<p>Faithfulness of each explanation to the model (${esc(String(new Set(summary.map((r) => r.explanation)).size))} explanations): deletion / insertion curves (Petsiuk et al.) and ROAD (pytorch-grad-cam). See docs/evaluate.md.</p>`,
    charts.join('\n'),
    rowsTable(summary),
  ].join('\n');
  site.add({ id: `evaluate-${e.stageId}`, title: `Faithfulness: ${e.stageId}`, html });
}
