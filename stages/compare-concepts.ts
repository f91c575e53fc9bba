// Stage `compare-concepts`: compares the interpretable concepts of two dissections (inputs a and b: label-units
// stages, e.g. the same layers of an ImageNet and a Places365 ResNet-18): shared concepts with their unit counts on
// each side, and the concepts only one of them has (src/algo/dissect/stats.ts compareDissections). Layers are pooled
// (all by default, or the listed ones per side). Arrow table + SVG charts. Either side may be a describe-units stage
// (CLIP-Dissect descriptions: every unit counts).
import type { StageDef } from '../src/engine/types.ts';

export interface CompareParams {
  nameA?: string;
  nameB?: string;
  layersA?: string[];
  layersB?: string[];
  chartMax: number;
}

export default {
  kind: 'compare-concepts',
  version: '1',
  description: 'Shared and exclusive interpretable concepts of two dissections, with unit counts (+ SVG)',
  params: {
    type: 'object',
    properties: {
      nameA: { type: 'string', minLength: 1, description: 'display name of a (default: its stage id)' },
      nameB: { type: 'string', minLength: 1, description: 'display name of b (default: its stage id)' },
      layersA: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'layers of a to pool (default all)' },
      layersB: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'layers of b to pool (default all)' },
      chartMax: { type: 'integer', minimum: 1, maximum: 1000, default: 40, description: 'concepts drawn per chart' },
    },
  },
  inputs: {
    a: { description: 'a label-units or describe-units stage', kinds: ['label-units', 'describe-units'] },
    b: { description: 'another label-units or describe-units stage', kinds: ['label-units', 'describe-units'] },
  },
  outputs: {
    concepts: { description: 'concept, category, units_a, units_b, status (shared | only_a | only_b)', type: 'table' },
    'overlap.svg': { description: 'number of shared / only-a / only-b concepts', type: 'file' },
    'shared.svg': { description: 'unit counts of the shared concepts, a vs b', type: 'file' },
    'only-a.svg': { description: 'concepts only in a', type: 'file' },
    'only-b.svg': { description: 'concepts only in b', type: 'file' },
  },
  async run(ctx) {
    const { Field, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { ConfigError } = await import('../src/engine/errors.ts');
    const { compareDissections } = await import('../src/algo/dissect/index.ts');
    const { barChart, groupedBarChart, hBarChart } = await import('../src/viz/svg.ts');
    const io = await import('../src/explain/dissect/store.ts');
    const p = ctx.params;
    const side = async (name: 'a' | 'b', layers?: string[]) => {
      const up = ctx.inputs[name];
      const by = io.unitsByLayer(await up.table('units'));
      for (const l of layers ?? []) {
        if (!by.has(l)) throw new ConfigError(`input '${name}' (stage '${up.stageId}') has no layer '${l}' (has ${[...by.keys()].join(', ')})`, { path: `stages.${ctx.stageId}.params.layers${name.toUpperCase()}` });
      }
      return (layers ?? [...by.keys()]).flatMap((l) => by.get(l)!);
    };
    const a = await side('a', p.layersA);
    const b = await side('b', p.layersB);
    const nameA = p.nameA ?? ctx.inputs.a.stageId;
    const nameB = p.nameB ?? ctx.inputs.b.stageId;
    const cmp = compareDissections(a, b);
    const rows = [
      ...cmp.shared.map((c) => ({ concept: c.name, category: c.category, units_a: c.countA, units_b: c.countB, status: 'shared' })),
      ...cmp.onlyA.map((c) => ({ concept: c.name, category: c.category, units_a: c.count, units_b: 0, status: 'only_a' })),
      ...cmp.onlyB.map((c) => ({ concept: c.name, category: c.category, units_a: 0, units_b: c.count, status: 'only_b' })),
    ];
    const schema = new Schema([
      new Field('concept', new Utf8(), false),
      new Field('category', new Utf8(), false),
      new Field('units_a', new Int32(), false),
      new Field('units_b', new Int32(), false),
      new Field('status', new Utf8(), false),
    ]);
    await ctx.out.table('concepts', tableFromRows(rows, schema));
    await ctx.out.file(
      'overlap.svg',
      barChart({ title: `Interpretable concepts: ${nameA} vs ${nameB}`, labels: ['shared', `only ${nameA}`, `only ${nameB}`], values: [cmp.shared.length, cmp.onlyA.length, cmp.onlyB.length], yLabel: 'concepts', showValues: true }),
    );
    const sh = cmp.shared.slice(0, p.chartMax);
    await ctx.out.file(
      'shared.svg',
      groupedBarChart({
        title: `Shared concepts (${cmp.shared.length}${sh.length < cmp.shared.length ? `, top ${sh.length} shown` : ''}): units`,
        groups: sh.map((c) => c.name),
        series: [
          { name: nameA, values: sh.map((c) => c.countA) },
          { name: nameB, values: sh.map((c) => c.countB) },
        ],
        yLabel: 'units',
      }),
    );
    for (const [file, list, who] of [['only-a.svg', cmp.onlyA, nameA], ['only-b.svg', cmp.onlyB, nameB]] as const) {
      const shown = list.slice(0, p.chartMax);
      await ctx.out.file(
        file,
        hBarChart({
          title: `Only in ${who} (${list.length}${shown.length < list.length ? `, top ${shown.length} shown` : ''})`,
          items: shown.map((c) => ({ label: c.name, value: c.count, group: c.category })),
          xLabel: 'units',
        }),
      );
    }
    ctx.out.meta('names', { a: nameA, b: nameB });
    ctx.out.meta('counts', { shared: cmp.shared.length, only_a: cmp.onlyA.length, only_b: cmp.onlyB.length });
    ctx.log.info(`${cmp.shared.length} shared concepts, ${cmp.onlyA.length} only in ${nameA}, ${cmp.onlyB.length} only in ${nameB}`);
  },
} satisfies StageDef<CompareParams>;
