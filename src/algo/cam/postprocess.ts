// Common CAM post-processing, per pytorch-grad-cam 1.5.5 base_cam.compute_cam_per_layer / aggregate_multi_layers and
// utils/image.scale_cam_image: ReLU, then per image `x − min`, `x / (1e-7 + max)` (min-max *before* resizing), then
// cv2.resize to the input size (INTER_LINEAR, half-pixel centres); several layers → stack, ReLU, mean, min-max again.
import { getResizer } from '../resize.ts';

/** In-place per-image min-max as scale_cam_image: x − min, then x / (1e-7 + max). `count` maps of `size` values. */
export function minMaxInPlace(maps: Float32Array, count: number, size: number): Float32Array {
  for (let b = 0; b < count; b++) {
    const o = b * size;
    let mn = Infinity;
    for (let i = 0; i < size; i++) if (maps[o + i] < mn) mn = maps[o + i];
    let mx = -Infinity;
    for (let i = 0; i < size; i++) {
      const v = Math.fround(maps[o + i] - mn);
      maps[o + i] = v;
      if (v > mx) mx = v;
    }
    const d = Math.fround(1e-7 + mx);
    for (let i = 0; i < size; i++) maps[o + i] = maps[o + i] / d;
  }
  return maps;
}

/**
 * One layer's post-processing: raw cams [N·h·w] → ReLU → per-image min-max → resize (cv2 INTER_LINEAR) to
 * [N·outH·outW]. Returns a new array; values in [0, 1).
 */
export function postprocessCam(raw: Float32Array, n: number, h: number, w: number, outH: number, outW: number): Float32Array {
  if (raw.length !== n * h * w) throw new RangeError(`postprocessCam: expected ${n}×${h}×${w} values, got ${raw.length}`);
  return scaleCam(reluCam(raw), n, h, w, outH, outW, true);
}

/** np.maximum(cam, 0) as a new array (NaN → 0 here): the map compute_cam_per_layer hands to scale_cam_image. */
export function reluCam(raw: Float32Array): Float32Array {
  const relu = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) relu[i] = raw[i] > 0 ? raw[i] : 0;
  return relu;
}

/**
 * scale_cam_image of ReLU'd maps [N·h·w]: per-image min-max, then resize (cv2 INTER_LINEAR) to [N·outH·outW].
 * The input is left as it is unless `inPlace`.
 */
export function scaleCam(relu: Float32Array, n: number, h: number, w: number, outH: number, outW: number, inPlace = false): Float32Array {
  const maps = minMaxInPlace(inPlace ? relu : relu.slice(), n, h * w);
  if (h === outH && w === outW) return maps;
  const r = getResizer(h, w, outH, outW, 'cv2');
  const out = new Float32Array(n * outH * outW);
  for (let b = 0; b < n; b++) r.plane(maps, b * h * w, out, b * outH * outW);
  return out;
}

/**
 * Several target layers (each already post-processed to [N·H·W]) → ReLU, mean over layers, per-image min-max
 * (aggregate_multi_layers). With one layer this is the min-max of that layer's map again, as in the library.
 */
export function aggregateLayers(perLayer: Float32Array[], n: number, h: number, w: number): Float32Array {
  if (perLayer.length === 0) throw new RangeError('aggregateLayers: no layer cams');
  const size = n * h * w;
  const out = new Float32Array(size);
  for (const m of perLayer) {
    if (m.length !== size) throw new RangeError(`aggregateLayers: a layer cam has ${m.length} values, expected ${size}`);
  }
  const k = perLayer.length;
  if (k === 1) {
    const m = perLayer[0];
    for (let i = 0; i < size; i++) out[i] = m[i] > 0 ? m[i] : 0; // (0 + ReLU) / 1, exactly
  } else {
    for (let i = 0; i < size; i++) {
      let s = 0;
      for (let j = 0; j < k; j++) {
        const v = perLayer[j][i];
        s += v > 0 ? v : 0;
      }
      out[i] = s / k;
    }
  }
  return minMaxInPlace(out, n, h * w);
}
