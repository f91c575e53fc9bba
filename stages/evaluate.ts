// Stage `evaluate`: are the explanations faithful to the model? Deletion / insertion curves (Petsiuk et al. 2018) and
// ROAD (pytorch-grad-cam's metrics/road.py semantics) for every CAM of a cam stage and the LIME map of a lime stage,
// per image. Inputs: `model`, `images`, and `cams` and/or `lime`. Orchestration: src/explain/evaluate.ts; algorithms:
// src/algo/evaluate; user documentation: docs/evaluate.md.
import type { StageDef, UpstreamOutputs } from '../src/engine/types.ts';
import { ConfigError } from '../src/engine/errors.ts';
import { limitSchema, modelImagesInputs } from '../src/explain/params.ts';
import type { EvaluateParams } from '../src/explain/evaluate.ts';

const METRICS = ['deletion', 'insertion', 'road'];

export default {
  kind: 'evaluate',
  version: '1',
  description: 'Faithfulness of explanations: deletion / insertion curves and ROAD (MoRF, LeRF, combined) per image and explanation',
  params: {
    type: 'object',
    properties: {
      metrics: {
        type: 'array', minItems: 1, uniqueItems: true, items: { enum: METRICS }, default: METRICS,
        description: 'deletion, insertion (Petsiuk et al.), road (pytorch-grad-cam ROAD)',
      },
      steps: { type: 'integer', minimum: 1, maximum: 1000, default: 20, description: 'deletion / insertion: equal steps (the curve has steps + 1 points)' },
      baseline: { enum: ['zero', 'mean', 'blurred'], default: 'zero', description: 'deletion: what removed pixels become (in the model-input space): zero, the channel mean, or the blurred image' },
      road: {
        type: 'object',
        default: {},
        properties: {
          percentiles: {
            type: 'array', minItems: 1, items: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 100 }, default: [10, 20, 30, 40, 50, 60, 70, 80, 90],
            description: "percentiles of the map at which pixels are imputed (the library's default 10..90)",
          },
          noise: { type: 'number', minimum: 0, default: 0.01, description: "noisy linear imputation's noise (absolute, model-input space; the library's 0.01)" },
          seed: { type: 'integer', default: 0, description: 'seed of the imputation noise (one stream per image × explanation)' },
          score: { enum: ['logit', 'softmax'], default: 'logit', description: "the target's score: logit (ClassifierOutputTarget, the library's usual target) or softmax" },
        },
      },
      methods: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'CAM methods to score (default: every method of the cams table)' },
      layers: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'CAM layers to score (default: all)' },
      batch_size: { type: 'integer', minimum: 1, maximum: 4096, default: 64, description: 'perturbed inputs per model call' },
      limit: limitSchema,
    },
  },
  inputs: {
    ...modelImagesInputs,
    cams: { description: 'a cam stage (table cams)', optional: true },
    lime: { description: "a lime stage (tables explanations and segments): its top label's superpixel weights as a map", optional: true },
  },
  outputs: {
    per_image: {
      description: 'one row per image × explanation: AUCs and curves of deletion / insertion, ROAD MoRF / LeRF (per percentile and mean) and combined',
      type: 'table',
      columns: {
        explanation: 'the scored explanation: method@layer (a CAM) or lime',
        probability: "the model's softmax probability of the target on the unperturbed image [0, 1]",
        deletion_auc: 'area under the deletion curve (lower = more faithful) [0, 1]',
        insertion_auc: 'area under the insertion curve (higher = more faithful) [0, 1]',
        deletion_curve: 'target probability after deleting the top k/steps of the pixels, k = 0..steps',
        insertion_curve: 'target probability after inserting the top k/steps of the pixels into the blurred image, k = 0..steps',
        road_morf: 'ROAD most relevant first: mean over percentiles of (score after imputation − score) (lower = more faithful)',
        road_lerf: 'ROAD least relevant first: mean over percentiles of (score after imputation − score) (higher = more faithful)',
        road_combined: 'ROAD combined: (road_lerf − road_morf) / 2 (higher = more faithful)',
        road_morf_curve: 'ROAD MoRF score change at each percentile of road.percentiles',
        road_lerf_curve: 'ROAD LeRF score change at each percentile of road.percentiles',
      },
    },
    summary: {
      description: 'one row per explanation × metric (deletion_auc, insertion_auc, road_morf, road_lerf, road_combined): n, mean, median, std, min, max',
      type: 'table',
      columns: { explanation: 'the scored explanation: method@layer (a CAM) or lime' },
    },
  },
  check(params, ctx) {
    const at = (f: string) => `stages.${ctx.stageId}.params.${f}`;
    const pc = params.road?.percentiles ?? [];
    if (new Set(pc).size !== pc.length) throw new ConfigError('a ROAD percentile is listed twice', { file: ctx.where, path: at('road.percentiles') });
  },
  async run(ctx) {
    const { openUpstreamModel } = await import('../src/model/index.ts');
    const { openDataset, refFromMeta, loadItemRgb } = await import('../src/data/index.ts');
    const { normalize, normalizationLut } = await import('../src/image/io.ts');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const ev = await import('../src/explain/evaluate.ts');
    const p = ctx.params;
    const camsIn = ctx.inputs.cams as UpstreamOutputs | undefined;
    const limeIn = ctx.inputs.lime as UpstreamOutputs | undefined;
    if (!camsIn && !limeIn) throw new ConfigError(`stage '${ctx.stageId}': bind at least one explanation input (cams or lime)`, { path: `stages.${ctx.stageId}.inputs` });
    const need = (u: UpstreamOutputs | undefined, name: string, tables: string[], kind: string) => {
      for (const t of tables) if (u && !u.tables.includes(t)) throw new ConfigError(`input '${name}' (stage '${u.stageId}', kind ${u.kind}) has no table '${t}': is it a ${kind} stage?`, { path: `stages.${ctx.stageId}.inputs.${name}` });
    };
    need(camsIn, 'cams', ['cams'], 'cam');
    need(limeIn, 'lime', ['explanations', 'segments'], 'lime');
    const expl: import('../src/explain/evaluate.ts').Explanation[] = [];
    if (camsIn) expl.push(...ev.camExplanations(await camsIn.table('cams'), camsIn.stageId, p.methods, p.layers));
    if (camsIn && expl.length === 0) {
      throw new ConfigError(`no CAM of stage '${camsIn.stageId}' matches methods ${JSON.stringify(p.methods ?? 'all')} / layers ${JSON.stringify(p.layers ?? 'all')}`, {
        path: `stages.${ctx.stageId}.params.${p.methods ? 'methods' : 'layers'}`,
      });
    }
    if (limeIn) expl.push(...ev.limeExplanations(await limeIn.table('explanations'), await limeIn.table('segments'), limeIn.stageId));

    // The images as the explanations saw them (the explaining stage's image fit).
    const fitOf = (u?: UpstreamOutputs) => (u?.params as { image?: { fit?: 'stretch' | 'center-crop'; resize?: number } } | null)?.image;
    const a = fitOf(camsIn), b = fitOf(limeIn);
    if (camsIn && limeIn && JSON.stringify(a ?? {}) !== JSON.stringify(b ?? {})) {
      throw new ConfigError(`stages '${camsIn.stageId}' and '${limeIn.stageId}' fit the images differently (params.image): evaluate them in separate stages`, { path: `stages.${ctx.stageId}.inputs` });
    }
    const fit = a ?? b ?? {};
    const model = await openUpstreamModel(ctx.inputs.model as UpstreamOutputs, ctx.projectRoot);
    const info = model.info;
    const { height: H, width: W } = info.input;
    const imagesIn = ctx.inputs.images as UpstreamOutputs;
    const ds = await openDataset(refFromMeta(imagesIn.meta, imagesIn.stageId), { baseDir: ctx.projectRoot });
    const byImage = new Map<string, typeof expl>();
    for (const e of expl) {
      if (e.map.length !== H * W) throw new ConfigError(`explanation ${e.name} of image ${e.image} has ${e.map.length} pixels; model '${info.id}' takes ${H}×${W}: evaluate on the model the explanations were made with`);
      byImage.set(e.image, [...(byImage.get(e.image) ?? []), e]);
    }
    let items = ds.items.filter((it) => byImage.has(it.id));
    if (p.limit) items = items.slice(0, p.limit);
    if (items.length === 0) throw new ConfigError(`none of the explained images is in the dataset of stage '${imagesIn.stageId}': bind the images the explanations were made on`, { path: `stages.${ctx.stageId}.inputs.images` });
    const index = new Map(ds.items.map((it, i) => [it.id, i]));
    const luts = normalizationLut(info.input);
    const counts = { forwards: 0, predictCalls: 0 };
    const percentiles = p.road.percentiles ?? [10, 20, 30, 40, 50, 60, 70, 80, 90];
    ctx.log.info(`${info.id}: ${p.metrics.join(', ')} of ${new Set(expl.map((e) => e.name)).size} explanation(s) on ${items.length} images ${H}×${W}`);
    const res = await ctx.map({
      table: 'per_image',
      items,
      id: (it) => it.id,
      schema: ev.perImageSchema(p.steps, percentiles.length),
      chunkSize: 4,
      fn: async (it, _i, timer) => {
        const rgb = await loadItemRgb(it, H, W, { fit: fit.fit ?? 'stretch', resize: fit.resize });
        const input = new Float32Array(3 * H * W);
        normalize(rgb, info.input, 'NCHW', input, 0, luts);
        const rows = await ev.evaluateImage(model, input, byImage.get(it.id)!, p, counts, (name, ms) => timer.phase(name, ms));
        return rows.map((r) => ({ image: it.id, index: index.get(it.id)!, ...r }));
      },
    });
    if (res.errors.length && res.errors.length === items.length) throw new Error(`every image failed; first: ${res.errors[0].item}: ${res.errors[0].message}`);
    if (res.errors.length) ctx.log.warn(`${res.errors.length} image(s) failed (table per_image_errors); first: ${res.errors[0].item}: ${res.errors[0].message}`);
    const summary = ev.summaryRows(res.table);
    await ctx.out.table('summary', tableFromRows(summary, ev.summarySchema));
    for (const r of summary) if (r.metric !== 'road_morf' && r.metric !== 'road_lerf') ctx.log.info(`${r.explanation} ${r.metric}: mean ${(r.mean as number | null)?.toFixed(4)} (n ${r.n})`);
    ctx.out.meta('backend', info.backend);
    ctx.out.meta('model', info.id);
    ctx.out.meta('explanations', [...new Set(expl.map((e) => e.name))]);
    ctx.out.meta('metrics', p.metrics);
    if (res.computed > 0) ctx.out.meta('model_calls', { ...counts, images: res.computed });
  },
} satisfies StageDef<EvaluateParams>;
