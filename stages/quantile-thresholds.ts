// Stage `quantile-thresholds` (Network Dissection, step 2): per unit, T_k = np.percentile(a_k, 100·(1 − q)) over all
// images and positions of the feature maps (NetDissect-Lite's quantile_threshold; q = QUANTILE = 0.005), exact.
// Streams the collect-activations parts one at a time — or, after `maps: false`, the maps recomputed with the model in
// its batches (src/explain/dissect/forward.ts) — through TopQuantile (src/algo/dissect/quantile.ts), which keeps only
// the top ≈ q·N·H·W values of each unit (8 bytes per kept value). Memory budget: `memoryMB` (default 512 MiB) bounds
// those buffers; the layers' units are packed into passes within it, one pass over the parts (or one forward) each
// (exact either way); units are split between worker threads, each part read once into shared memory and posted to all
// of them (src/explain/dissect/pool.ts). Broden (63,305 images) at q = 0.005: ResNet-18 layer2 (128 units, 28×28)
// needs 254 MB, layer3 127 MB, layer4 63 MB — one pass for all three within the default budget. The parts go through
// ctx.map with the selection as its checkpointed fold: an interrupted run resumes from the last checkpoint.
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
    parts: {
      description: 'the streamed work, one row per pass and part (the resume record)',
      type: 'table',
      columns: { pass: 'pass over the maps (unit groups within memoryMB)', part: 'stored part file, or recomputed model batch (b<first image>)', images: 'images of the part' },
    },
  },
  async run(ctx) {
    const { Field, Float64, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { TopQuantile } = await import('../src/algo/dissect/index.ts');
    const { openDataset, refFromMeta } = await import('../src/data/index.ts');
    const io = await import('../src/explain/dissect/store.ts');
    const { passItems, openPassReader } = await import('../src/explain/dissect/forward.ts');
    const { QuantileJob, encodeCheckpoint, decodeCheckpoint } = await import('../src/explain/dissect/quantile-job.ts');
    const { quantile: q, memoryMB } = ctx.params;
    const up = ctx.inputs.activations;
    const source = io.featureSource(up);
    const budget = memoryMB * 2 ** 20;
    const order = io.listedImages(await up.table('images'));
    const recompute = source.recompute !== undefined;
    const ds = recompute ? await openDataset(refFromMeta(up.meta, up.stageId), { baseDir: ctx.projectRoot }) : undefined;
    const reader = await openPassReader(up, source, ds?.items ?? [], ctx.projectRoot);
    const layers = reader.layers;
    const N = order.length;

    // Work plan: unit groups of the layers packed into passes within the budget (one pass over the maps each; a
    // recomputed pass is one forward over the images).
    type Sel = { li: number; u0: number; u1: number };
    const passes: Sel[][] = [[]];
    let used = 0;
    layers.forEach((l, li) => {
      const perUnit = TopQuantile.bytesFor(1, N * l.height * l.width, q);
      for (let u0 = 0; u0 < l.units; ) {
        if (used + perUnit > budget && passes[passes.length - 1].length) {
          passes.push([]);
          used = 0;
        }
        const u1 = Math.min(l.units, u0 + Math.max(1, Math.floor((budget - used) / perUnit)));
        passes[passes.length - 1].push({ li, u0, u1 });
        used += (u1 - u0) * perUnit;
        u0 = u1;
      }
    });
    const { availableParallelism } = await import('node:os');
    const maxUnits = Math.max(...passes.flat().map((x) => x.u1 - x.u0));
    let nWorkers = Math.max(1, Math.min(ctx.params.workers ?? Math.min(4, availableParallelism()), maxUnits));
    const passMsg = (p: number, restore?: import('../src/algo/dissect/quantile.ts').TopQuantileState[][]): import('../src/explain/dissect/quantile-job.ts').QuantilePass => {
      const inPass = [...new Set(passes[p].map((x) => x.li))];
      return {
        type: 'pass',
        sels: passes[p].map((x) => {
          const l = layers[x.li];
          const n = x.u1 - x.u0;
          const ranges = Array.from({ length: nWorkers }, (_, w): [number, number] => [x.u0 + Math.floor((w * n) / nWorkers), x.u0 + Math.floor(((w + 1) * n) / nWorkers)]);
          return { part: inPass.indexOf(x.li), units: l.units, hw: l.height * l.width, ranges };
        }),
        images: N,
        q,
        ...(restore ? { restore } : {}),
      };
    };
    const passLayers = (p: number) => [...new Set(passes[p].map((x) => x.li))];

    // The fold (resumable through ctx.map's checkpoints): the current pass's selections, inline or in worker threads
    // (each part read once here into shared memory, units split between them), and the finished passes' thresholds.
    const th = layers.map((l) => new Float64Array(l.units));
    let pool: import('../src/explain/dissect/pool.ts').PartPool<Float64Array[]> | undefined;
    let job: InstanceType<typeof QuantileJob> | undefined;
    let cur = -1;
    let good = 0; // images seen in the current pass
    let failed: { image: number; message: string }[] = [];
    let restored: { pass: number; good: number; states: import('../src/algo/dissect/quantile.ts').TopQuantileState[][] } | undefined;
    const startPass = async (p: number) => {
      const r = restored?.pass === p ? restored : undefined;
      restored = undefined;
      const msg = passMsg(p, r?.states);
      if (nWorkers > 1) {
        pool ??= new (await import('../src/explain/dissect/pool.ts')).PartPool<Float64Array[]>('./quantile-job.ts', Array.from({ length: nWorkers }, (_, index) => ({ xaiQuantile: { index } })), 'quantile', ctx.signal);
        pool.broadcast(msg);
      } else job = new QuantileJob(msg, 0);
      cur = p;
      good = r?.good ?? 0;
    };
    const endPass = async () => {
      if (good === 0) throw new Error(`no image could be processed${failed.length ? ` (first: ${failed[0].message})` : ''}`);
      const res = pool ? await pool.end({ images: good }) : [job!.thresholds(good)];
      passes[cur].forEach((x, i) => res.forEach((r, w) => th[x.li].set(r[i], passMsg(cur).sels[i].ranges[w][0])));
      cur = -1;
    };
    const items = passes.flatMap((_, p) => passItems(up, source, order).map((it) => ({ ...it, pass: p })));
    const fold = {
      save: async () => encodeCheckpoint({ pass: cur, good, failed, th }, (pool ? await pool.snapshot() : [job!.state()]) as import('../src/algo/dissect/quantile.ts').TopQuantileState[][]),
      load: (bytes: Uint8Array) => {
        const { meta: st, states } = decodeCheckpoint<{ pass: number; good: number; failed: typeof failed; th: Float64Array[] }>(bytes);
        st.th.forEach((t, li) => th[li].set(t));
        failed = st.failed;
        nWorkers = states.length; // the states are split as the checkpointed run split them
        restored = { pass: st.pass, good: st.good, states };
      },
    };
    /** Ends the current pass (or the checkpointed one, when nothing ran since the resume). */
    const finishPass = async () => {
      if (cur < 0 && restored) await startPass(restored.pass);
      if (cur >= 0) await endPass();
    };
    const toPass = async (p: number) => {
      if (cur === p) return;
      if (!(cur < 0 && restored?.pass === p)) await finishPass();
      await startPass(p);
    };
    const schema = new Schema([new Field('pass', new Int32(), false), new Field('part', new Utf8(), false), new Field('images', new Int32(), false)]);
    let res: import('../src/engine/types.ts').MapResult;
    try {
      res = await ctx.map({
        table: 'parts',
        items,
        id: (it) => `${it.pass}/${it.id}`,
        schema,
        chunkSize: 1 << 30, // chunks end every ~2 s of work (flushMs)
        fold,
        fn: async (it, i) => {
          await toPass(it.pass);
          const lis = passLayers(it.pass);
          const next = items[i + 1];
          const maps = await reader.get(it, next?.pass === it.pass ? next : undefined, !pool);
          if (it.pass === 0) failed.push(...maps.failed); // every pass meets the same ones
          if (pool && maps.paths) {
            await pool.ready();
            pool.send(lis.map((li) => maps.paths![li]), lis.map((li) => layers[li]));
            good += it.images.length;
          }
          for (const set of maps.sets) {
            if (pool) {
              await pool.ready();
              pool.sendParts(lis.map((li) => set[li]));
            } else job!.add(lis.map((li) => set[li]));
            good += set[0].images.length;
          }
          return [{ pass: it.pass, part: it.id, images: it.images.length }];
        },
      });
      if (res.errors.length) throw new Error(`part ${res.errors[0].item}: ${res.errors[0].message}`);
      await finishPass(); // the last pass (also when every item was resumed)
    } finally {
      await pool?.close();
    }
    const rows = layers.flatMap((l, li) => Array.from(th[li], (threshold, unit) => ({ layer: l.layer, unit, threshold })));
    const tschema = new Schema([new Field('layer', new Utf8(), false), new Field('unit', new Int32(), false), new Field('threshold', new Float64(), false)]);
    await ctx.out.table('thresholds', tableFromRows(rows, tschema));
    const memo: Record<string, Json> = {};
    layers.forEach((l, li) => {
      const groups = passes.flat().filter((x) => x.li === li);
      const perUnit = TopQuantile.bytesFor(1, N * l.height * l.width, q);
      const bufferMb = Math.round((perUnit * (groups[0].u1 - groups[0].u0) * 10) / 2 ** 20) / 10;
      memo[l.layer] = { units: l.units, values_per_unit: (N - failed.length) * l.height * l.width, passes: groups.length, buffer_mb: bufferMb };
      ctx.log.info(`${l.layer}: ${l.units} thresholds from ${(N - failed.length) * l.height * l.width} values/unit in ${groups.length} pass(es), selection buffers ${bufferMb} MiB${pool ? `, ${nWorkers} threads` : ''}`);
    });
    for (const f of failed) ctx.log.warn(`image ${ds!.items[f.image].id}: ${f.message} (left out)`);
    ctx.out.meta('quantile', q);
    ctx.out.meta('layers', memo);
    ctx.out.meta('threads', nWorkers);
    ctx.out.meta('passes', passes.length);
    if (recompute) ctx.out.meta('recomputed', true);
    if (failed.length) ctx.out.meta('skipped', failed.slice(0, 100).map((f) => ({ id: ds!.items[f.image].id, message: f.message })));
  },
} satisfies StageDef<QuantileParams>;
