// LIME perturbations (lime_image.LimeImageExplainer.explain_instance / data_labels):
// - the fudged (replacement) image: hide_color None → every superpixel filled with its mean colour (per channel; for
//   uint8 images the mean is truncated to an integer, as numpy's assignment into a uint8 array does); a number →
//   every channel = that number; [r, g, b] → that colour;
// - the data matrix: num_samples × n_segments of Bernoulli(0.5), row 0 all ones (counted within num_samples);
// - perturbed sample s: pixel p keeps the original if data[s][segment[p]] = 1, else takes the fudged pixel.
// Assembly is done directly in the model's NCHW float layout: the original and the fudged images are normalised once
// (pixelwise preprocessing commutes with the per-pixel selection), then every sample is one memcpy of the majority
// source plus the horizontal pixel runs of the minority superpixels — no per-sample preprocessing, no per-superpixel
// full-image masks.

import type { SamplingRng } from './rng.ts';
import type { RgbImage } from './image.ts';

export type HideColor = null | undefined | number | readonly [number, number, number];

/** The replacement image lime calls `fudged_image` (same array type as the input). */
export function fudgedImage(image: RgbImage, segments: Int32Array, nSegments: number, hideColor: HideColor): RgbImage {
  const { height: H, width: W } = image;
  const N = H * W;
  const src = image.data;
  const isU8 = src instanceof Uint8Array;
  const out = (isU8 ? new Uint8Array(N * 3) : src instanceof Float32Array ? new Float32Array(N * 3) : new Float64Array(N * 3)) as RgbImage['data'];
  if (hideColor === null || hideColor === undefined) {
    const sum = new Float64Array(nSegments * 3);
    const cnt = new Float64Array(nSegments);
    for (let p = 0; p < N; p++) {
      const s = segments[p];
      cnt[s]++;
      sum[s * 3] += src[p * 3];
      sum[s * 3 + 1] += src[p * 3 + 1];
      sum[s * 3 + 2] += src[p * 3 + 2];
    }
    const mean = new Float64Array(nSegments * 3);
    for (let s = 0; s < nSegments; s++)
      for (let c = 0; c < 3; c++) {
        const m = cnt[s] > 0 ? sum[s * 3 + c] / cnt[s] : 0;
        mean[s * 3 + c] = isU8 ? Math.trunc(m) : m;
      }
    for (let p = 0; p < N; p++) {
      const s = segments[p];
      out[p * 3] = mean[s * 3];
      out[p * 3 + 1] = mean[s * 3 + 1];
      out[p * 3 + 2] = mean[s * 3 + 2];
    }
  } else {
    const rgb = typeof hideColor === 'number' ? [hideColor, hideColor, hideColor] : hideColor;
    if (rgb.length !== 3 || rgb.some((v) => !Number.isFinite(v)))
      throw new RangeError(`hide_color: expected null, a number or [r, g, b], got ${JSON.stringify(hideColor)}`);
    const v = rgb.map((x) => (isU8 ? Math.min(255, Math.max(0, Math.trunc(x))) : x));
    for (let p = 0; p < N; p++) {
      out[p * 3] = v[0];
      out[p * 3 + 1] = v[1];
      out[p * 3 + 2] = v[2];
    }
  }
  return { data: out, height: H, width: W };
}

/**
 * Fill rows [from, to) of the row-major data matrix (n_segments columns) with Bernoulli(0.5) bits; row 0, when in
 * range, is set to all ones (lime draws it, then overwrites it). Each row starts on a fresh 32-bit PRNG word, so
 * drawing rows in chunks gives the same matrix as drawing them at once.
 */
export function sampleRows(rng: SamplingRng, data: Uint8Array, nSegments: number, from: number, to: number): void {
  for (let r = from; r < to; r++) {
    const row = data.subarray(r * nSegments, (r + 1) * nSegments);
    rng.bits(row);
    if (r === 0) row.fill(1);
  }
}

/** lime's data matrix: num_samples × n_segments, row 0 all ones. */
export function sampleData(rng: SamplingRng, numSamples: number, nSegments: number): Uint8Array {
  const data = new Uint8Array(numSamples * nSegments);
  sampleRows(rng, data, nSegments, 0, numSamples);
  return data;
}

/** Pixel normalisation of the Model contract (src/model/types.ts InputSpec): (pixel·scale − mean) / std per channel. */
export interface NormalizeSpec {
  scale: number;
  mean: readonly [number, number, number] | number[];
  std: readonly [number, number, number] | number[];
  channelOrder?: 'RGB' | 'BGR';
}

/**
 * RGB HWC image → normalised float32 C×H×W (one image). Uint8 pixels are used as they are (0..255); float images in
 * [0,1] are first multiplied by 255, so `scale`/`mean`/`std` always refer to the 0..255 range as in InputSpec.
 * Output channel k holds input channel k (RGB) or 2−k (BGR); mean/std are given in the output channel order.
 */
export function normalizeToNCHW(image: RgbImage, spec: NormalizeSpec): Float32Array {
  const { height: H, width: W, data } = image;
  const N = H * W;
  const out = new Float32Array(3 * N);
  const pre = data instanceof Uint8Array ? 1 : 255;
  const bgr = spec.channelOrder === 'BGR';
  for (let k = 0; k < 3; k++) {
    const srcC = bgr ? 2 - k : k;
    const a = (pre * spec.scale) / spec.std[k];
    const b = spec.mean[k] / spec.std[k];
    const o = k * N;
    for (let p = 0; p < N; p++) out[o + p] = data[p * 3 + srcC] * a - b;
  }
  return out;
}

/**
 * Horizontal runs of equal segment id, grouped by segment: runs segFirst[s] … segFirst[s+1]−1 belong to segment s,
 * each covering pixels [start, start+len) (row-major). Built once per image.
 */
export interface SegmentRuns {
  start: Int32Array;
  len: Int32Array;
  segFirst: Int32Array;
  count: number;
  nSegments: number;
}

export function segmentRuns(segments: Int32Array, height: number, width: number): SegmentRuns {
  const start: number[] = [], len: number[] = [], seg: number[] = [];
  let nSegments = 0;
  for (let r = 0; r < height; r++) {
    let c = 0;
    while (c < width) {
      const p0 = r * width + c;
      const s = segments[p0];
      let e = c + 1;
      while (e < width && segments[r * width + e] === s) e++;
      start.push(p0);
      len.push(e - c);
      seg.push(s);
      if (s + 1 > nSegments) nSegments = s + 1;
      c = e;
    }
  }
  const segFirst = new Int32Array(nSegments + 1);
  for (const s of seg) segFirst[s + 1]++;
  for (let s = 0; s < nSegments; s++) segFirst[s + 1] += segFirst[s];
  const fill = segFirst.slice(0, nSegments);
  const gStart = new Int32Array(start.length), gLen = new Int32Array(start.length);
  for (let i = 0; i < start.length; i++) {
    const k = fill[seg[i]]++;
    gStart[k] = start[i];
    gLen[k] = len[i];
  }
  return { start: gStart, len: gLen, segFirst, count: start.length, nSegments };
}

/**
 * Write `count` perturbed samples (data rows row0 … row0+count−1) into `out` (count × C × HW floats, NCHW) from the
 * original and fudged images, both already in the model's normalised C×H×W layout. Per sample: a memcpy of the
 * majority source (original if at least half the superpixels are on), then the runs of the minority superpixels.
 */
export function assembleNCHW(
  out: Float32Array,
  data: Uint8Array,
  nSegments: number,
  row0: number,
  count: number,
  original: Float32Array,
  fudged: Float32Array,
  runs: SegmentRuns,
  channels: number,
  hw: number,
): void {
  const { start, len, segFirst } = runs;
  const chw = channels * hw;
  if (original.length !== chw || fudged.length !== chw)
    throw new RangeError(`assembleNCHW: original/fudged must have ${chw} values (C×H×W), got ${original.length}/${fudged.length}`);
  if (out.length < count * chw) throw new RangeError(`assembleNCHW: output too small (${out.length} < ${count * chw})`);
  if (runs.nSegments > nSegments) throw new RangeError(`assembleNCHW: segment map has ${runs.nSegments} ids, data has ${nSegments} columns`);
  for (let b = 0; b < count; b++) {
    const rowOff = (row0 + b) * nSegments;
    let ones = 0;
    for (let s = 0; s < nSegments; s++) ones += data[rowOff + s];
    const baseIsOriginal = ones * 2 >= nSegments;
    const o = b * chw;
    out.set(baseIsOriginal ? original : fudged, o);
    const src = baseIsOriginal ? fudged : original;
    const want = baseIsOriginal ? 0 : 1;
    for (let s = 0; s < runs.nSegments; s++) {
      if (data[rowOff + s] !== want) continue;
      for (let k = segFirst[s], kEnd = segFirst[s + 1]; k < kEnd; k++) {
        const st = start[k], n = len[k];
        for (let c = 0; c < channels; c++) {
          const s0 = c * hw + st, d0 = o + s0;
          if (n >= 32) out.set(src.subarray(s0, s0 + n), d0);
          else for (let i = 0; i < n; i++) out[d0 + i] = src[s0 + i];
        }
      }
    }
  }
}

/** One perturbed RGB image (HWC, input array type) for sample row `row` — for non-pixelwise preprocessing. */
export function perturbedImage(image: RgbImage, fudged: RgbImage, segments: Int32Array, data: Uint8Array, nSegments: number, row: number): RgbImage {
  const N = image.height * image.width;
  const out = image.data.slice() as RgbImage['data'];
  const rowOff = row * nSegments;
  const f = fudged.data;
  for (let p = 0; p < N; p++) {
    if (data[rowOff + segments[p]] === 0) {
      out[p * 3] = f[p * 3];
      out[p * 3 + 1] = f[p * 3 + 1];
      out[p * 3 + 2] = f[p * 3 + 2];
    }
  }
  return { data: out, height: image.height, width: image.width };
}
