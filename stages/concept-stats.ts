// Stage `concept-stats` (Network Dissection, statistics): per layer, the number of interpretable units per concept
// (the histograms of Bau et al. / the seed, with its top-3 per layer), the number of unique concepts, interpretable
// units per category; Arrow tables + SVG bar charts for the report (src/algo/dissect/stats.ts, src/viz/svg.ts).
// The labels may also come from describe-units (CLIP-Dissect), where every unit has a description (interpretable).
import type { Json, StageDef } from '../src/engine/types.ts';

export interface ConceptStatsParams {
  top: number;
  histogramMax: number;
}

export default {
  kind: 'concept-stats',
  version: '1',
  description: 'Network Dissection statistics: units per concept per layer, unique concepts, interpretable units per category (+ SVG)',
  params: {
    type: 'object',
    properties: {
      top: { type: 'integer', minimum: 1, maximum: 100, default: 3, description: 'most frequent concepts listed per layer' },
      histogramMax: { type: 'integer', minimum: 1, maximum: 1000, default: 60, description: 'concepts drawn per histogram (the most frequent)' },
    },
  },
  inputs: {
    labels: { description: 'a label-units stage (Network Dissection) or a describe-units stage (CLIP-Dissect: every unit counts)', kinds: ['label-units', 'describe-units'] },
  },
  outputs: {
    concept_counts: { description: 'layer, concept, category, units (interpretable units labelled with the concept)', type: 'table' },
    layer_summary: { description: 'layer, units, interpretable, unique_concepts, top (the most frequent concepts)', type: 'table' },
    category_counts: { description: 'layer, category, interpretable units', type: 'table' },
    top_concepts: { description: 'layer, rank, concept, category, units', type: 'table' },
    'histogram-<layer>.svg': { description: 'units per concept of a layer, coloured by category', type: 'files' },
    'categories.svg': { description: 'interpretable units per category, one series per layer', type: 'file' },
    'unique-concepts.svg': { description: 'unique concepts per layer', type: 'file' },
  },
  async run(ctx) {
    const { Field, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { conceptCounts, layerSummary } = await import('../src/algo/dissect/index.ts');
    const { barChart, groupedBarChart, hBarChart } = await import('../src/viz/svg.ts');
    const io = await import('../src/explain/dissect/store.ts');
    const p = ctx.params;
    const lab = ctx.inputs.labels;
    const byLayer = io.unitsByLayer(await lab.table('units'));
    const categories = (lab.meta.categories as string[] | undefined) ?? [...new Set([...byLayer.values()].flat().map((u) => u.category))];
    const taken = new Set<string>();

    const countRows: Record<string, unknown>[] = [];
    const summaryRows: Record<string, unknown>[] = [];
    const catRows: Record<string, unknown>[] = [];
    const topRows: Record<string, unknown>[] = [];
    const meta: Record<string, Json> = {};
    const layers = [...byLayer.keys()];
    for (const layer of layers) {
      const units = byLayer.get(layer)!;
      const counts = conceptCounts(units);
      const s = layerSummary(layer, units, categories, p.top);
      for (const c of counts) countRows.push({ layer, concept: c.name, category: c.category, units: c.count });
      summaryRows.push({ layer, units: s.units, interpretable: s.interpretable, unique_concepts: s.uniqueConcepts, top: s.top.map((t) => `${t.name} (${t.count})`).join(', ') });
      for (const c of categories) catRows.push({ layer, category: c, interpretable: s.perCategory[c] ?? 0 });
      s.top.forEach((t, r) => topRows.push({ layer, rank: r + 1, concept: t.name, category: t.category, units: t.count }));
      meta[layer] = { units: s.units, interpretable: s.interpretable, unique_concepts: s.uniqueConcepts, top: s.top.map((t) => ({ concept: t.name, category: t.category, units: t.count })) };
      const shown = counts.slice(0, p.histogramMax);
      const svg = hBarChart({
        title: `${layer}: ${s.interpretable}/${s.units} interpretable units, ${s.uniqueConcepts} unique concepts${counts.length > shown.length ? ` (top ${shown.length} shown)` : ''}`,
        items: shown.map((c) => ({ label: c.name, value: c.count, group: c.category })),
        xLabel: 'units',
      });
      await ctx.out.file(`histogram-${io.layerDir(layer, taken)}.svg`, svg);
      ctx.log.info(`${layer}: ${s.interpretable}/${s.units} interpretable, ${s.uniqueConcepts} unique concepts; top ${s.top.map((t) => `${t.name} (${t.count})`).join(', ') || '—'}`);
    }
    await ctx.out.file(
      'categories.svg',
      groupedBarChart({
        title: 'Interpretable units per category',
        groups: categories,
        series: layers.map((l) => ({ name: l, values: categories.map((c) => catRows.find((r) => r.layer === l && r.category === c)!.interpretable as number) })),
        yLabel: 'units',
      }),
    );
    await ctx.out.file(
      'unique-concepts.svg',
      barChart({ title: 'Unique concepts per layer', labels: layers, values: layers.map((l) => (meta[l] as { unique_concepts: number }).unique_concepts), yLabel: 'concepts', showValues: true }),
    );

    const S = (fields: [string, 'utf8' | 'int32'][]) => new Schema(fields.map(([n, t]) => new Field(n, t === 'utf8' ? new Utf8() : new Int32(), false)));
    await ctx.out.table('concept_counts', tableFromRows(countRows, S([['layer', 'utf8'], ['concept', 'utf8'], ['category', 'utf8'], ['units', 'int32']])));
    await ctx.out.table(
      'layer_summary',
      tableFromRows(summaryRows, S([['layer', 'utf8'], ['units', 'int32'], ['interpretable', 'int32'], ['unique_concepts', 'int32'], ['top', 'utf8']])),
    );
    await ctx.out.table('category_counts', tableFromRows(catRows, S([['layer', 'utf8'], ['category', 'utf8'], ['interpretable', 'int32']])));
    await ctx.out.table('top_concepts', tableFromRows(topRows, S([['layer', 'utf8'], ['rank', 'int32'], ['concept', 'utf8'], ['category', 'utf8'], ['units', 'int32']])));
    ctx.out.meta('layers', meta);
    ctx.out.meta('categories', categories);
  },
} satisfies StageDef<ConceptStatsParams>;
