// Stage `sanity-check`: the model-parameter randomisation test (Adebayo et al. 2018) for the CAMs of a cam stage —
// the model's weighted layers re-initialised one more per step from the logits down, the CAMs recomputed with the
// cam stage's settings, and compared with the originals (Spearman of |map| and map, SSIM). ONNX and TF.js models.
// Orchestration: src/explain/sanity.ts; randomisation: src/model/onnx/randomise.ts; docs/evaluate.md.
import type { StageDef, UpstreamOutputs } from '../src/engine/types.ts';
import { ConfigError } from '../src/engine/errors.ts';
import { limitSchema, modelImagesInputs } from '../src/explain/params.ts';

interface SanityParams {
  methods?: string[];
  layers?: string[];
  steps?: number;
  seed: number;
  batch_size: number;
  limit?: number;
}

export default {
  kind: 'sanity-check',
  version: '1',
  description: "Model-parameter randomisation test (Adebayo et al.): a cam stage's CAMs recomputed as the model's layers are re-initialised from the logits down, compared with the originals",
  params: {
    type: 'object',
    properties: {
      methods: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'CAM methods of the cams table to check (default: all)' },
      layers: { type: 'array', minItems: 1, items: { type: 'string' }, description: "layer keys of the cams table to check (its 'layer' column; default: all)" },
      steps: { type: 'integer', minimum: 1, description: 'randomise at most this many weighted layers, from the logits down (default: every weighted layer)' },
      seed: { type: 'integer', default: 0, description: 'seed of the re-initialisation (one N(0, 1) stream per layer, scaled by the std of each original tensor)' },
      batch_size: { type: 'integer', minimum: 1, maximum: 1024, default: 16, description: 'images per CAM batch' },
      limit: limitSchema,
    },
  },
  inputs: {
    ...modelImagesInputs,
    cams: { description: 'a cam stage (table cams): its methods, layers, targets and image fit are reused', kinds: ['cam'] },
  },
  outputs: {
    per_image: {
      description: 'one row per image × explanation × step: the similarity of the randomised map to the original',
      type: 'table',
      columns: {
        explanation: 'method@layer of the cams table',
        step: 'how many weighted layers are randomised (1 = the logits layer)',
        randomised: 'the layer randomised at this step (the deepest randomised so far): ONNX node name, TF.js layer or graph node name',
        spearman_abs: "Spearman's ρ of the absolute maps (original vs randomised) [-1, 1]",
        spearman: "Spearman's ρ of the signed maps (CAMs are ≥ 0: equal to spearman_abs) [-1, 1]",
        ssim: 'SSIM of the maps (skimage defaults, data range 1) [-1, 1]',
      },
    },
    summary: {
      description: 'one row per explanation × step × metric (spearman_abs, spearman, ssim): n, mean, median, std, min, max over the images',
      type: 'table',
      columns: {
        explanation: 'method@layer of the cams table',
        step: 'how many weighted layers are randomised (1 = the logits layer)',
        randomised: 'the layer randomised at this step (the deepest randomised so far): ONNX node name, TF.js layer or graph node name',
      },
    },
  },
  async run(ctx) {
    const { openDataset, refFromMeta } = await import('../src/data/index.ts');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { targetKindOf } = await import('../src/explain/cam.ts');
    const sn = await import('../src/explain/sanity.ts');
    const p = ctx.params;
    const modelIn = ctx.inputs.model as UpstreamOutputs;
    const camsIn = ctx.inputs.cams as UpstreamOutputs;
    const config = modelIn.meta.config as unknown as import('../src/model/index.ts').ModelConfig;
    const originals = sn.originalMaps(await camsIn.table('cams'), p.methods, p.layers);
    if (originals.length === 0) {
      throw new ConfigError(`no CAM of stage '${camsIn.stageId}' matches methods ${JSON.stringify(p.methods ?? 'all')} / layers ${JSON.stringify(p.layers ?? 'all')}`, {
        path: `stages.${ctx.stageId}.params.${p.methods ? 'methods' : 'layers'}`,
      });
    }
    const cp = (camsIn.params ?? {}) as { combine?: string; layers?: string[]; eigen_smooth?: boolean; ablation?: { batch_size?: number; value?: 'library' }; score?: { batch_size?: number }; image?: { fit?: 'stretch' | 'center-crop'; resize?: number }; target?: unknown };
    const keys = [...new Set(originals.map((o) => o.layer))];
    const layerSets = keys.map((k) => (cp.combine === 'separate' || !k.includes('+') ? [k] : (cp.layers ?? k.split('+'))));
    const methods = [...new Set(originals.map((o) => o.method))];
    const imagesIn = ctx.inputs.images as UpstreamOutputs;
    const ds = await openDataset(refFromMeta(imagesIn.meta, imagesIn.stageId), { baseDir: ctx.projectRoot });
    const explained = new Set(originals.map((o) => o.image));
    let items = ds.items.filter((it) => explained.has(it.id));
    if (p.limit) items = items.slice(0, p.limit);
    if (items.length === 0) throw new ConfigError(`none of the explained images is in the dataset of stage '${imagesIn.stageId}': bind the images the CAMs were made on`, { path: `stages.${ctx.stageId}.inputs.images` });
    const index = new Map(ds.items.map((it, i) => [it.id, i]));
    const keep = new Set(items.map((it) => it.id));
    const { layers, file } = sn.cascadeLayers(config, ctx.projectRoot);
    if (layers.length === 0) throw new ConfigError(`stage '${ctx.stageId}': ${file} has no weighted layer (convolution, dense or matrix product with float weights) to randomise`, { path: `stages.${ctx.stageId}.inputs.model` });
    const steps = Math.min(p.steps ?? layers.length, layers.length);
    ctx.log.info(`${file}: ${steps} of ${layers.length} weighted layers randomised one by one from the logits down; ${methods.join(', ')} at ${keys.join(' | ')} on ${items.length} images`);
    const stepMs: number[] = [];
    const rows = await sn.cascade({
      config, root: ctx.projectRoot, maxSteps: steps, seed: p.seed, items, indices: items.map((it) => index.get(it.id)!),
      originals: originals.filter((o) => keep.has(o.image)),
      cam: {
        methods: methods as import('../src/algo/cam/index.ts').CamMethod[], layerSets, target: targetKindOf(cp as never), eigenSmooth: cp.eigen_smooth ?? false,
        ablation: { batchSize: cp.ablation?.batch_size ?? 32, value: cp.ablation?.value ?? 'library' }, scoreBatchSize: cp.score?.batch_size ?? 16,
        loadOpts: { fit: cp.image?.fit ?? 'stretch', resize: cp.image?.resize },
      },
      batchSize: p.batch_size,
      onStep: (s, name, ms) => {
        stepMs.push(ms);
        ctx.log.info(`step ${s}/${steps}: ${name} randomised (${(ms / 1000).toFixed(1)} s)`);
      },
    });
    await ctx.out.table('per_image', tableFromRows(rows, sn.perImageSchema));
    const summary = sn.summaryRows(rows);
    await ctx.out.table('summary', tableFromRows(summary, sn.summarySchema));
    ctx.out.meta('model', modelIn.stageId);
    ctx.out.meta('layers', layers.slice(0, steps).map((l) => l.name));
    ctx.out.meta('explanations', [...new Set(rows.map((r) => r.explanation as string))]);
    ctx.timing('ms_per_step', Math.round(stepMs.reduce((s, x) => s + x, 0) / Math.max(stepMs.length, 1)));
    ctx.timing('ms_per_step_image', Math.round((100 * stepMs.reduce((s, x) => s + x, 0)) / Math.max(stepMs.length * items.length, 1)) / 100);
  },
} satisfies StageDef<SanityParams>;
