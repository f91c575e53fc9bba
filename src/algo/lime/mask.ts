// lime ImageExplanation.get_image_and_mask(label, positive_only=True, negative_only=False, hide_rest=False,
// num_features=5, min_weight=0.):
// - positive_only: segments with w > 0 and w > min_weight, the first num_features of the |w|-sorted list → mask 1;
// - negative_only: w < 0 and |w| > min_weight → mask 1 (lime marks them 1, not −1);
// - neither: the first num_features of the sorted list, skipping |w| < min_weight; mask −1 (w < 0) / +1 (w ≥ 0);
//   the image gets channel 0 (w < 0) or 1 (w ≥ 0) of those segments set to max(image);
// - hide_rest: the returned image is zero outside the chosen segments (else a copy of the image).
import type { RgbImage } from './image.ts';
import { type ImageExplanation, labelExplanation } from './explain.ts';

export interface MaskOptions {
  positive_only?: boolean;
  negative_only?: boolean;
  hide_rest?: boolean;
  num_features?: number;
  min_weight?: number;
}

export function getImageAndMask(exp: ImageExplanation, label: number, opts: MaskOptions = {}): { image: RgbImage; mask: Int8Array; segments: number[] } {
  const positiveOnly = opts.positive_only ?? true;
  const negativeOnly = opts.negative_only ?? false;
  const hideRest = opts.hide_rest ?? false;
  const numFeatures = opts.num_features ?? 5;
  const minWeight = opts.min_weight ?? 0;
  const e = labelExplanation(exp, label);
  if (positiveOnly && negativeOnly) throw new RangeError('Positive_only and negative_only cannot be true at the same time.');
  const { segments } = exp;
  const src = exp.image.data;
  const N = exp.height * exp.width;
  const mask = new Int8Array(N);
  const temp = (hideRest ? new (src.constructor as new (n: number) => RgbImage['data'])(src.length) : src.slice()) as RgbImage['data'];
  const chosen: number[] = [];
  const copySeg = (sel: Uint8Array) => {
    for (let p = 0; p < N; p++)
      if (sel[segments[p]]) {
        temp[p * 3] = src[p * 3];
        temp[p * 3 + 1] = src[p * 3 + 1];
        temp[p * 3 + 2] = src[p * 3 + 2];
      }
  };
  if (positiveOnly || negativeOnly) {
    const fs = e.weights
      .filter((x) => (positiveOnly ? x.weight > 0 && x.weight > minWeight : x.weight < 0 && Math.abs(x.weight) > minWeight))
      .slice(0, numFeatures)
      .map((x) => x.segment);
    const sel = new Uint8Array(exp.nSegments);
    for (const f of fs) sel[f] = 1;
    copySeg(sel);
    for (let p = 0; p < N; p++) if (sel[segments[p]]) mask[p] = 1;
    chosen.push(...fs);
  } else {
    let maxV = -Infinity;
    for (let i = 0; i < src.length; i++) if (src[i] > maxV) maxV = src[i];
    const val = new Int8Array(exp.nSegments);
    for (const { segment: f, weight: w } of e.weights.slice(0, numFeatures)) {
      if (Math.abs(w) < minWeight) continue;
      val[f] = w < 0 ? -1 : 1;
      chosen.push(f);
    }
    for (let p = 0; p < N; p++) {
      const v = val[segments[p]];
      if (!v) continue;
      mask[p] = v;
      temp[p * 3] = src[p * 3];
      temp[p * 3 + 1] = src[p * 3 + 1];
      temp[p * 3 + 2] = src[p * 3 + 2];
      temp[p * 3 + (v < 0 ? 0 : 1)] = maxV;
    }
  }
  return { image: { data: temp, height: exp.height, width: exp.width }, mask, segments: chosen };
}
