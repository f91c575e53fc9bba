// Stage `quantile-thresholds` (Network Dissection, step 2): per unit, T_k = np.percentile(a_k, 100·(1 − q)) over all
// images and positions of the stored feature maps (NetDissect-Lite's quantile_threshold; q = QUANTILE = 0.005), exact.
// Streams the collect-activations parts one at a time through TopQuantile (src/algo/dissect/quantile.ts), which keeps
// only the top ≈ q·N·H·W values of each unit (8 bytes per kept value). Memory budget: `memoryMB` (default 512 MiB)
// bounds those buffers; a layer whose units need more is processed in unit groups, one pass over its parts per group
// (exact either way); units are split between worker threads, each part read once into shared memory and posted to
// all of them (src/explain/dissect/pool.ts). Broden (63,305 images) at q = 0.005: ResNet-18 layer2 (128 units, 28×28) needs 254 MB, layer3
// 127 MB, layer4 63 MB — one pass each within the default budget.
import type { Json, StageDef } from '../src/engine/types.ts';

export interface QuantileParams {
  quantile: number;
  memoryMB: number;
  workers?: number;
}

export default {
  kind: 'quantile-thresholds',
  version: '1',
  description: 'Network Dissection: exact per-unit top-quantile activation thresholds T_k (P(a_k > T_k) = q)',
  keyExclude: ['workers'], // any thread count gives the same outputs
  params: {
    type: 'object',
    properties: {
      quantile: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.005, description: 'q: fraction of activations above T_k (NetDissect QUANTILE)' },
      memoryMB: { type: 'number', exclusiveMinimum: 0, default: 512, description: 'budget for the exact selection buffers; larger layers take several passes' },
      workers: { type: 'integer', minimum: 1, maximum: 64, description: 'threads for the selection, units split between them (default: min(4, CPU cores)); same result for any value' },
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
    const source = io.featureSource(up);
    const budget = memoryMB * 2 ** 20;
    const schema = new Schema([new Field('layer', new Utf8(), false), new Field('unit', new Int32(), false), new Field('threshold', new Float64(), false)]);
    if (source.recompute) {
      // disk-light (collect-activations maps: false): the maps recomputed, one forward per pass over the listed images
      const { recomputeThresholds } = await import('../src/explain/dissect/forward.ts');
      const { openUpstreamModel } = await import('../src/model/index.ts');
      const { openDataset, refFromMeta } = await import('../src/data/index.ts');
      const model = await openUpstreamModel({ stageId: up.stageId, meta: { config: up.meta.model } }, ctx.projectRoot);
      const ds = await openDataset(refFromMeta(up.meta, up.stageId), { baseDir: ctx.projectRoot });
      const images = io.listedImages(await up.table('images'));
      // unit groups of all layers packed into passes within the budget (one pass unless it is too small)
      const passes: import('../src/explain/dissect/forward.ts').ThresholdPassLayer[][] = [[]];
      let used = 0;
      for (const l of source.recompute.layers) {
        const perUnit = TopQuantile.bytesFor(1, images.length * l.height * l.width, q);
        for (let u0 = 0; u0 < l.units; ) {
          if (used + perUnit > budget && passes[passes.length - 1].length) {
            passes.push([]);
            used = 0;
          }
          const u1 = Math.min(l.units, u0 + Math.max(1, Math.floor((budget - used) / perUnit)));
          const pass = passes[passes.length - 1];
          const mine = pass.find((x) => x.layer === l) ?? (pass.push({ layer: l, groups: [] }), pass[pass.length - 1]);
          mine.groups.push([u0, u1]);
          used += (u1 - u0) * perUnit;
          u0 = u1;
        }
      }
      const res = await recomputeThresholds({ model, items: ds.items, images, source: source.recompute, q, passes, signal: ctx.signal, progress: (d, t) => ctx.progress(d, t, 'images') });
      const rows = source.recompute.layers.flatMap((l) => Array.from(res.thresholds.get(l.layer)!, (threshold, unit) => ({ layer: l.layer, unit, threshold })));
      await ctx.out.table('thresholds', tableFromRows(rows, schema));
      for (const f of res.failed) ctx.log.warn(`image ${ds.items[f.image].id}: ${f.message} (left out)`);
      ctx.out.meta('quantile', q);
      ctx.out.meta('layers', Object.fromEntries(source.recompute.layers.map((l) => [l.layer, { units: l.units, values_per_unit: (images.length - res.failed.length) * l.height * l.width }])));
      ctx.out.meta('recomputed', { passes: passes.length, images: images.length - res.failed.length });
      if (res.failed.length) ctx.out.meta('skipped', res.failed.slice(0, 100).map((f) => ({ id: ds.items[f.image].id, message: f.message })));
      ctx.log.info(`thresholds of ${source.recompute.layers.length} layer(s) from ${images.length - res.failed.length} recomputed images in ${passes.length} forward pass(es)`);
      return;
    }
    const index = source.index;

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
    const rows: { layer: string; unit: number; threshold: number }[] = [];
    const memo: Record<string, Json> = {};
    // Inline for one thread; else a worker pool: each part read once here (shared memory), units split between workers.
    const { availableParallelism } = await import('node:os');
    const { addPart } = await import('../src/explain/dissect/quantile-job.ts');
    const maxUnits = Math.max(...plan.flatMap((x) => x.groups.map(([a, b]) => b - a)));
    const nWorkers = Math.max(1, Math.min(ctx.params.workers ?? Math.min(4, availableParallelism()), maxUnits));
    const pool = nWorkers > 1 ? new (await import('../src/explain/dissect/pool.ts')).PartPool<Float64Array>('./quantile-job.ts', Array.from({ length: nWorkers }, (_, index) => ({ xaiQuantile: { index } })), 'quantile', ctx.signal) : undefined;
    const scratch: { buf?: Uint8Array } = {};
    try {
      for (const { l, total, perUnit, groups } of plan) {
        const th = new Float64Array(l.units);
        const hw = l.height * l.width;
        for (const [u0, u1] of groups) {
          if (pool) {
            const ranges = Array.from({ length: nWorkers }, (_, w): [number, number] => [u0 + Math.floor((w * (u1 - u0)) / nWorkers), u0 + Math.floor(((w + 1) * (u1 - u0)) / nWorkers)]);
            pool.broadcast({ type: 'pass', units: l.units, hw, total, q, ranges });
            for (const part of index.parts) {
              await pool.ready();
              pool.send([io.partPath(up, l, part)], [l]);
              ctx.progress(++done, work, 'parts');
            }
            const res = await pool.end();
            res.forEach((t, w) => th.set(t, ranges[w][0]));
          } else {
            const tq = new TopQuantile(u1 - u0, total, q);
            for (const part of index.parts) {
              if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('interrupted');
              // read into one reused buffer (the part is consumed before the next read)
              const path = io.partPath(up, l, part);
              addPart(tq, io.readPart(path, l.units, l.height, l.width, io.readReusing(path, scratch)), l.units, hw, u0, u1);
              ctx.progress(++done, work, 'parts');
              await new Promise((r) => setImmediate(r));
            }
            th.set(tq.thresholds(), u0);
          }
        }
        for (let u = 0; u < l.units; u++) rows.push({ layer: l.layer, unit: u, threshold: th[u] });
        const bufferMb = Math.round((perUnit * (groups[0][1] - groups[0][0]) * 10) / 2 ** 20) / 10;
        memo[l.layer] = { units: l.units, values_per_unit: total, passes: groups.length, buffer_mb: bufferMb };
        ctx.log.info(`${l.layer}: ${l.units} thresholds from ${total} values/unit in ${groups.length} pass(es), selection buffers ${bufferMb} MiB${pool ? `, ${nWorkers} threads` : ''}`);
      }
    } finally {
      await pool?.close();
    }
    await ctx.out.table('thresholds', tableFromRows(rows, schema));
    ctx.out.meta('quantile', q);
    ctx.out.meta('layers', memo);
    ctx.out.meta('threads', nWorkers);
  },
} satisfies StageDef<QuantileParams>;
