// Jet colour map and the CAM overlay, as pytorch-grad-cam's utils/image.show_cam_on_image(img, mask, use_rgb=True,
// colormap=cv2.COLORMAP_JET, image_weight): heatmap = applyColorMap(uint8(255·mask), JET) in RGB, / 255;
// out = (1 − w)·heatmap + w·img (img = rgb / 255); out /= max(out); uint8(255·out) (truncation), in float32 steps.

/**
 * cv2.COLORMAP_JET as an RGB lookup table [256·3]. OpenCV's jet is the piecewise-linear ramps below (its 256-entry
 * float table ×255, rounded half-to-even); entry 159's blue is 1 in OpenCV (its float32 interpolation lands just
 * under 1.5), so it is set explicitly. Checked against cv2 4.6 applyColorMap on all 256 entries.
 */
export const JET_RGB: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  const roundHalfEven = (v: number): number => {
    const f = Math.floor(v);
    const d = v - f;
    const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
    return Math.min(255, Math.max(0, r));
  };
  for (let i = 0; i < 256; i++) {
    lut[3 * i] = roundHalfEven(Math.min(4 * i - 382.5, 1147.5 - 4 * i));
    lut[3 * i + 1] = roundHalfEven(Math.min(4 * i - 127.5, 892.5 - 4 * i));
    lut[3 * i + 2] = roundHalfEven(Math.min(127.5 + 4 * i, 637.5 - 4 * i));
  }
  lut[3 * 159 + 2] = 1;
  return lut;
})();

/** Jet colour of a value in [0, 1] as cv2 maps uint8(255·v): [r, g, b]. */
export function jet(v: number): [number, number, number] {
  const i = Math.min(255, Math.max(0, Math.trunc(255 * v)));
  return [JET_RGB[3 * i], JET_RGB[3 * i + 1], JET_RGB[3 * i + 2]];
}

/**
 * Overlay a cam (H·W values in [0, 1]) on an RGB uint8 HWC image of the same size, as show_cam_on_image with
 * use_rgb=True. Returns RGB uint8 HWC (ready for PNG encoding).
 */
export function showCamOnImage(rgb: Uint8Array, height: number, width: number, cam: ArrayLike<number>, imageWeight = 0.5): Uint8Array {
  const n = height * width;
  if (rgb.length !== n * 3) throw new RangeError(`showCamOnImage: image has ${rgb.length} bytes, expected ${height}×${width}×3`);
  if (cam.length !== n) throw new RangeError(`showCamOnImage: cam has ${cam.length} values, expected ${height}×${width}`);
  if (!(imageWeight >= 0 && imageWeight <= 1)) throw new RangeError(`image_weight should be in the range [0, 1], got ${imageWeight}`);
  const f = Math.fround;
  const wi = f(imageWeight);
  const wh = f(1 - imageWeight);
  // The float32 products of the blend through lookup tables (same operations, same order, so the same bytes):
  // heat[3·idx + ch] = f(wh · f(jet / 255)), img[v] = f(wi · f(v / 255)); per value one float32 addition remains.
  const heat = new Float32Array(256 * 3);
  for (let i = 0; i < heat.length; i++) heat[i] = f(wh * f(JET_RGB[i] / 255));
  const img = new Float32Array(256);
  for (let v = 0; v < 256; v++) img[v] = f(wi * f(v / 255));
  const mixed = new Float32Array(n * 3);
  let mx = -Infinity;
  for (let p = 0, j = 0; p < n; p++, j += 3) {
    const m = f(255 * f(cam[p]));
    // np.uint8(float): truncation toward zero (values outside [0, 255] are clipped here instead of wrapping).
    const h = 3 * (m >= 255 ? 255 : m > 0 ? Math.trunc(m) : 0); // NaN → 0
    const v0 = (mixed[j] = f(heat[h] + img[rgb[j]]));
    const v1 = (mixed[j + 1] = f(heat[h + 1] + img[rgb[j + 1]]));
    const v2 = (mixed[j + 2] = f(heat[h + 2] + img[rgb[j + 2]]));
    if (v0 > mx) mx = v0;
    if (v1 > mx) mx = v1;
    if (v2 > mx) mx = v2;
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < out.length; i++) {
    const v = f(255 * f(mixed[i] / mx));
    out[i] = v >= 255 ? 255 : v > 0 ? v : 0; // Uint8Array stores truncate toward zero
  }
  return out;
}
