// LIME for images, as lime 0.2.0.1 LimeImageExplainer(kernel_width, feature_selection, random_state)
// .explain_instance(image, classifier_fn, labels, hide_color, top_labels, num_features, num_samples, batch_size,
// segmentation_fn, distance_metric, model_regressor, random_seed) — pure: the classifier is a function argument.
//
// Semantics (lime): segments (default quickshift kernel_size=4, max_dist=200, ratio=0.2, random_seed) → fudged image
// → data matrix (row 0 all ones) → classifier on perturbed images in batches of batch_size → distances of rows to
// row 0 (distance_metric, cosine) → weights sqrt(exp(−d²/kernel_width²)) → per label: feature selection, then
// Ridge(alpha = model_regressor, default 1, intercept, sample-weighted) → intercept, (segment, weight) sorted by |w|
// desc, weighted R², local prediction on row 0. top_labels: the K most probable classes of the unperturbed image,
// descending (labels ignored then).
// Deliberate departures: seeded xoshiro PRNG instead of numpy by default (rng 'numpy' = lime's streams; see rng.ts),
// random_state None → 0 (deterministic);
// `score` and `local_pred` are kept per label (lime overwrites them with the last label's); num_samples 'auto'.

import { type RngKind, samplingRng } from './rng.ts';
import { type RgbImage, checkImage } from './image.ts';
import { type SegmentationSpec, checkSegments, segment } from './segment/index.ts';
import {
  type HideColor, type NormalizeSpec, assembleNCHW, fudgedImage, normalizeToNCHW, perturbedImage, sampleRows, segmentRuns,
} from './perturb.ts';
import { type DistanceMetric, checkMetric, rowDistance } from './distance.ts';
import { DEFAULT_KERNEL_WIDTH, kernelWeight } from './kernel.ts';
import { type FeatureSelection, FEATURE_SELECTIONS, selectFeatures } from './select.ts';
import { type Design, centredMoments, ridgeFit, ridgeScore, selectColumns } from './ridge.ts';
import { AUTO_RULES, type AutoSamplesOptions, type Checkpoint, StabilityMonitor } from './auto.ts';

/**
 * The classifier: a batch of `n` preprocessed images (n × C × H × W float32, NCHW) → class probabilities
 * (n × numClasses, row-major). The batch buffer is reused once the returned promise resolves: copy it if needed later.
 */
export type ClassifierFn = (batch: Float32Array, n: number) => Promise<Float32Array> | Float32Array;

/**
 * How images become model input. A `NormalizeSpec` (e.g. the model's InputSpec) or a pixelwise function
 * (RgbImage → C×H×W float32, where each output pixel depends only on the same input pixel) are applied once to the
 * original and the fudged image; `{ fn, pixelwise: false }` is applied to every perturbed image (slow path, for
 * preprocessing that mixes pixels, e.g. a resize).
 */
export type Preprocess = NormalizeSpec | ((img: RgbImage) => Float32Array) | { fn: (img: RgbImage) => Float32Array; pixelwise: boolean };

export interface ExplainOptions {
  /** RGB HWC image (uint8 0..255 or float [0,1]), at the size the preprocessing expects. */
  image: RgbImage;
  classifierFn: ClassifierFn;
  /** Default: { scale: 1/255, mean 0, std 1 } → [0,1] floats NCHW. */
  preprocess?: Preprocess;
  /** Precomputed segment map (H×W, ids 0..n−1); overrides segmentation_fn. */
  segments?: Int32Array;
  /** lime's segmentation_fn: algorithm + scikit-image params. Default quickshift(4, 200, 0.2, random_seed). */
  segmentation_fn?: SegmentationSpec | null;
  /** Labels to explain when top_labels is falsy (lime default [1]). */
  labels?: number[] | null;
  /** Explain the K most probable classes (lime default 5); null/0 → use `labels`. */
  top_labels?: number | null;
  hide_color?: HideColor;
  /** Max features in each explanation (lime default 100000). */
  num_features?: number;
  /** lime default 1000; 'auto' → sample until stable (see auto.ts). */
  num_samples?: number | 'auto';
  /** Classifier batch size (lime default 10). */
  batch_size?: number;
  distance_metric?: DistanceMetric | string;
  /** Ridge alpha of the surrogate: a number, { alpha }, or null (→ 1, lime's default Ridge(alpha=1)). */
  model_regressor?: number | { alpha: number } | null;
  kernel_width?: number;
  feature_selection?: FeatureSelection;
  /** Segmentation seed (lime: drawn from random_state in [0, 1000) when None). */
  random_seed?: number | null;
  /** Seed of the sampling stream (lime's LimeImageExplainer(random_state)); None → 0 (deterministic). */
  random_state?: number | null;
  /** 'xoshiro' (default) or 'numpy': lime's own streams, as a new LimeImageExplainer(random_state) (see rng.ts). */
  rng?: RngKind;
  /** Options of num_samples: 'auto'. */
  auto?: AutoSamplesOptions;
  /** Keep the data matrix and predictions in the result (default false). */
  keep_data?: boolean;
}

export interface SegmentWeight {
  segment: number;
  weight: number;
}

export interface LabelExplanation {
  label: number;
  intercept: number;
  /** (segment, weight) sorted by |weight| descending (stable), as lime's local_exp[label]. */
  weights: SegmentWeight[];
  /** Weighted R² of the surrogate on the samples (lime's `score`). */
  score: number;
  /** Surrogate prediction on the unperturbed row (lime's `local_pred`). */
  local_pred: number;
  /** Classifier probability of this label on the unperturbed image. */
  prob: number;
  /** Features chosen by feature_selection, in selection order. */
  used_features: number[];
}

export interface ExplainTimes {
  segmentation: number;
  /** Assembling perturbed inputs (ms, summed). */
  perturbation: number;
  /** Waiting for the classifier (ms, summed; overlaps assembly of the next batch). */
  prediction: number;
  /** Wall time of the sampling loop: perturbation + prediction as experienced. */
  perturbation_prediction: number;
  fit: number;
  total: number;
}

export interface ImageExplanation {
  image: RgbImage;
  segments: Int32Array;
  nSegments: number;
  height: number;
  width: number;
  /** The explained labels in lime's order (top_labels descending, or `labels` as given). */
  labels: number[];
  top_labels: number[] | null;
  explanations: LabelExplanation[];
  numClasses: number;
  /** Samples used (= num_samples, or what 'auto' used). */
  samples: number;
  random_seed: number;
  times: ExplainTimes;
  auto?: { checkpoints: Checkpoint[]; stopped: 'stable' | 'cap'; k: number; level: number };
  data?: Uint8Array;
  predictions?: Float32Array;
}

/** The explanation of one label, or a clear error. */
export function labelExplanation(exp: ImageExplanation, label: number): LabelExplanation {
  const e = exp.explanations.find((x) => x.label === label);
  if (!e) throw new RangeError(`Label ${label} not in explanation (explained: ${exp.labels.join(', ')})`);
  return e;
}

function ridgeAlphaOf(m: ExplainOptions['model_regressor']): number {
  if (m === null || m === undefined) return 1;
  const a = typeof m === 'number' ? m : m.alpha;
  if (!(a >= 0)) throw new RangeError(`model_regressor: ridge alpha must be a number ≥ 0, got ${JSON.stringify(m)}`);
  return a;
}

function isNormalizeSpec(p: Preprocess): p is NormalizeSpec {
  return typeof p === 'object' && 'mean' in p && 'std' in p;
}

// The perturbation batches' buffers (batch × C·H·W floats: ~10 MB for 50 samples at 128², 30 MB at 224²) are reused
// across explanations instead of allocated per image (garbage the GC returns late: a stage's peak RSS rose with its
// images). At most two per size are kept; an explanation takes them for its run and gives them back when done.
const freeBufs = new Map<number, Float32Array[]>();
const takeBuf = (len: number): Float32Array => freeBufs.get(len)?.pop() ?? new Float32Array(len);
function giveBufs(bufs: readonly Float32Array[]): void {
  for (const b of bufs) {
    if (!freeBufs.has(b.length)) {
      if (freeBufs.size >= 2) freeBufs.delete(freeBufs.keys().next().value!); // the oldest size goes
      freeBufs.set(b.length, []);
    }
    const l = freeBufs.get(b.length)!;
    if (l.length < 2) l.push(b);
  }
}

export async function explainInstance(opts: ExplainOptions): Promise<ImageExplanation> {
  const t0 = performance.now();
  const image = opts.image;
  checkImage(image);
  const H = image.height, W = image.width, HW = H * W;
  const numFeatures = opts.num_features ?? 100000;
  const batchSize = opts.batch_size ?? 10;
  const kernelWidth = opts.kernel_width ?? DEFAULT_KERNEL_WIDTH;
  const featureSelection = opts.feature_selection ?? 'auto';
  const metric = checkMetric(opts.distance_metric ?? 'cosine');
  const alpha = ridgeAlphaOf(opts.model_regressor);
  const topLabelsK = opts.top_labels === undefined ? 5 : opts.top_labels;
  const auto = opts.num_samples === 'auto';
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch_size must be an integer ≥ 1, got ${batchSize}`);
  if (!(kernelWidth > 0)) throw new RangeError(`kernel_width must be > 0, got ${kernelWidth}`);
  if (!FEATURE_SELECTIONS.includes(featureSelection)) throw new RangeError(`feature_selection: unknown '${featureSelection}'`);
  if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new RangeError(`num_features must be an integer ≥ 1, got ${numFeatures}`);
  if (!auto && (!Number.isInteger(opts.num_samples ?? 1000) || ((opts.num_samples as number | undefined) ?? 1000) < 1))
    throw new RangeError(`num_samples must be an integer ≥ 1 or 'auto', got ${String(opts.num_samples)}`);
  if (topLabelsK !== null && topLabelsK !== 0 && (!Number.isInteger(topLabelsK) || topLabelsK < 0))
    throw new RangeError(`top_labels must be a non-negative integer or null, got ${topLabelsK}`);

  // sampling stream; lime draws random_seed from random_state when it is None, before the data matrix
  const rng = samplingRng(opts.rng ?? 'xoshiro', opts.random_state ?? 0);
  const randomSeed = opts.random_seed ?? rng.int(1000);

  // ---- segmentation
  const tSeg = performance.now();
  let segments: Int32Array, nSeg: number;
  if (opts.segments) {
    segments = opts.segments;
    nSeg = checkSegments(segments, H, W);
  } else {
    const spec: SegmentationSpec = opts.segmentation_fn ?? { type: 'quickshift', kernel_size: 4, max_dist: 200, ratio: 0.2, random_seed: randomSeed };
    const s = segment(image, spec, { rng: opts.rng });
    segments = s.segments;
    nSeg = s.nSegments;
  }
  const segmentationMs = performance.now() - tSeg;

  // ---- fudged image and model inputs
  const tLoop = performance.now();
  let perturbMs = 0, predictMs = 0;
  const ta = performance.now();
  const fudged = fudgedImage(image, segments, nSeg, opts.hide_color);
  const pre = opts.preprocess ?? { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
  let origIn: Float32Array | null = null, fudgIn: Float32Array | null = null;
  let perSample: ((img: RgbImage) => Float32Array) | null = null;
  if (isNormalizeSpec(pre)) {
    origIn = normalizeToNCHW(image, pre);
    fudgIn = normalizeToNCHW(fudged, pre);
  } else {
    const fn = typeof pre === 'function' ? pre : pre.fn;
    const pixelwise = typeof pre === 'function' ? true : pre.pixelwise;
    if (pixelwise) {
      origIn = fn(image);
      fudgIn = fn(fudged);
      if (origIn.length !== fudgIn.length || origIn.length % HW !== 0)
        throw new RangeError(`preprocess: a pixelwise preprocess must return C×H×W floats (H×W = ${H}×${W}), got ${origIn.length}`);
    } else perSample = fn;
  }
  const runs = segmentRuns(segments, H, W);
  perturbMs += performance.now() - ta;

  // ---- sampling loop (double-buffered: batch b+1 is assembled while batch b is being classified)
  const autoOpts = opts.auto ?? {};
  const cap = auto ? autoOpts.max_samples ?? 5000 : ((opts.num_samples as number | undefined) ?? 1000);
  if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`auto.max_samples must be an integer ≥ 1, got ${cap}`);
  const data = new Uint8Array(cap * nSeg);
  const dist = new Float64Array(cap);
  const weights = new Float64Array(cap);
  const ones = new Uint8Array(nSeg).fill(1);
  let preds: Float32Array | null = null;
  let numClasses = 0;
  let sampled = 0; // rows drawn and queued
  let done = 0; // rows with predictions
  let chw = 0;
  const bufs: Float32Array[] = [];
  let labelsToExplain: number[] | null = null;
  let topLabels: number[] | null = null;
  let monitor: StabilityMonitor | null = null;
  let nextCheck = 0;
  const kAuto = Math.max(1, autoOpts.k ?? Math.min(5, numFeatures));
  const level = autoOpts.level ?? 0.05;
  let stopped: 'stable' | 'cap' = 'cap';
  let stop = false;
  let stopAt = -1; // 'auto': samples at the stable checkpoint

  const assemble = (from: number, count: number): Float32Array => {
    const t = performance.now();
    sampleRows(rng, data, nSeg, from, from + count);
    for (let r = from; r < from + count; r++) {
      dist[r] = rowDistance(data, r * nSeg, ones, nSeg, metric);
      weights[r] = kernelWeight(dist[r], kernelWidth);
      if (!Number.isFinite(weights[r]))
        throw new RangeError(`distance_metric '${metric}': distance of sample ${r} to the unperturbed row is ${dist[r]} (undefined for this metric)`);
    }
    let buf: Float32Array;
    if (perSample) {
      const imgs: Float32Array[] = [];
      for (let r = from; r < from + count; r++) imgs.push(perSample(perturbedImage(image, fudged, segments, data, nSeg, r)));
      if (!chw) chw = imgs[0].length;
      buf = new Float32Array(count * chw);
      imgs.forEach((im, i) => {
        if (im.length !== chw) throw new RangeError(`preprocess returned ${im.length} floats, expected ${chw}`);
        buf.set(im, i * chw);
      });
    } else {
      chw = origIn!.length;
      const slot = (from / batchSize) & 1;
      if (!bufs[slot]) bufs[slot] = takeBuf(batchSize * chw);
      buf = bufs[slot];
      assembleNCHW(buf, data, nSeg, from, count, origIn!, fudgIn!, runs, chw / HW, HW);
      if (count < batchSize) buf = buf.subarray(0, count * chw);
    }
    perturbMs += performance.now() - t;
    return buf;
  };

  const receive = (from: number, count: number, out: Float32Array): void => {
    const o = out as unknown;
    if (!(o instanceof Float32Array || o instanceof Float64Array) || out.length === 0 || out.length % count !== 0)
      throw new RangeError(`classifierFn must return n × classes probabilities; got ${out?.length} values for n = ${count}`);
    if (!preds) {
      numClasses = out.length / count;
      preds = new Float32Array(cap * numClasses);
    } else if (out.length !== count * numClasses)
      throw new RangeError(`classifierFn returned ${out.length / count} classes, earlier ${numClasses}`);
    preds.set(out, from * numClasses);
    done = from + count;
    if (!labelsToExplain) {
      const row0 = preds.subarray(0, numClasses);
      if (topLabelsK) {
        const order = Array.from({ length: numClasses }, (_, i) => i).sort((a, b) => row0[a] - row0[b] || a - b);
        topLabels = order.slice(Math.max(0, numClasses - topLabelsK)).reverse();
        labelsToExplain = topLabels;
      } else {
        const ls = opts.labels ?? [1];
        for (const l of ls)
          if (!Number.isInteger(l) || l < 0 || l >= numClasses) throw new RangeError(`labels: ${l} is not a class index (0..${numClasses - 1})`);
        labelsToExplain = [...ls];
      }
      if (auto) {
        const rule = autoOpts.rule ?? 'mask';
        if (!AUTO_RULES.includes(rule)) throw new RangeError(`auto.rule: unknown '${String(rule)}' (${AUTO_RULES.join(', ')})`);
        let mask: { areas: Float64Array; target: number; draws: number } | null = null;
        if (rule === 'mask') {
          const areas = new Float64Array(nSeg);
          for (let i = 0; i < segments.length; i++) areas[segments[i]]++;
          mask = { areas, target: autoOpts.target ?? 0.9, draws: autoOpts.draws ?? 200 };
        }
        monitor = new StabilityMonitor(nSeg, labelsToExplain, alpha, kAuto, level, autoOpts.consecutive ?? 2, mask);
        nextCheck = Math.max(autoOpts.min_samples ?? 100, nSeg + 10);
      }
    }
    if (monitor) {
      // Rows enter the monitor up to each checkpoint exactly, and the run stops AT the stable checkpoint: the result
      // depends on (min_samples, step), not on how the rows were batched for the classifier.
      const step = Math.max(1, autoOpts.step ?? Math.max(batchSize, 50));
      let r = from;
      const end = from + count;
      while (r < end && !stop) {
        const upto = Math.min(end, nextCheck);
        if (upto > r) {
          monitor.addRows(data, r, upto, weights, preds, numClasses);
          r = upto;
        }
        if (r === nextCheck) {
          monitor.check();
          nextCheck += step;
          if (monitor.done) {
            stop = true;
            stopped = 'stable';
            stopAt = r;
          }
        }
      }
    }
  };

  let inflight: { from: number; count: number; p: Promise<Float32Array> } | null = null;
  while (!stop && sampled < cap) {
    const count = Math.min(batchSize, cap - sampled);
    const from = sampled;
    const buf = assemble(from, count);
    sampled += count;
    if (inflight) {
      const t = performance.now();
      const out = await inflight.p;
      predictMs += performance.now() - t;
      receive(inflight.from, inflight.count, out);
      inflight = null;
    }
    if (stop) break; // 'auto' became stable: the batch just assembled is not needed
    inflight = { from, count, p: Promise.resolve(opts.classifierFn(buf, count)) };
  }
  if (inflight) {
    const t = performance.now();
    const out = await inflight.p;
    predictMs += performance.now() - t;
    receive(inflight.from, inflight.count, out);
  }
  giveBufs(bufs); // no classifier call holds them any more
  const loopMs = performance.now() - tLoop;

  // ---- fit per label
  const tFit = performance.now();
  const n = stopAt >= 0 ? stopAt : done;
  const P = preds as Float32Array | null;
  if (!P || !labelsToExplain) throw new Error('explainInstance: no predictions were received');
  const X: Design = { data: data.subarray(0, n * nSeg), n, p: nSeg };
  const w = weights.subarray(0, n);
  const explanations: LabelExplanation[] = [];
  for (const label of labelsToExplain as number[]) {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = P[i * numClasses + label];
    const moments = featureSelection === 'forward_selection' || featureSelection === 'highest_weights' || featureSelection === 'auto'
      ? centredMoments(X, y, w)
      : undefined;
    const used = selectFeatures(X, y, w, numFeatures, featureSelection, moments);
    const Xs = selectColumns(X, used);
    const model = ridgeFit(Xs, y, w, alpha);
    const score = ridgeScore(model, Xs, y, w);
    let localPred = model.intercept;
    for (let j = 0; j < used.length; j++) localPred += model.coef[j] * X.data[used[j]];
    const pairs = used.map((s, j) => ({ segment: s, weight: model.coef[j] }));
    const order = pairs.map((_, i) => i).sort((a, b) => Math.abs(pairs[b].weight) - Math.abs(pairs[a].weight) || a - b);
    explanations.push({
      label,
      intercept: model.intercept,
      weights: order.map((i) => pairs[i]),
      score,
      local_pred: localPred,
      prob: P[label],
      used_features: used,
    });
  }
  const fitMs = performance.now() - tFit;
  const mon = monitor as StabilityMonitor | null;
  const result: ImageExplanation = {
    image,
    segments,
    nSegments: nSeg,
    height: H,
    width: W,
    labels: labelsToExplain,
    top_labels: topLabels,
    explanations,
    numClasses,
    samples: n,
    random_seed: randomSeed,
    times: {
      segmentation: segmentationMs,
      perturbation: perturbMs,
      prediction: predictMs,
      perturbation_prediction: loopMs,
      fit: fitMs,
      total: performance.now() - t0,
    },
  };
  if (mon) result.auto = { checkpoints: mon.checkpoints, stopped, k: kAuto, level };
  if (opts.keep_data) {
    result.data = data.slice(0, n * nSeg);
    result.predictions = P.slice(0, n * numClasses);
  }
  return result;
}
