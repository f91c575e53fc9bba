// Stage `lime-stability`: how much LIME's explanation moves from run to run (lime issues #67, #119, #231, …). Each
// image of a lime stage is explained again with K sampling seeds (the lime stage's params and segment maps): mean
// pairwise Jaccard of the masks, mean pairwise Kendall τ-b of the top-k superpixel weights, spread of R².
// Orchestration: src/explain/lime-stability.ts; measures: src/algo/evaluate/stability.ts; docs/evaluate.md.
import type { StageDef, UpstreamOutputs } from '../src/engine/types.ts';
import { ConfigError } from '../src/engine/errors.ts';
import { limitSchema, modelImagesInputs } from '../src/explain/params.ts';

interface StabilityParams {
  seeds: number;
  top_k: number;
  limit?: number;
}

export default {
  kind: 'lime-stability',
  version: '1',
  description: "LIME stability over K sampling seeds per image: mean pairwise Jaccard of the masks, Kendall's τ of the top-k weights, spread of R²",
  params: {
    type: 'object',
    properties: {
      seeds: { type: 'integer', minimum: 2, maximum: 100, default: 5, description: 'LIME runs per image (random_state, random_state + 1, …; the first is the lime stage\'s own run)' },
      top_k: { type: 'integer', minimum: 1, default: 5, description: "Kendall's τ-b over the union of two runs' k largest |weights|" },
      limit: limitSchema,
    },
  },
  inputs: {
    ...modelImagesInputs,
    lime: { description: 'a lime stage (tables explanations and segments): its params and segment maps are reused', kinds: ['lime'] },
  },
  outputs: {
    per_image: {
      description: 'one row per image: stability of the top label\'s explanation over the seeds',
      type: 'table',
      columns: {
        label: 'the explained class (the top label of the first run)',
        seeds: 'LIME runs compared',
        jaccard: 'mean pairwise Jaccard (IoU) of the masks (get_image_and_mask of the lime stage) [0, 1]',
        kendall_topk: "mean pairwise Kendall's τ-b of the weights over the union of two runs' top-k superpixels [-1, 1]",
        r2_mean: "mean of the surrogate's weighted R² (lime's score) over the runs",
        r2_std: "population std of the surrogate's weighted R² over the runs",
        r2_range: "max − min of the surrogate's weighted R² over the runs",
        samples: 'mean samples per run (num_samples, or what auto used)',
      },
    },
    summary: {
      description: 'one row per metric (jaccard, kendall_topk, r2_std, r2_range, samples): n, mean, median, std, min, max over the images',
      type: 'table',
      columns: { metric: 'the per_image column summarised' },
    },
  },
  async run(ctx) {
    const { openUpstreamModel } = await import('../src/model/index.ts');
    const { openDataset, refFromMeta, loadItemRgb } = await import('../src/data/index.ts');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const st = await import('../src/explain/lime-stability.ts');
    const { segmentsAt } = await import('../src/explain/lime.ts');
    const p = ctx.params;
    const limeIn = ctx.inputs.lime as UpstreamOutputs;
    const lp = limeIn.params as unknown as import('../src/explain/lime.ts').LimeParams;
    const model = await openUpstreamModel(ctx.inputs.model as UpstreamOutputs, ctx.projectRoot);
    const { height: H, width: W } = model.info.input;
    const sg = await limeIn.table('segments');
    const segs = new Map<string, ReturnType<typeof segmentsAt>>();
    for (let r = 0; r < sg.numRows; r++) segs.set(sg.getChild('id')!.get(r) as string, segmentsAt(sg, r));
    const imagesIn = ctx.inputs.images as UpstreamOutputs;
    const ds = await openDataset(refFromMeta(imagesIn.meta, imagesIn.stageId), { baseDir: ctx.projectRoot });
    let items = ds.items.filter((it) => segs.has(it.id));
    if (p.limit) items = items.slice(0, p.limit);
    if (items.length === 0) throw new ConfigError(`none of the images of lime stage '${limeIn.stageId}' is in the dataset of stage '${imagesIn.stageId}': bind the images LIME explained`, { path: `stages.${ctx.stageId}.inputs.images` });
    const index = new Map(ds.items.map((it, i) => [it.id, i]));
    ctx.log.info(`${model.info.id}: LIME (num_samples ${lp.num_samples}) × ${p.seeds} seeds on ${items.length} images`);
    const res = await ctx.map({
      table: 'per_image',
      items,
      id: (it) => it.id,
      schema: st.perImageSchema,
      chunkSize: 2,
      fn: async (it) => {
        const rgb = await loadItemRgb(it, H, W, { fit: lp.image?.fit ?? 'stretch', resize: lp.image?.resize });
        return [await st.stabilityOfImage(lp, model, { id: it.id, index: index.get(it.id)!, rgb, seg: segs.get(it.id)! }, p.seeds, p.top_k)];
      },
    });
    if (res.errors.length && res.errors.length === items.length) throw new Error(`every image failed; first: ${res.errors[0].item}: ${res.errors[0].message}`);
    if (res.errors.length) ctx.log.warn(`${res.errors.length} image(s) failed (table per_image_errors); first: ${res.errors[0].item}: ${res.errors[0].message}`);
    const rows: Record<string, unknown>[] = [];
    const t = res.table;
    for (let r = 0; r < t.numRows; r++) rows.push(Object.fromEntries(st.STABILITY_METRICS.map((m) => [m, t.getChild(m)!.get(r)])));
    const summary = st.summaryRows(rows);
    await ctx.out.table('summary', tableFromRows(summary, st.summarySchema));
    for (const s of summary) ctx.log.info(`${s.metric}: mean ${(s.mean as number | null)?.toFixed(4)} (n ${s.n})`);
    ctx.out.meta('model', model.info.id);
    ctx.out.meta('seeds', p.seeds);
  },
} satisfies StageDef<StabilityParams>;
