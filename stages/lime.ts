// Stage `lime`: LIME explanations of a classifier's predictions for a set of images, with lime 0.2.0.1's
// LimeImageExplainer(kernel_width, feature_selection, random_state).explain_instance(...) parameters under lime's names
// (algorithms: src/algo/lime; user docs: docs/lime.md). Inputs: `model` (load-model) and `images` (a dataset stage).
// Per image (ctx.map, resumable): the segment map (table `segments`), then the explanation with the model's softmax
// probabilities as classifier_fn (table `explanations`, one row per explained label, with the mask of
// get_image_and_mask), overlay PNGs, and the long `weights` table (image × label × segment).
// Grayscale images reach the stage as RGB (the image loader copies the grey band into R, G, B — lime's gray2rgb).
import { ConfigError, didYouMean } from '../src/engine/errors.ts';
import type { Json, StageDef, UpstreamOutputs } from '../src/engine/types.ts';
import type { LimeParams } from '../src/explain/lime.ts';
import { imageFitSchema, limitSchema, modelImagesInputs } from '../src/explain/params.ts';

const FEATURE_SELECTIONS = ['auto', 'forward_selection', 'highest_weights', 'lasso_path', 'none'];
const DISTANCE_HINT = 'cosine (default), euclidean/l2, sqeuclidean, manhattan/cityblock/l1, chebyshev, minkowski, braycurtis, canberra, hamming, jaccard, dice, …';

export default {
  kind: 'lime',
  version: '1',
  description: "LIME for images (lime 0.2.0.1's explain_instance parameters; quickshift/slic/felzenszwalb superpixels) with masks and overlays",
  params: {
    type: 'object',
    properties: {
      labels: {
        type: ['array', 'null'],
        items: { type: 'integer', minimum: 0 },
        minItems: 1,
        default: [1],
        description: 'class indices to explain when top_labels is null/0 (lime default (1,))',
      },
      top_labels: { type: ['integer', 'null'], minimum: 0, default: 5, description: 'explain the K most probable classes of each image (lime default 5); null → labels' },
      hide_color: {
        type: ['number', 'array', 'null'],
        items: { type: 'number' },
        minItems: 3,
        maxItems: 3,
        default: null,
        description: 'replacement of hidden superpixels: null = each superpixel\'s mean colour (lime default), a number (0..255 pixel value) or [r, g, b]',
      },
      num_features: { type: 'integer', minimum: 1, default: 100000, description: 'max superpixels in each explanation (lime default 100000)' },
      num_samples: {
        type: ['integer', 'string'],
        minimum: 1,
        default: 1000,
        description: "perturbed samples per image (lime default 1000), or 'auto': sample until the top-k superpixels are stable (see auto)",
      },
      auto: {
        type: 'object',
        default: {},
        description: "options of num_samples: 'auto'",
        properties: {
          max_samples: { type: 'integer', minimum: 1, default: 5000, description: 'cap' },
          min_samples: { type: 'integer', minimum: 1, description: 'first checkpoint (default max(100, n_segments + 10))' },
          step: { type: 'integer', minimum: 1, description: 'samples between checkpoints (default max(batch_size, 50))' },
          k: { type: 'integer', minimum: 1, description: 'size of the top set that must be stable (default min(5, num_features))' },
          level: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 0.5, default: 0.05, description: "rule 'ztest': one-sided z-test level" },
          consecutive: { type: 'integer', minimum: 1, default: 2, description: 'stable checkpoints in a row to stop' },
          rule: { enum: ['ztest', 'mask'], description: "stopping rule (default mask): 'mask' (expected IoU of the mask — the first k positive superpixels — with the limit mask ≥ target) or 'ztest' (k-th vs (k+1)-th |weight| and the same top set); docs/lime.md" },
          target: { type: 'number', exclusiveMinimum: 0, maximum: 1, description: "rule 'mask': expected mask IoU that counts as stable (default 0.9)" },
          draws: { type: 'integer', minimum: 10, maximum: 10000, description: "rule 'mask': draws from the weights' sampling distribution per checkpoint (default 200)" },
        },
      },
      batch_size: { type: 'integer', minimum: 1, default: 10, description: "lime's batch_size (default 10): sets the 'auto' checkpoint step; results do not depend on it otherwise" },
      predict_batch_size: {
        type: ['integer', 'null'],
        minimum: 1,
        maximum: 4096,
        default: 50,
        description: 'perturbed images per model call (speed only; identical results: checked for onnxruntime CPU); null → batch_size',
      },
      segmentation_fn: {
        type: ['string', 'object', 'null'],
        properties: { name: { type: 'string' }, algo_type: { type: 'string' } },
        additionalProperties: true,
        default: null,
        description:
          "null → lime's default quickshift(kernel_size=4, max_dist=200, ratio=0.2, random_seed); a name (quickshift, slic, felzenszwalb) → scikit-image's defaults; { name, ...params } → lime's SegmentationAlgorithm(name, **params)",
      },
      distance_metric: { type: 'string', default: 'cosine', description: `sklearn pairwise_distances metric to the unperturbed row: ${DISTANCE_HINT}` },
      model_regressor: {
        type: ['number', 'object', 'null'],
        minimum: 0,
        properties: { alpha: { type: 'number', minimum: 0 } },
        required: ['alpha'],
        default: null,
        description: 'the surrogate: null → Ridge(alpha=1) (lime default); a number or { alpha } → Ridge(alpha)',
      },
      random_seed: { type: ['integer', 'null'], default: null, description: "segmentation seed (lime's random_seed); null → drawn from random_state in [0, 1000), as lime" },
      random_state: {
        type: ['integer', 'null'],
        default: null,
        description: "seed of the sampling stream (LimeImageExplainer's random_state); null → 0. Each image gets its own stream (see seed_per_image)",
      },
      seed_per_image: {
        type: 'boolean',
        default: true,
        description:
          "true: each image's sampling and segmentation seeds are derived from (seed, image id) — independent streams, the same explanation whatever other images run and in whichever order (column random_state holds the image's seed); false: every image uses random_state/random_seed as given, as a fresh LimeImageExplainer(random_state) per image",
      },
      rng: {
        enum: ['xoshiro', 'numpy'],
        default: 'xoshiro',
        description:
          "random streams: 'xoshiro' (the project's generator) or 'numpy' (lime's own, bit for bit: RandomState(random_state) for random_seed and the samples, skimage's default_rng(random_seed) noise in quickshift)",
      },
      kernel_width: { type: 'number', exclusiveMinimum: 0, default: 0.25, description: 'kernel width: weights = sqrt(exp(−d²/w²)) (lime default 0.25)' },
      feature_selection: { enum: FEATURE_SELECTIONS, default: 'auto', description: "lime's feature_selection: auto, forward_selection, highest_weights, lasso_path, none" },
      mask: {
        type: 'object',
        default: {},
        description: "get_image_and_mask options of the stored mask (lime's defaults)",
        properties: {
          positive_only: { type: 'boolean', default: true },
          negative_only: { type: 'boolean', default: false },
          hide_rest: { type: 'boolean', default: false },
          num_features: { type: 'integer', minimum: 1, default: 5 },
          min_weight: { type: 'number', default: 0 },
        },
      },
      overlay: {
        type: 'object',
        default: {},
        description: 'overlay PNGs: positive (green) and negative (red) superpixels + mark_boundaries of the mask',
        properties: {
          enabled: { type: 'boolean', default: true },
          num_features: { type: 'integer', minimum: 1, description: 'superpixels shown (default mask.num_features)' },
          min_weight: { type: 'number', description: 'default mask.min_weight' },
        },
      },
      image: imageFitSchema,
      limit: limitSchema,
    },
  },
  inputs: modelImagesInputs,
  outputs: {
    explanations: {
      description:
        'one row per image × explained label (lime order): id, index, label, label_name, rank, prob, dataset_label, n_segments, intercept, score (weighted R²), ' +
        'local_pred, samples (model forwards), stopped (fixed|stable|cap), random_seed (segmentation), random_state (the image\'s sampling seed), mask_pixels, ' +
        'gt_iou, gt_iou_chance, overlay, local_exp_segments/local_exp_weights (sorted by |w|), mask (FixedSizeList<Int8> H·W, get_image_and_mask)',
      type: 'table',
    },
    segments: { description: 'one row per image: id, index, height, width, n_segments, random_seed, segments (FixedSizeList<Int32> H·W, ids 0..n−1)', type: 'table' },
    weights: { description: 'one row per image × label × segment: id, index, label, rank, segment, weight, pixels', type: 'table' },
    overlays: { description: 'overlays/<image id>_label<k>.png: top superpixels (green +, red −) and mark_boundaries of the mask', type: 'files' },
  },
  async check(params, ctx) {
    const at = (f: string) => `stages.${ctx.stageId}.params.${f}`;
    const bad = (detail: string, field: string, extra: { expected?: string; suggestion?: string } = {}) =>
      new ConfigError(detail, { file: ctx.where, path: at(field), ...extra });
    const { checkMetric, DISTANCE_METRICS } = await import('../src/algo/lime/distance.ts');
    const { segment, SEGMENTATION_PARAMS } = await import('../src/algo/lime/segment/index.ts');
    const { segmentationSpec, SEGMENTATION_NAMES } = await import('../src/explain/lime.ts');
    try {
      checkMetric(params.distance_metric);
    } catch {
      throw bad(`unknown distance_metric '${params.distance_metric}'`, 'distance_metric', {
        suggestion: didYouMean(params.distance_metric, DISTANCE_METRICS) ?? `one of ${DISTANCE_METRICS.join(', ')}`,
      });
    }
    if (params.distance_metric === 'correlation') {
      throw bad("distance_metric 'correlation' is undefined here: the reference row (all ones) is constant", 'distance_metric', { expected: DISTANCE_HINT });
    }
    if (params.rng === 'numpy') {
      // numpy's RandomState takes seeds in [0, 2^32 − 1], default_rng non-negative integers
      if (params.random_state !== null && !(params.random_state >= 0 && params.random_state <= 0xffffffff))
        throw bad(`random_state ${params.random_state} is not a numpy RandomState seed`, 'random_state', { expected: 'an integer in [0, 4294967295] with rng: numpy' });
      if (params.random_seed !== null && params.random_seed < 0)
        throw bad(`random_seed ${params.random_seed} is not a numpy seed`, 'random_seed', { expected: 'a non-negative integer with rng: numpy' });
    }
    if (typeof params.num_samples === 'string' && params.num_samples !== 'auto') {
      throw bad(`num_samples must be an integer ≥ 1 or 'auto', got '${params.num_samples}'`, 'num_samples', { suggestion: didYouMean(params.num_samples, ['auto']) });
    }
    if (params.top_labels === 0 || params.top_labels === null) {
      if (!params.labels) throw bad('labels is null and top_labels is null/0: nothing to explain', 'labels', { expected: 'a list of class indices, or top_labels ≥ 1' });
    }
    const m = params.mask ?? {};
    if (m.positive_only && m.negative_only) throw bad('positive_only and negative_only cannot be true at the same time (lime raises ValueError)', 'mask.negative_only');
    if (typeof params.model_regressor === 'object' && params.model_regressor !== null) {
      const extra = Object.keys(params.model_regressor).filter((k) => k !== 'alpha');
      if (extra.length) throw bad(`unknown key '${extra[0]}' (only a ridge alpha is supported)`, `model_regressor.${extra[0]}`, { expected: '{ alpha: number ≥ 0 }, a number, or null' });
    }
    const s = params.segmentation_fn;
    if (s !== null && s !== undefined) {
      const field = typeof s === 'string' ? 'segmentation_fn' : s.name !== undefined ? 'segmentation_fn.name' : s.algo_type !== undefined ? 'segmentation_fn.algo_type' : 'segmentation_fn';
      const name = typeof s === 'string' ? s : (s.name ?? s.algo_type ?? (s as { type?: unknown }).type);
      if (typeof name !== 'string' || !(SEGMENTATION_NAMES as readonly string[]).includes(name)) {
        throw bad(`unknown segmentation algorithm ${JSON.stringify(name ?? null)}`, field, {
          expected: SEGMENTATION_NAMES.join(', '),
          suggestion: typeof name === 'string' ? didYouMean(name, SEGMENTATION_NAMES) : "give it as { name: quickshift, ... }",
        });
      }
      let spec;
      try {
        spec = segmentationSpec(s);
      } catch (e) {
        throw bad((e as Error).message, 'segmentation_fn');
      }
      const known = SEGMENTATION_PARAMS[spec!.type];
      for (const k of Object.keys(spec!).filter((k) => k !== 'type')) {
        if (!known.includes(k)) throw bad(`'${k}' is not a parameter of ${name}`, `segmentation_fn.${k}`, { suggestion: didYouMean(k, known) ?? `known: ${known.join(', ')}` });
      }
      // parameter values: run it on a small image (the algorithms throw RangeError/TypeError for bad values)
      const tiny = { data: Uint8Array.from({ length: 12 * 12 * 3 }, (_, i) => (i * 37) % 256), height: 12, width: 12 };
      try {
        segment(tiny, spec!);
      } catch (e) {
        const msg = (e as Error).message;
        throw bad(msg.startsWith(name) ? msg : `${name}: ${msg}`, 'segmentation_fn');
      }
    }
  },
  async run(ctx) {
    const { openUpstreamModel } = await import('../src/model/index.ts');
    const { openDataset, refFromMeta } = await import('../src/data/index.ts');
    const { BatchCursor, tableFromRows } = await import('../src/arrow/io.ts');
    const c = await import('../src/explain/lime.ts');
    const p = ctx.params;
    const modelIn = ctx.inputs.model as UpstreamOutputs;
    const imagesIn = ctx.inputs.images as UpstreamOutputs;
    const model = await openUpstreamModel(modelIn, ctx.projectRoot);
    const info = model.info;
    const { height: H, width: W } = info.input;
    if (info.input.channels !== 3) throw new ConfigError(`model '${info.id}' takes ${info.input.channels}-channel input; LIME for images needs an RGB (3-channel) model`);
    if ((p.top_labels === null || p.top_labels === 0) && p.labels) {
      p.labels.forEach((l, i) => {
        if (l >= info.numClasses) throw new ConfigError(`class index ${l} is outside 0..${info.numClasses - 1} (model '${info.id}' has ${info.numClasses} classes)`, { path: `stages.${ctx.stageId}.params.labels[${i}]` });
      });
    }
    if (p.top_labels && p.top_labels > info.numClasses) ctx.log.warn(`top_labels ${p.top_labels} > ${info.numClasses} classes: explaining all ${info.numClasses}`);
    const ds = await openDataset(refFromMeta(imagesIn.meta, imagesIn.stageId), { baseDir: ctx.projectRoot });
    const items = p.limit ? ds.items.slice(0, p.limit) : ds.items;
    if (items.length === 0) throw new ConfigError(`stage '${imagesIn.stageId}': the dataset has no images`);
    const loadOpts = { fit: p.image?.fit ?? 'stretch', resize: p.image?.resize };
    ctx.log.info(
      `${info.id} (${info.backend}): ${items.length} images ${H}×${W}, num_samples ${p.num_samples}, ` +
        `${p.top_labels ? `top_labels ${p.top_labels}` : `labels ${JSON.stringify(p.labels)}`}, segmentation ${JSON.stringify(p.segmentation_fn ?? 'quickshift(4, 200, 0.2)')}`,
    );

    // 1. segment maps (one row per image)
    const item = await import('../src/explain/lime-item.ts');
    const config: import('../src/explain/lime-item.ts').LimeItemConfig = {
      params: p,
      model: modelIn.meta.config as unknown as import('../src/model/index.ts').ModelConfig,
      height: H,
      width: W,
      loadOpts,
    };
    const segRes = await ctx.map({
      table: 'segments',
      items,
      id: (it) => it.id,
      schema: c.segmentsSchema(H, W),
      worker: { module: item, factory: 'createSegments', config },
    });
    // segment maps are read from the table on demand, one record batch at a time, in item order (bounded memory)
    const segAt = (at: { batch: import('apache-arrow').RecordBatch; row: number } | undefined) => at && c.segmentsAt(at.batch, at.row);
    const segCursor = await BatchCursor.over(() => segRes.batches(), 'id');

    // 2. explanations (one row per image × label)
    const res = await ctx.map({
      table: 'explanations',
      items,
      id: (it) => it.id,
      schema: c.explanationsSchema(H, W),
      worker: { module: item, factory: 'createExplain', config, prepare: async (it) => ({ it, seg: segAt(await segCursor.get(it.id)) }) },
    });
    if (res.errors.length === items.length) throw new Error(`every image failed; first: ${res.errors[0].item}: ${res.errors[0].message}`);
    if (res.errors.length) ctx.log.warn(`${res.errors.length} image(s) failed (table explanations_errors); first: ${res.errors[0].item}: ${res.errors[0].message}`);

    await segCursor.close();

    // 3. the long weights table, derived from the explanations batch by batch, and in the same pass the summary's
    //    rows (the top label's row of each image)
    const { Table } = await import('apache-arrow');
    const weightsSegs = segCursor.again();
    const wanted = ['samples', 'n_segments', 'score', 'gt_iou', 'gt_iou_chance'];
    const acc = new Map(wanted.map((n) => [n, { sum: 0, n: 0 }])); // over the finite values
    let images = 0;
    await ctx.out.tableParts(
      'weights',
      c.weightsSchema,
      (async function* () {
        for await (const b of res.batches()) {
          const rank = b.getChild('rank')!;
          for (let r = 0; r < b.numRows; r++) {
            if (rank.get(r) !== 0) continue;
            images++;
            for (const [name, a] of acc) {
              const x = b.getChild(name)!.get(r) as number | null;
              if (x !== null && Number.isFinite(x)) ((a.sum += x), a.n++);
            }
          }
          const t = new Table(b);
          const maps = new Map<string, Int32Array | undefined>();
          const ids = t.getChild('id')!;
          for (let r = 0; r < t.numRows; r++) {
            const id = ids.get(r) as string;
            if (!maps.has(id)) maps.set(id, segAt(await weightsSegs.get(id))?.segments);
          }
          yield tableFromRows(c.weightsRows(t, (id) => maps.get(id)), c.weightsSchema);
        }
      })(),
    );

    // summary
    const mean = (name: string) => {
      const a = acc.get(name)!;
      return a.n ? Math.round((a.sum / a.n) * 1e4) / 1e4 : null;
    };
    const summary: Record<string, Json> = {
      images,
      mean_samples: mean('samples'),
      mean_segments: mean('n_segments'),
      mean_score: mean('score'),
      mean_gt_iou: mean('gt_iou'),
      mean_gt_iou_chance: mean('gt_iou_chance'),
    };
    if (summary.mean_gt_iou !== null) ctx.log.info(`mask IoU with ground truth (top label): ${summary.mean_gt_iou} (random mask of the same area: ${summary.mean_gt_iou_chance})`);
    ctx.out.meta('backend', info.backend);
    ctx.out.meta('runtime', info.runtime);
    ctx.out.meta('model', info.id);
    ctx.out.meta('input_size', [H, W]);
    ctx.out.meta('predict_batch_size', c.predictBatch(p));
    ctx.out.meta('summary', summary);
  },
} satisfies StageDef<LimeParams>;
