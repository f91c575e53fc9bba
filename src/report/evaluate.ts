// Report section of an evaluate stage: the summary table (per explanation: deletion / insertion AUC, ROAD) and the
// mean deletion and insertion curves of each explanation over the images (docs/evaluate.md).
import type { Entry } from './sources.ts';
import { scalarRows } from './sources.ts';
import { esc, rowsTable, type Site } from './html.ts';

export async function evaluateSections(site: Site, entries: Entry[]): Promise<void> {
  for (const e of entries.filter((x) => x.kind === 'evaluate' && x.hasTable('summary') && x.hasTable('per_image'))) await evaluateSection(site, e);
}

async function evaluateSection(site: Site, e: Entry): Promise<void> {
  const { lineChart } = await import('../viz/svg.ts');
  const r4 = (v: unknown) => (typeof v === 'number' ? Math.round(v * 1e4) / 1e4 : v);
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
