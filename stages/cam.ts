// Stage `cam`: class activation maps of a classifier for a set of images — Grad-CAM, Grad-CAM++, XGrad-CAM,
// HiResCAM, LayerCAM, EigenCAM, Ablation-CAM, Score-CAM — with pytorch-grad-cam 1.5.5 semantics (the algorithms are
// src/algo/cam; docs/cam.md is the user documentation). Inputs: `model` (a load-model stage) and `images` (a dataset
// stage). Per batch of images: one forward (activations of every target layer + logits) when a method or the target
// needs it, one gradient call per target layer shared by all gradient methods, Ablation-CAM through
// Model.forwardFrom, Score-CAM through Model.predict on masked inputs. Outputs the `cams` table (one row per image ×
// method × target-layer set, the cam at input resolution) and overlay PNGs (show_cam_on_image).
import type { Json, StageDef, UpstreamOutputs } from '../src/engine/types.ts';
import { ConfigError } from '../src/engine/errors.ts';
import { imageFitSchema, limitSchema, modelImagesInputs } from '../src/explain/params.ts';
import { CAM_METHOD_SPECS, canonicalMethod } from '../src/algo/cam/methods.ts';
import type { CamParams } from '../src/explain/cam.ts';

const METHODS = CAM_METHOD_SPECS.map((m) => m.name);


export default {
  kind: 'cam',
  version: '1',
  description: 'Class activation maps (Grad-CAM family, EigenCAM, Ablation-CAM, Score-CAM; pytorch-grad-cam semantics) with overlays',
  params: {
    type: 'object',
    properties: {
      methods: {
        type: 'array',
        minItems: 1,
        items: { type: 'string' },
        default: ['gradcam'],
        description: `CAM methods: ${METHODS.join(', ')} (pytorch-grad-cam cam.py names; class names such as GradCAMPlusPlus also accepted)`,
      },
      layers: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', minLength: 1 },
        description: 'target layers (aliases from the model config, or tensor/layer names); default: the last suggested conv layer',
      },
      combine: {
        enum: ['mean', 'separate'],
        default: 'mean',
        description: "several layers: 'mean' = one cam, the mean of the per-layer normalised cams (the library's target_layers); 'separate' = one cam per layer",
      },
      target: {
        anyOf: [
          { type: 'integer', minimum: 0 },
          { type: 'string', minLength: 1 },
          {
            type: 'object',
            additionalProperties: false,
            properties: {
              class: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1 }], description: "as the scalar form (default 'top1')" },
              top_k: { type: 'integer', minimum: 1, description: 'one map per class among the k highest outputs of each image (instead of class)' },
              score: {
                enum: ['logit', 'softmax'],
                default: 'logit',
                description: "'logit': the raw output (ClassifierOutputTarget); 'softmax': the softmax probability (ClassifierOutputSoftmaxTarget; a probabilities model's output as is)",
              },
            },
          },
        ],
        default: 'top1',
        description:
          "target class: 'top1' (the predicted class, the library's default), 'label' (the image's dataset label), a class index or a class name; " +
          "or { class | top_k, score: logit | softmax }",
      },
      targets: {
        type: 'object',
        additionalProperties: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1 }] },
        description: 'per-image target overrides: image id → class index or name',
      },
      batch_size: { type: 'integer', minimum: 1, maximum: 1024, default: 8, description: 'images per model call' },
      eigen_smooth: { type: 'boolean', default: false, description: "the library's eigen_smooth: first principal component of the weighted activations instead of their sum" },
      ablation: {
        type: 'object',
        default: {},
        properties: {
          batch_size: { type: 'integer', minimum: 1, default: 32, description: 'ablated copies per head forward (library: 32)' },
          value: {
            anyOf: [{ enum: ['library', 'min-1e7', 'zero'] }, { type: 'number' }],
            default: 'library',
            description: "value of an ablated channel: 'library' (0, or the library's running min − 1e7 when the activations' minimum ≠ 0), 'min-1e7', 'zero' (the paper), or a number",
          },
        },
      },
      score: {
        type: 'object',
        default: {},
        properties: { batch_size: { type: 'integer', minimum: 1, default: 16, description: 'masked inputs per forward (library: 16)' } },
      },
      overlay: {
        type: 'object',
        default: {},
        properties: {
          enabled: { type: 'boolean', default: true, description: 'write overlay PNGs' },
          image_weight: { type: 'number', minimum: 0, maximum: 1, default: 0.5, description: "show_cam_on_image's image_weight" },
        },
      },
      image: imageFitSchema,
      limit: limitSchema,
    },
  },
  inputs: modelImagesInputs,
  outputs: {
    cams: {
      description:
        'one row per image × method × layer set: image, index, method, layer, target, target_name, score (logit), probability, label, height, width, ' +
        'cam (FixedSizeList<Float32> H·W, row-major, in [0,1]), peak_x, peak_y, in_mask (cam maximum inside the ground-truth mask), overlay; ' +
        "per target layer cam_raw_<layer> (the layer's h×w map before normalisation and upsampling, pytorch-grad-cam's np.maximum(get_cam_image, 0)) " +
        'and weights_<layer> (channel weights, null for methods without them)',
      type: 'table',
    },
    overlays: { description: 'overlays/<method>/<layer>/<image id>.png (extension kept: a.jpg → a.jpg.png; ~class<k> per top_k class): jet heat map blended with the image (show_cam_on_image)', type: 'files' },
  },
  check(params, ctx) {
    const at = (f: string) => `stages.${ctx.stageId}.params.${f}`;
    const seen = new Set<string>();
    params.methods.forEach((m, i) => {
      const c = canonicalMethod(m);
      if (!c) {
        throw new ConfigError(`unknown CAM method '${m}'`, { file: ctx.where, path: at(`methods[${i}]`), expected: `one of ${METHODS.join(', ')}` });
      }
      if (seen.has(c)) throw new ConfigError(`CAM method '${m}' listed twice`, { file: ctx.where, path: at(`methods[${i}]`) });
      seen.add(c);
    });
    const obj = typeof params.target === 'object' && params.target !== null;
    const t = obj ? (params.target as { class?: unknown }).class : params.target;
    if (typeof t === 'string' && /^\d+$/.test(t)) {
      throw new ConfigError(`target '${t}' is a string; write it unquoted for a class index`, { file: ctx.where, path: at(obj ? 'target.class' : 'target') });
    }
    if (obj && t !== undefined && (params.target as { top_k?: number }).top_k !== undefined) {
      throw new ConfigError('target: give either class or top_k, not both', { file: ctx.where, path: at('target') });
    }
    if (params.layers && new Set(params.layers).size !== params.layers.length) {
      throw new ConfigError('a target layer is listed twice', { file: ctx.where, path: at('layers') });
    }
  },
  async run(ctx) {
    const { openUpstreamModel } = await import('../src/model/index.ts');
    const { openDataset, refFromMeta } = await import('../src/data/index.ts');
    const { camSchema, pointingFromSums, resolveTargetSpec, targetKindOf } = await import('../src/explain/cam.ts');
    const p = ctx.params;
    const modelIn = ctx.inputs.model as UpstreamOutputs;
    const imagesIn = ctx.inputs.images as UpstreamOutputs;
    const model = await openUpstreamModel(modelIn, ctx.projectRoot);
    const ds = await openDataset(refFromMeta(imagesIn.meta, imagesIn.stageId), { baseDir: ctx.projectRoot });
    const items = p.limit ? ds.items.slice(0, p.limit) : ds.items;
    if (items.length === 0) throw new ConfigError(`stage '${imagesIn.stageId}': the dataset has no images`);
    const info = model.info;
    const { height: H, width: W } = info.input;

    const methods = p.methods.map((m) => canonicalMethod(m)!);
    const layers = p.layers ?? defaultLayers(info, modelIn.meta.suggested_layers);
    const shapes = layers.map((l, i) => {
      const s = checkLayer(info, l, `stages.${ctx.stageId}.params.layers[${i}]`).shape;
      return { layer: l, channels: s[1], height: s[2], width: s[3] };
    });
    const layerSets = p.combine === 'separate' ? layers.map((l) => [l]) : [layers];
    const targets = resolveTargetSpec(p, info, items, ds.classNames, ctx.stageId);

    const overlay = { enabled: p.overlay?.enabled ?? true, imageWeight: p.overlay?.image_weight ?? 0.5 };
    const loadOpts = { fit: p.image?.fit ?? 'stretch', resize: p.image?.resize };
    ctx.log.info(
      `${info.id} (${info.runtime}, ${info.backend}): ${methods.join(', ')} at ${layerSets.map((s) => s.join('+')).join(' | ')}, ` +
        `${items.length} images ${H}×${W}, target ${typeof p.target === 'number' ? `class ${p.target}` : JSON.stringify(p.target)}`,
    );
    const item = await import('../src/explain/cam-item.ts');
    const config: import('../src/explain/cam-item.ts').CamItemConfig = {
      model: modelIn.meta.config as unknown as import('../src/model/index.ts').ModelConfig,
      methods,
      layerSets,
      targets,
      target: targetKindOf(p),
      eigenSmooth: p.eigen_smooth,
      ablation: { batchSize: p.ablation?.batch_size ?? 32, value: p.ablation?.value ?? 'library' },
      scoreBatchSize: p.score?.batch_size ?? 16,
      overlay,
      loadOpts,
    };
    const res = await ctx.map({
      table: 'cams',
      items,
      id: (it) => it.id,
      schema: camSchema(H, W, shapes),
      batchSize: p.batch_size,
      chunkSize: Math.max(16, p.batch_size),
      worker: { module: item, factory: 'createCam', config },
    });
    if (res.errors.length && res.errors.length === items.length) {
      throw new Error(`every image failed; first: ${res.errors[0].item}: ${res.errors[0].message}`);
    }
    if (res.errors.length) ctx.log.warn(`${res.errors.length} image(s) failed (table cams_errors); first: ${res.errors[0].item}: ${res.errors[0].message}`);
    const pointing = pointingFromSums(res.totals);
    for (const [k, v] of Object.entries(pointing)) ctx.log.info(`pointing game ${k}: ${v.hits}/${v.total} = ${(100 * v.rate).toFixed(1)}%`);

    ctx.out.meta('backend', info.backend);
    ctx.out.meta('runtime', info.runtime);
    ctx.out.meta('model', info.id);
    ctx.out.meta('methods', methods);
    ctx.out.meta('layers', layerSets.map((s) => s.join('+')));
    ctx.out.meta('input_size', [H, W]);
    ctx.out.meta('images', items.length);
    ctx.out.meta('pointing_game', pointing as unknown as Json);
    // model calls over the whole table (resumed chunks included: the meta of a resumed run equals an uninterrupted one's)
    const counts: Record<string, number> = {};
    for (const [k, v] of Object.entries(res.totals)) if (!k.startsWith('ms.') && !k.startsWith('pointing.')) counts[k] = v;
    ctx.out.meta('model_calls', { ...counts, images: res.computed + res.resumed });
    if (res.computed > 0) {
      const per: Record<string, number> = {};
      for (const [k, v] of Object.entries(res.sums)) if (k.startsWith('ms.')) per[k.slice(3)] = Math.round((v / res.computed) * 100) / 100;
      ctx.timing('ms_per_image', per);
    }
  },
} satisfies StageDef<CamParams>;

type Info = import('../src/model/types.ts').ModelInfo;

/** Default target layer: the last of load-model's suggested layers, else the last 4-D layer with a spatial map. */
function defaultLayers(info: Info, suggested: Json | undefined): string[] {
  if (Array.isArray(suggested) && suggested.length && typeof suggested[suggested.length - 1] === 'string') return [suggested[suggested.length - 1] as string];
  const conv = info.layers.filter((l) => l.shape.length === 4 && l.shape[2] * l.shape[3] > 1);
  if (!conv.length) throw new ConfigError(`model '${info.id}' has no 4-D layer to take a CAM at; set params.layers`);
  const last = conv[conv.length - 1];
  return [last.alias ?? last.name];
}

function checkLayer(info: Info, layer: string, path: string): Info['layers'][number] {
  const l = info.layers.find((x) => x.alias === layer) ?? info.layers.find((x) => x.name === layer);
  if (!l) {
    const aliases = info.layers.filter((x) => x.alias).map((x) => x.alias!);
    throw new ConfigError(`model '${info.id}' has no layer or alias '${layer}'`, {
      path,
      suggestion: aliases.length ? `aliases: ${aliases.join(', ')}` : 'see `xai inspect` for layer names',
    });
  }
  if (l.shape.length !== 4) throw new ConfigError(`layer '${layer}' of model '${info.id}' has shape [${l.shape.join(', ')}]; a CAM needs a 4-D (N, C, H, W) layer`, { path });
  return l;
}

