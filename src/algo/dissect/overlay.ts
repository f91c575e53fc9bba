// The report view of a unit on one of its top images, as NetDissect-Lite's visualize/report.py draws it: the unit's
// feature map resized to the image size (PIL bilinear, scipy imresize mode 'F' — resize.ts 'pil'), mask = up > T_k
// (strict), and the image shown as (mask·0.8 + 0.2)·image (the activated region bright, the rest dimmed).
import { getResizer, type ResizeMode } from '../resize.ts';

/** Binary mask (0/1, height·width) of a [fh, fw] feature map upsampled to height × width and thresholded `> threshold`. */
export function unitMask(map: ArrayLike<number>, fh: number, fw: number, height: number, width: number, threshold: number, mode: ResizeMode = 'pil'): Uint8Array {
  if (map.length < fh * fw) throw new RangeError(`unitMask: map has ${map.length} values, expected ${fh}×${fw}`);
  const up = getResizer(fh, fw, height, width, mode).plane(map, 0);
  const out = new Uint8Array(height * width);
  for (let i = 0; i < out.length; i++) out[i] = up[i] > threshold ? 1 : 0;
  return out;
}

/** (mask·0.8 + 0.2)·image for interleaved RGB (or any `channels`) pixels; returns a new array. */
export function highlightRegion(rgb: ArrayLike<number>, height: number, width: number, mask: ArrayLike<number>, channels = 3): Uint8Array {
  const n = height * width;
  if (rgb.length < n * channels || mask.length < n) throw new RangeError(`highlightRegion: expected ${height}×${width}×${channels} pixels and a ${height}×${width} mask`);
  const out = new Uint8Array(n * channels);
  for (let p = 0; p < n; p++) {
    const f = mask[p] ? 1 : 0.2;
    for (let c = 0; c < channels; c++) out[p * channels + c] = Math.round(rgb[p * channels + c] * f);
  }
  return out;
}
