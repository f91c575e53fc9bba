// Stage `unit-agreement`: per unit, whether Network Dissection (label-units) and CLIP-Dissect (describe-units) give
// the same concept or the same category, for the layers both labelled on the same model (the cross-check of the
// CLIP-Dissect paper; src/algo/clipdissect/agreement.ts). Arrow tables + meta summary for the report.
import type { Json, StageDef } from '../src/engine/types.ts';

export default {
  kind: 'unit-agreement',
  version: '1',
  description: 'Per-unit agreement of Network Dissection and CLIP-Dissect labels (same concept / same category) on one model',
  params: { type: 'object', properties: {} },
  inputs: {
    netdissect: { description: 'a label-units stage', kinds: ['label-units'] },
    clipdissect: { description: 'a describe-units stage over the same model', kinds: ['describe-units'] },
  },
  outputs: {
    units: {
      description: 'layer, unit, netdissect, netdissect_category, iou, interpretable, clipdissect, clipdissect_category, similarity, same_concept, same_category',
      type: 'table',
      columns: {
        netdissect: "the unit's Network Dissection label",
        netdissect_category: 'category of the Network Dissection label',
        clipdissect: "the unit's CLIP-Dissect description",
        clipdissect_category: 'category of the CLIP-Dissect description',
        same_concept: 'both methods name the same concept',
        same_category: 'both concepts are of the same category',
      },
    },
    layers: {
      description: 'layer, units, interpretable, same_concept, same_category, same_concept_interpretable, same_category_interpretable',
      type: 'table',
      columns: {
        same_concept: 'units whose two labels are the same concept [count]',
        same_category: 'units whose two labels are of the same category [count]',
        same_concept_interpretable: 'Network Dissection-interpretable units with the same concept [count]',
        same_category_interpretable: 'Network Dissection-interpretable units with the same category [count]',
      },
    },
  },
  async run(ctx) {
    const { Bool, Field, Float32, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { ConfigError } = await import('../src/engine/errors.ts');
    const { unitAgreement, layerAgreement } = await import('../src/algo/clipdissect/index.ts');
    const io = await import('../src/explain/dissect/store.ts');
    const nd = ctx.inputs.netdissect, cd = ctx.inputs.clipdissect;
    if (JSON.stringify(nd.meta.model ?? null) !== JSON.stringify(cd.meta.model ?? null)) {
      throw new ConfigError(`'${nd.stageId}' and '${cd.stageId}' labelled different models`, { path: `stages.${ctx.stageId}.inputs`, expected: 'both on the same load-model stage' });
    }
    const flat = (by: Map<string, import('../src/algo/dissect/label.ts').UnitLabel[]>) =>
      [...by].flatMap(([layer, us]) => us.map((u) => ({ layer, unit: u.unit, label: u.name, category: u.category, interpretable: u.interpretable, score: u.iou })));
    const a = flat(io.unitsByLayer(await nd.table('units')));
    const b = flat(io.unitsByLayer(await cd.table('units')));
    const rows = unitAgreement(a, b);
    if (rows.length === 0) throw new ConfigError(`'${nd.stageId}' and '${cd.stageId}' share no layer`, { path: `stages.${ctx.stageId}.inputs` });
    const layers = layerAgreement(rows);
    const score = new Map(b.map((u) => [`${u.layer}\u0000${u.unit}`, u.score]));
    const iou = new Map(a.map((u) => [`${u.layer}\u0000${u.unit}`, u.score]));
    const F = (n: string, t: InstanceType<typeof Utf8 | typeof Int32 | typeof Float32 | typeof Bool>) => new Field(n, t, false);
    await ctx.out.table(
      'units',
      tableFromRows(
        rows.map((r) => ({
          layer: r.layer, unit: r.unit, netdissect: r.a.label, netdissect_category: r.a.category, iou: iou.get(`${r.layer}\u0000${r.unit}`),
          interpretable: r.a.interpretable, clipdissect: r.b.label, clipdissect_category: r.b.category, similarity: score.get(`${r.layer}\u0000${r.unit}`),
          same_concept: r.sameConcept, same_category: r.sameCategory,
        })),
        new Schema([
          F('layer', new Utf8()), F('unit', new Int32()), F('netdissect', new Utf8()), F('netdissect_category', new Utf8()), F('iou', new Float32()),
          F('interpretable', new Bool()), F('clipdissect', new Utf8()), F('clipdissect_category', new Utf8()), F('similarity', new Float32()),
          F('same_concept', new Bool()), F('same_category', new Bool()),
        ]),
      ),
    );
    const layerRows = layers.map((l) => ({
      layer: l.layer, units: l.units, interpretable: l.interpretableA, same_concept: l.sameConcept, same_category: l.sameCategory,
      same_concept_interpretable: l.sameConceptInterpretable, same_category_interpretable: l.sameCategoryInterpretable,
    }));
    await ctx.out.table(
      'layers',
      tableFromRows(layerRows, new Schema(['layer', 'units', 'interpretable', 'same_concept', 'same_category', 'same_concept_interpretable', 'same_category_interpretable'].map((n) => F(n, n === 'layer' ? new Utf8() : new Int32())))),
    );
    for (const l of layerRows) {
      ctx.log.info(`${l.layer}: ${l.same_concept}/${l.units} units same concept, ${l.same_category}/${l.units} same category (interpretable under Network Dissection: ${l.same_concept_interpretable}/${l.interpretable}, ${l.same_category_interpretable}/${l.interpretable})`);
    }
    ctx.out.meta('layers', layerRows as unknown as Json);
  },
} satisfies StageDef<Record<string, never>>;
