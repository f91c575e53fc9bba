// Deletion and insertion curves (Petsiuk, Das & Saenko 2018, "RISE", evaluation.py's CausalMetric): the pixels of an
// image are ordered by saliency (descending; ties: lower row-major index first) and, in `steps` equal steps,
// deletion replaces them by a baseline (the image fades into the baseline) while insertion puts them back into the
// baseline (a blurred copy by default: the baseline grows into the image). At step k (k = 0..steps) the first
// floor(k·n/steps) pixels of the order are perturbed (all channels of a pixel together); the target class's softmax
// probability at each step is the curve and its area on [0, 1] is the trapezoid rule (RISE's auc()).
// Images here are one CHW float32 model input (already normalised): baselines are in that space, as RISE's
// substrates are tensors (zero = torch.zeros_like of the normalised input).
import { rankDescending } from '../compare/index.ts';

export type Baseline = 'zero' | 'mean' | 'blurred';
export const BASELINES: readonly Baseline[] = ['zero', 'mean', 'blurred'];

/** RISE's blur substrate: a Gaussian of σ = 5 on an 11-tap kernel (its klen = 11, ksig = 5). */
export const BLUR = { sigma: 5, radius: 5 } as const;

/** Pixel indices by saliency, descending; ties and NaN as rankDescending (lower row-major index first, NaN last). */
export function saliencyOrder(saliency: ArrayLike<number>): Uint32Array {
  return rankDescending(saliency);
}

/** Number of perturbed pixels at each of the steps + 1 points: floor(k·n/steps), k = 0..steps. */
export function stepCounts(n: number, steps: number): number[] {
  if (!(Number.isInteger(steps) && steps >= 1)) throw new RangeError(`steps must be an integer ≥ 1, got ${steps}`);
  return Array.from({ length: steps + 1 }, (_, k) => Math.floor((k * n) / steps));
}

/**
 * Separable Gaussian blur of a CHW image (normalised weights; the edge pixel is repeated outside the image —
 * RISE pads with zeros, which darkens the border of a normalised input; we do not follow that).
 */
export function gaussianBlur(img: Float32Array, C: number, H: number, W: number, sigma = BLUR.sigma, radius = BLUR.radius): Float32Array {
  const k = new Float64Array(2 * radius + 1);
  let s = 0;
  for (let i = -radius; i <= radius; i++) s += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  const tmp = new Float64Array(H * W);
  const out = new Float32Array(C * H * W);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let c = 0; c < C; c++) {
    const o = c * H * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let a = 0;
        for (let d = -radius; d <= radius; d++) a += k[d + radius] * img[o + y * W + clamp(x + d, W)];
        tmp[y * W + x] = a;
      }
    }
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let a = 0;
        for (let d = -radius; d <= radius; d++) a += k[d + radius] * tmp[clamp(y + d, H) * W + x];
        out[o + y * W + x] = a;
      }
    }
  }
  return out;
}

/** The baseline image of a CHW input: zeros, each channel's mean, or the blurred image. */
export function baselineImage(kind: Baseline, img: Float32Array, C: number, H: number, W: number): Float32Array {
  if (kind === 'zero') return new Float32Array(img.length);
  if (kind === 'blurred') return gaussianBlur(img, C, H, W);
  const out = new Float32Array(img.length);
  const n = H * W;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += img[c * n + i];
    out.fill(s / n, c * n, (c + 1) * n);
  }
  return out;
}

/**
 * The steps + 1 perturbed images of one curve, written one after another into `out` (length (steps+1)·C·H·W, e.g. a
 * slice of a batch). deletion: image with its first counts[k] ordered pixels taken from the baseline; insertion:
 * baseline with its first counts[k] ordered pixels taken from the image.
 */
export function curveImages(
  mode: 'deletion' | 'insertion',
  img: Float32Array,
  baseline: Float32Array,
  order: Uint32Array,
  counts: readonly number[],
  C: number,
  out: Float32Array,
): Float32Array {
  const n = order.length;
  const size = C * n;
  if (img.length !== size || baseline.length !== size) throw new RangeError(`curveImages: image ${img.length}, baseline ${baseline.length}, expected ${size}`);
  if (out.length < counts.length * size) throw new RangeError(`curveImages: output holds ${out.length} values, needs ${counts.length * size}`);
  const [start, take] = mode === 'deletion' ? [img, baseline] : [baseline, img];
  const cur = Float32Array.from(start);
  let done = 0;
  counts.forEach((m, k) => {
    for (; done < m; done++) {
      const p = order[done];
      for (let c = 0; c < C; c++) cur[c * n + p] = take[c * n + p];
    }
    out.set(cur, k * size);
  });
  return out;
}

/** Area under a curve sampled at equal steps on [0, 1] by the trapezoid rule (RISE: (Σy − y₀/2 − y_last/2)/(len − 1)). */
export function trapezoidAuc(y: ArrayLike<number>): number {
  const m = y.length;
  if (m < 2) throw new RangeError('trapezoidAuc: a curve needs at least 2 points');
  let s = 0;
  for (let i = 0; i < m; i++) s += y[i];
  return (s - y[0] / 2 - y[m - 1] / 2) / (m - 1);
}
