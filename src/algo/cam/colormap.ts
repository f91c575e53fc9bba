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
  const mixed = new Float32Array(n * 3);
  let mx = -Infinity;
  for (let p = 0; p < n; p++) {
    const m = f(255 * f(cam[p]));
    // np.uint8(float): truncation toward zero (values outside [0, 255] are clipped here instead of wrapping).
    const idx = Number.isNaN(m) ? 0 : Math.min(255, Math.max(0, Math.trunc(m)));
    for (let ch = 0; ch < 3; ch++) {
      const heat = f(JET_RGB[3 * idx + ch] / 255);
      const img = f(rgb[3 * p + ch] / 255);
      const v = f(f(wh * heat) + f(wi * img));
      mixed[3 * p + ch] = v;
      if (v > mx) mx = v;
    }
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < out.length; i++) {
    const v = f(255 * f(mixed[i] / mx));
    out[i] = Math.min(255, Math.max(0, Math.trunc(v)));
  }
  return out;
}
