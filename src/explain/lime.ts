// The work of the `lime` stage (stages/lime.ts wires it to ctx.map): params → explainInstance options (lime 0.2.0.1
// names), per-image segmentation and explanation with the model's softmax probabilities as classifier_fn, the masks
// (get_image_and_mask), IoU with a ground-truth mask, overlay PNGs (skimage mark_boundaries, mode 'outer', yellow,
// over get_image_and_mask(positive_only=False)'s image), and the Arrow rows/schemas of the stage's tables.
// Imported lazily by the stage (pulls the model/image modules); the bench runs the same functions.
import { createHash } from 'node:crypto';
import { Field, Float32, Float64, Int32, Int8, Schema, Uint32, Utf8, type Table } from 'apache-arrow';
import { listOf, tensorField } from '../arrow/conventions.ts';
import { explainInstance, getImageAndMask, labelExplanation, samplingRng, segment } from '../algo/lime/index.ts';
import type { ExplainOptions, ImageExplanation, RgbImage, RngKind, SegmentationSpec } from '../algo/lime/index.ts';
import type { Model } from '../model/types.ts';

/** The stage's params (lime's names; see docs/lime.md). */
export interface LimeParams {
  labels: number[] | null;
  top_labels: number | null;
  hide_color: number | [number, number, number] | null;
  num_features: number;
  num_samples: number | 'auto';
  auto: { max_samples?: number; min_samples?: number; step?: number; k?: number; level?: number; consecutive?: number; rule?: 'ztest' | 'mask'; target?: number; draws?: number };
  batch_size: number;
  predict_batch_size: number | null;
  segmentation_fn: string | ({ name?: string; algo_type?: string } & Record<string, unknown>) | null;
  distance_metric: string;
  model_regressor: number | { alpha: number } | null;
  random_seed: number | null;
  random_state: number | null;
  seed_per_image: boolean;
  /** 'xoshiro' (default) or 'numpy' (lime's own random streams; see src/algo/lime/rng.ts). */
  rng?: RngKind;
  kernel_width: number;
  feature_selection: 'auto' | 'forward_selection' | 'highest_weights' | 'lasso_path' | 'none';
  mask: { positive_only?: boolean; negative_only?: boolean; hide_rest?: boolean; num_features?: number; min_weight?: number };
  overlay: { enabled?: boolean; num_features?: number; min_weight?: number };
  image: { fit?: 'stretch' | 'center-crop'; resize?: number };
  limit?: number;
}

export const SEGMENTATION_NAMES = ['quickshift', 'slic', 'felzenszwalb'] as const;

/**
 * lime's SegmentationAlgorithm(algo_type, **params) from the param: null → lime's default quickshift(kernel_size=4,
 * max_dist=200, ratio=0.2, random_seed) (returned as null: explainInstance applies it with the drawn seed); a name →
 * that algorithm with scikit-image's defaults; { name | algo_type, ...params } → with those params.
 * Throws RangeError naming the bad key (the stage's check turns it into a ConfigError).
 */
export function segmentationSpec(s: LimeParams['segmentation_fn']): SegmentationSpec | null {
  if (s === null || s === undefined) return null;
  if (typeof s === 'string') {
    if (!(SEGMENTATION_NAMES as readonly string[]).includes(s)) throw new RangeError(`unknown segmentation '${s}'`);
    return { type: s } as SegmentationSpec;
  }
  const { name, algo_type, type, ...params } = s as Record<string, unknown>;
  const given = [name, algo_type, type].filter((x) => x !== undefined);
  if (given.length !== 1) throw new RangeError(`give the algorithm once, as 'name' (or lime's 'algo_type'), got ${given.length ? given.map(String).join(', ') : 'none'}`);
  const algo = given[0];
  if (typeof algo !== 'string' || !(SEGMENTATION_NAMES as readonly string[]).includes(algo)) throw new RangeError(`unknown segmentation '${String(algo)}'`);
  return { type: algo, ...params } as SegmentationSpec;
}

/** The segmentation seed lime uses when random_seed is None: drawn from the explainer's random_state stream. */
export function segmentationSeed(p: Pick<LimeParams, 'random_seed' | 'random_state' | 'rng'>): number {
  return p.random_seed ?? samplingRng(p.rng ?? 'xoshiro', p.random_state ?? 0).int(1000);
}

/** A seed for one image: the first 32 bits of sha256(`<seed>/<image id>`) — independent of item order and of the other images. */
export function imageSeed(seed: number, id: string): number {
  return createHash('sha256').update(`${seed}/${id}`).digest().readUInt32BE(0);
}

/**
 * The seeds one image is explained with. seed_per_image (default): random_state and random_seed are derived from
 * (seed, image id), so images get independent perturbation and segmentation streams and an image's explanation does
 * not depend on which other images run, or in which order. lime instead keeps one explainer whose RandomState continues
 * across explain_instance calls (its draws depend on the images before); seed_per_image: false gives every image the
 * configured seeds as they are, as a fresh LimeImageExplainer(random_state) per image would. random_seed null stays null
 * (drawn from the image's sampling stream in [0, 1000), as lime draws it from random_state).
 */
export function seedsFor(p: Pick<LimeParams, 'random_seed' | 'random_state' | 'seed_per_image'>, id: string): { random_state: number; random_seed: number | null } {
  const state = p.random_state ?? 0;
  if (p.seed_per_image === false) return { random_state: state, random_seed: p.random_seed };
  return { random_state: imageSeed(state, id), random_seed: p.random_seed === null ? null : imageSeed(p.random_seed, id) };
}

/** The segment map of one image, as explainInstance would compute it (same seed derivation). */
export function segmentImage(rgb: RgbImage, p: LimeParams, id: string): { segments: Int32Array; nSegments: number; randomSeed: number } {
  const randomSeed = segmentationSeed({ ...seedsFor(p, id), rng: p.rng });
  const spec = segmentationSpec(p.segmentation_fn) ?? { type: 'quickshift', kernel_size: 4, max_dist: 200, ratio: 0.2, random_seed: randomSeed };
  const s = segment(rgb, spec, { rng: p.rng });
  return { segments: s.segments, nSegments: s.nSegments, randomSeed };
}

/** Batch size the classifier sees: predict_batch_size (results identical to batch_size, see docs/lime.md). */
export function predictBatch(p: Pick<LimeParams, 'batch_size' | 'predict_batch_size'>): number {
  return p.predict_batch_size ?? p.batch_size;
}

/** explainInstance options for one image (segments precomputed by segmentImage; seeds from seedsFor). */
export function explainOptions(p: LimeParams, model: Model, rgb: RgbImage, segments: Int32Array | undefined, id: string): ExplainOptions {
  const { height: H, width: W } = model.info.input;
  const seeds = seedsFor(p, id);
  return {
    image: rgb,
    segments,
    segmentation_fn: segmentationSpec(p.segmentation_fn),
    // classifier_fn: softmax probabilities of the model (Model.predict), NCHW float32 batches
    classifierFn: async (batch, n) => (await model.predict({ data: batch, shape: [n, 3, H, W] })).probs.data,
    preprocess: model.info.input,
    labels: p.labels,
    top_labels: p.top_labels,
    hide_color: p.hide_color,
    num_features: p.num_features,
    num_samples: p.num_samples,
    // the classifier batch; 'auto' checkpoints stay every max(batch_size, 50) samples of lime's batch_size
    batch_size: predictBatch(p),
    auto: { ...p.auto, step: p.auto?.step ?? Math.max(p.batch_size, 50) },
    distance_metric: p.distance_metric,
    model_regressor: p.model_regressor,
    random_seed: seeds.random_seed,
    random_state: seeds.random_state,
    rng: p.rng,
    kernel_width: p.kernel_width,
    feature_selection: p.feature_selection,
  };
}

// ---------------------------------------------------------------------------------------------------- overlays

/**
 * skimage.segmentation.find_boundaries(labels, mode='outer', connectivity=1, background=0): pixels whose 4-neighbourhood
 * holds another label, kept if they are background or touch (8-neighbourhood) a different object. Out-of-image
 * neighbours are ignored (scipy's 'reflect' border gives the same min/max).
 */
export function findBoundariesOuter(labels: ArrayLike<number>, H: number, W: number): Uint8Array {
  const out = new Uint8Array(H * W);
  const BIG = Number.MAX_SAFE_INTEGER;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const v = labels[p];
      let mx = v, mn = v;
      if (y > 0) ((mx = Math.max(mx, labels[p - W])), (mn = Math.min(mn, labels[p - W])));
      if (y < H - 1) ((mx = Math.max(mx, labels[p + W])), (mn = Math.min(mn, labels[p + W])));
      if (x > 0) ((mx = Math.max(mx, labels[p - 1])), (mn = Math.min(mn, labels[p - 1])));
      if (x < W - 1) ((mx = Math.max(mx, labels[p + 1])), (mn = Math.min(mn, labels[p + 1])));
      if (mx === mn) continue;
      if (v === 0) {
        out[p] = 1;
        continue;
      }
      // adjacent objects: 3×3 max of labels vs 3×3 min with background counted as +∞
      let mx8 = -Infinity, mn8 = Infinity;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
          const u = labels[yy * W + xx];
          mx8 = Math.max(mx8, u);
          mn8 = Math.min(mn8, u === 0 ? BIG : u);
        }
      if (mx8 !== mn8) out[p] = 1;
    }
  return out;
}

/** mark_boundaries(image, labels) with color (1, 1, 0) → 8-bit RGB; the image is uint8 RGB HWC. */
export function markBoundaries(img: RgbImage, labels: ArrayLike<number>): Uint8Array {
  const { height: H, width: W } = img;
  const out = Uint8Array.from(img.data as ArrayLike<number>, (v) => Math.max(0, Math.min(255, Math.round(v))));
  const b = findBoundariesOuter(labels, H, W);
  for (let p = 0; p < H * W; p++)
    if (b[p]) {
      out[p * 3] = 255;
      out[p * 3 + 1] = 255;
      out[p * 3 + 2] = 0;
    }
  return out;
}

/**
 * The overlay of one label, as lime's tutorial figure: get_image_and_mask(label, positive_only=False,
 * negative_only=False, hide_rest, num_features, min_weight) → the image with green (w ≥ 0) / red (w < 0) channel
 * raised to the image maximum on the top superpixels, then mark_boundaries(image, mask).
 */
export function overlayPng(exp: ImageExplanation, label: number, o: { num_features: number; min_weight: number; hide_rest: boolean }, encodePng: (d: Uint8Array, w: number, h: number) => Uint8Array): Uint8Array {
  const r = getImageAndMask(exp, label, { positive_only: false, negative_only: false, hide_rest: o.hide_rest, num_features: o.num_features, min_weight: o.min_weight });
  return encodePng(markBoundaries(r.image, r.mask), exp.width, exp.height);
}

// ---------------------------------------------------------------------------------------------------- tables

export function segmentsSchema(height: number, width: number): Schema {
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('index', new Int32(), false),
    new Field('height', new Int32(), false),
    new Field('width', new Int32(), false),
    new Field('n_segments', new Int32(), false),
    new Field('random_seed', new Int32(), false),
    tensorField('segments', new Int32(), [height, width], ['height', 'width']),
  ]);
}

export function explanationsSchema(height: number, width: number): Schema {
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('index', new Int32(), false),
    new Field('label', new Int32(), false),
    new Field('label_name', new Utf8(), true),
    new Field('rank', new Int32(), false),
    new Field('prob', new Float32(), false),
    new Field('dataset_label', new Int32(), true),
    new Field('n_segments', new Int32(), false),
    new Field('intercept', new Float64(), false),
    new Field('score', new Float64(), false),
    new Field('local_pred', new Float64(), false),
    new Field('samples', new Int32(), false),
    new Field('stopped', new Utf8(), false),
    new Field('random_seed', new Int32(), false),
    new Field('random_state', new Uint32(), false),
    new Field('mask_pixels', new Int32(), false),
    new Field('gt_iou', new Float64(), true),
    new Field('gt_iou_chance', new Float64(), true),
    new Field('overlay', new Utf8(), true),
    new Field('local_exp_segments', listOf(new Int32()), false),
    new Field('local_exp_weights', listOf(new Float64()), false),
    tensorField('mask', new Int8(), [height, width], ['height', 'width']),
  ]);
}

export const weightsSchema = new Schema([
  new Field('id', new Utf8(), false),
  new Field('index', new Int32(), false),
  new Field('label', new Int32(), false),
  new Field('rank', new Int32(), false),
  new Field('segment', new Int32(), false),
  new Field('weight', new Float64(), false),
  new Field('pixels', new Int32(), false),
]);

/** IoU of (mask > 0) with a 0/1 ground truth, and the expected IoU of a uniformly random mask of the same area. */
export function iouWithGt(mask: Int8Array, gt: Uint8Array): { iou: number; chance: number; area: number } {
  let a = 0, g = 0, inter = 0;
  for (let p = 0; p < mask.length; p++) {
    const m = mask[p] > 0, t = gt[p] > 0;
    if (m) a++;
    if (t) g++;
    if (m && t) inter++;
  }
  const N = mask.length;
  const union = a + g - inter;
  const ei = (a * g) / N;
  const eu = a + g - ei;
  return { iou: union > 0 ? inter / union : 0, chance: eu > 0 ? ei / eu : 0, area: a };
}

/** Path-safe form of an image id (keeps '/' as folders). */
export function safeId(s: string): string {
  return s
    .split('/')
    .map((x) => x.replace(/[^A-Za-z0-9._+=-]+/g, '_').replace(/^[._]+/, '') || '_')
    .join('/');
}

export interface ItemContext {
  id: string;
  index: number;
  datasetLabel?: number;
  rgb: RgbImage;
  gt?: Uint8Array;
  seg: { segments: Int32Array; nSegments: number; randomSeed: number };
}

/** Row `row` of a `segments` table (or one of its record batches) as an item's segment map. */
export function segmentsAt(t: Pick<Table, 'getChild'>, row: number): ItemContext['seg'] {
  return {
    segments: Int32Array.from((t.getChild('segments')!.get(row) as { toArray(): Int32Array }).toArray()),
    nSegments: t.getChild('n_segments')!.get(row) as number,
    randomSeed: t.getChild('random_seed')!.get(row) as number,
  };
}

/**
 * Explains one image; returns its `explanations` rows (one per explained label, lime's order) and overlay files. Phase
 * times (perturbation_prediction, fit) go to `time` — apart from the rows, which are results and reproducible.
 */
export async function explainItem(
  p: LimeParams,
  model: Model,
  it: ItemContext,
  encodePng: ((d: Uint8Array, w: number, h: number) => Uint8Array) | null,
  time?: (phase: string, ms: number) => void,
): Promise<{ rows: Record<string, unknown>[]; files: { rel: string; data: Uint8Array }[]; exp: ImageExplanation }> {
  const opts = explainOptions(p, model, it.rgb, it.seg.segments, it.id);
  const exp = await explainInstance(opts);
  time?.('perturbation_prediction', exp.times.perturbation_prediction);
  time?.('fit', exp.times.fit);
  const labelsOfModel = model.info.labels;
  const m = p.mask ?? {};
  const maskOpts = {
    positive_only: m.positive_only ?? true,
    negative_only: m.negative_only ?? false,
    hide_rest: m.hide_rest ?? false,
    num_features: m.num_features ?? 5,
    min_weight: m.min_weight ?? 0,
  };
  const ov = { enabled: p.overlay?.enabled ?? true, num_features: p.overlay?.num_features ?? maskOpts.num_features, min_weight: p.overlay?.min_weight ?? maskOpts.min_weight };
  const rows: Record<string, unknown>[] = [];
  const files: { rel: string; data: Uint8Array }[] = [];
  const stopped = p.num_samples === 'auto' ? (exp.auto?.stopped ?? 'cap') : 'fixed';
  exp.labels.forEach((label, rank) => {
    const e = labelExplanation(exp, label);
    const { mask } = getImageAndMask(exp, label, maskOpts);
    const gt = it.gt ? iouWithGt(mask, it.gt) : undefined;
    let area = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i] > 0) area++;
    let overlay: string | null = null;
    if (ov.enabled && encodePng) {
      overlay = `overlays/${safeId(it.id).replace(/\./g, '_')}_label${label}.png`;
      files.push({ rel: overlay, data: overlayPng(exp, label, { ...ov, hide_rest: maskOpts.hide_rest }, encodePng) });
    }
    rows.push({
      id: it.id,
      index: it.index,
      label,
      label_name: labelsOfModel[label] ?? null,
      rank,
      prob: e.prob,
      dataset_label: it.datasetLabel ?? null,
      n_segments: exp.nSegments,
      intercept: e.intercept,
      score: e.score,
      local_pred: e.local_pred,
      samples: exp.samples,
      stopped,
      random_seed: exp.random_seed,
      random_state: opts.random_state ?? 0,
      mask_pixels: area,
      gt_iou: gt ? gt.iou : null,
      gt_iou_chance: gt ? gt.chance : null,
      overlay,
      local_exp_segments: e.weights.map((w) => w.segment),
      local_exp_weights: e.weights.map((w) => w.weight),
      mask,
    });
  });
  return { rows, files, exp };
}

/** The long `weights` table (one row per image × label × segment, lime's local_exp order) from `explanations`. */
export function weightsRows(explanations: Table, segmentsOf: (id: string) => Int32Array | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const ids = explanations.getChild('id')!, idx = explanations.getChild('index')!, lab = explanations.getChild('label')!;
  const segs = explanations.getChild('local_exp_segments')!, ws = explanations.getChild('local_exp_weights')!;
  const areaCache = new Map<string, Int32Array>();
  for (let r = 0; r < explanations.numRows; r++) {
    const id = ids.get(r) as string;
    let area = areaCache.get(id);
    if (!area) {
      const map = segmentsOf(id);
      let mx = -1;
      if (map) for (let i = 0; i < map.length; i++) if (map[i] > mx) mx = map[i];
      area = new Int32Array(mx + 1);
      if (map) for (let i = 0; i < map.length; i++) area[map[i]]++;
      areaCache.set(id, area);
    }
    const s = (segs.get(r) as { toArray(): Int32Array }).toArray();
    const w = (ws.get(r) as { toArray(): Float64Array }).toArray();
    for (let k = 0; k < s.length; k++) out.push({ id, index: idx.get(r), label: lab.get(r), rank: k, segment: s[k], weight: w[k], pixels: area[s[k]] ?? 0 });
  }
  return out;
}
