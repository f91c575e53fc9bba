// Stage `quantile-thresholds` (Network Dissection, step 2): per unit, T_k = np.percentile(a_k, 100·(1 − q)) over all
// images and positions of the stored feature maps (NetDissect-Lite's quantile_threshold; q = QUANTILE = 0.005), exact.
// Streams the collect-activations parts one at a time through TopQuantile (src/algo/dissect/quantile.ts), which keeps
// only the top ≈ q·N·H·W values of each unit (8 bytes per kept value). Memory budget: `memoryMB` (default 512 MiB)
// bounds those buffers; a layer whose units need more is processed in unit groups, one pass over its parts per group
// (exact either way). Broden (63,305 images) at q = 0.005: ResNet-18 layer2 (128 units, 28×28) needs 254 MB, layer3
// 127 MB, layer4 63 MB — one pass each within the default budget.
import type { Json, StageDef } from '../src/engine/types.ts';

export interface QuantileParams {
  quantile: number;
  memoryMB: number;
}

export default {
  kind: 'quantile-thresholds',
  version: '1',
  description: 'Network Dissection: exact per-unit top-quantile activation thresholds T_k (P(a_k > T_k) = q)',
  params: {
    type: 'object',
    properties: {
      quantile: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.005, description: 'q: fraction of activations above T_k (NetDissect QUANTILE)' },
      memoryMB: { type: 'number', exclusiveMinimum: 0, default: 512, description: 'budget for the exact selection buffers; larger layers take several passes' },
    },
  },
  inputs: {
    activations: { description: 'a collect-activations stage', kinds: ['collect-activations'] },
  },
  outputs: {
    thresholds: { description: 'one row per unit: layer, unit, threshold (float64)', type: 'table' },
  },
  async run(ctx) {
    const { Field, Float64, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { TopQuantile } = await import('../src/algo/dissect/index.ts');
    const io = await import('../src/explain/dissect/store.ts');
    const { quantile: q, memoryMB } = ctx.params;
    const up = ctx.inputs.activations;
    const index = io.featureIndex(up);
    const budget = memoryMB * 2 ** 20;

    // Work plan: per layer, unit groups that fit the budget.
    const plan = index.layers.map((l) => {
      const total = index.images * l.height * l.width;
      const perUnit = TopQuantile.bytesFor(1, total, q);
      const groupUnits = Math.max(1, Math.min(l.units, Math.floor(budget / perUnit)));
      const groups: [number, number][] = [];
      for (let u = 0; u < l.units; u += groupUnits) groups.push([u, Math.min(l.units, u + groupUnits)]);
      return { l, total, perUnit, groups };
    });
    const passes = plan.reduce((s, x) => s + x.groups.length, 0);
    const work = passes * index.parts.length;
    let done = 0;
    const scratch: { buf?: Uint8Array } = {};
    const rows: { layer: string; unit: number; threshold: number }[] = [];
    const memo: Record<string, Json> = {};
    for (const { l, total, perUnit, groups } of plan) {
      const th = new Float64Array(l.units);
      const hw = l.height * l.width;
      for (const [u0, u1] of groups) {
        const tq = new TopQuantile(u1 - u0, total, q);
        for (const part of index.parts) {
          if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('interrupted');
          // read into one reused buffer (the part is consumed before the next read)
          const path = io.partPath(up, l, part);
          const pt = io.readPart(path, l.units, l.height, l.width, io.readReusing(path, scratch));
          for (let b = 0; b < pt.images.length; b++) {
            // maps whose stored maximum is at most the unit's current cutoff are counted, not scanned
            for (let u = u0; u < u1; u++) tq.addUnitValuesMax(u - u0, pt.maps, (b * l.units + u) * hw, hw, pt.maxima[b * l.units + u]);
          }
          ctx.progress(++done, work, 'parts');
          await new Promise((r) => setImmediate(r));
        }
        th.set(tq.thresholds(), u0);
      }
      for (let u = 0; u < l.units; u++) rows.push({ layer: l.layer, unit: u, threshold: th[u] });
      const bufferMb = Math.round((perUnit * (groups[0][1] - groups[0][0]) * 10) / 2 ** 20) / 10;
      memo[l.layer] = { units: l.units, values_per_unit: total, passes: groups.length, buffer_mb: bufferMb };
      ctx.log.info(`${l.layer}: ${l.units} thresholds from ${total} values/unit in ${groups.length} pass(es), selection buffers ${bufferMb} MiB`);
    }
    const schema = new Schema([new Field('layer', new Utf8(), false), new Field('unit', new Int32(), false), new Field('threshold', new Float64(), false)]);
    await ctx.out.table('thresholds', tableFromRows(rows, schema));
    ctx.out.meta('quantile', q);
    ctx.out.meta('layers', memo);
  },
} satisfies StageDef<QuantileParams>;
