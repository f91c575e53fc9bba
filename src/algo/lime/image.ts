// Image helpers shared by the LIME algorithms: the RGB image type, float conversion, sRGB → CIE-Lab (as
// skimage.color.rgb2lab: sRGB companding → linear → XYZ (sRGB matrix) → Lab with the D65 2° white
// (0.95047, 1, 1.08883), f(t) = cbrt(t) above 0.008856 else 7.787·t + 16/116), and the Gaussian filter
// (as scipy.ndimage.gaussian_filter1d: truncate 4.0, radius int(4σ + 0.5), mode 'reflect' = half-sample symmetric).

/**
 * An RGB image, interleaved HWC. `Uint8Array` holds 0..255; `Float32Array`/`Float64Array` hold floats in [0, 1]
 * (scikit-image's float convention: `img_as_float` leaves floats as they are, maps uint8 by /255).
 */
export interface RgbImage {
  data: Uint8Array | Float32Array | Float64Array;
  height: number;
  width: number;
}

export function checkImage(img: RgbImage, what = 'image'): void {
  if (!img || !img.data) throw new TypeError(`${what}: expected { data, height, width }`);
  const { height: h, width: w } = img;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1)
    throw new RangeError(`${what}: height/width must be positive integers, got ${h}×${w}`);
  if (img.data.length !== h * w * 3)
    throw new RangeError(`${what}: data length ${img.data.length} ≠ height·width·3 = ${h * w * 3} (RGB HWC expected)`);
}

/** Planar float RGB in [0,1] (uint8 → /255 as skimage img_as_float; floats copied as they are). */
export function toFloatPlanes(img: RgbImage): [Float64Array, Float64Array, Float64Array] {
  const n = img.height * img.width;
  const r = new Float64Array(n), g = new Float64Array(n), b = new Float64Array(n);
  const d = img.data;
  const s = d instanceof Uint8Array ? 1 / 255 : 1;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    r[i] = d[j] * s;
    g[i] = d[j + 1] * s;
    b[i] = d[j + 2] * s;
  }
  return [r, g, b];
}

const XYZ_FROM_RGB = [
  [0.412453, 0.35758, 0.180423],
  [0.212671, 0.71516, 0.072169],
  [0.019334, 0.119193, 0.950227],
];
const WHITE_D65 = [0.95047, 1.0, 1.08883];

function srgbToLinear(v: number): number {
  return v > 0.04045 ? Math.pow((v + 0.055) / 1.055, 2.4) : v / 12.92;
}
function labF(t: number): number {
  return t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116;
}

/** sRGB planes in [0,1] → Lab planes (L, a, b), as skimage.color.rgb2lab (D65, 2° observer). */
export function rgbPlanesToLab(planes: [Float64Array, Float64Array, Float64Array]): [Float64Array, Float64Array, Float64Array] {
  const [R, G, B] = planes;
  const n = R.length;
  const L = new Float64Array(n), A = new Float64Array(n), Bo = new Float64Array(n);
  const m = XYZ_FROM_RGB;
  for (let i = 0; i < n; i++) {
    const r = srgbToLinear(R[i]), g = srgbToLinear(G[i]), b = srgbToLinear(B[i]);
    const x = (m[0][0] * r + m[0][1] * g + m[0][2] * b) / WHITE_D65[0];
    const y = (m[1][0] * r + m[1][1] * g + m[1][2] * b) / WHITE_D65[1];
    const z = (m[2][0] * r + m[2][1] * g + m[2][2] * b) / WHITE_D65[2];
    const fx = labF(x), fy = labF(y), fz = labF(z);
    L[i] = 116 * fy - 16;
    A[i] = 500 * (fx - fy);
    Bo[i] = 200 * (fy - fz);
  }
  return [L, A, Bo];
}

/** Convenience: RGB image → Lab planes. */
export function rgbToLab(img: RgbImage): [Float64Array, Float64Array, Float64Array] {
  return rgbPlanesToLab(toFloatPlanes(img));
}

/** scipy.ndimage 'reflect' boundary: (d c b a | a b c d | d c b a). */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const p = 2 * n;
  let k = i % p;
  if (k < 0) k += p;
  return k < n ? k : p - 1 - k;
}

/** Normalised 1-D Gaussian weights of scipy's gaussian_filter1d (truncate 4.0). */
export function gaussianKernel1d(sigma: number, truncate = 4.0): Float64Array {
  const lw = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * lw + 1);
  let sum = 0;
  for (let x = -lw; x <= lw; x++) {
    const v = Math.exp((-0.5 / (sigma * sigma)) * x * x);
    k[x + lw] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/**
 * In-place-free 2-D Gaussian smoothing of one plane (rows then columns, mode 'reflect'), as
 * scipy.ndimage.gaussian_filter with sigma (σ, σ) on the spatial axes. σ ≤ 1e-15 returns a copy.
 */
export function gaussianFilter2d(plane: Float64Array, height: number, width: number, sigma: number): Float64Array {
  if (!(sigma > 1e-15)) return plane.slice();
  const k = gaussianKernel1d(sigma);
  const lw = (k.length - 1) >> 1;
  // axis 0 (rows) first, then axis 1, as scipy iterates axes in order.
  const tmp = new Float64Array(plane.length);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      let s = 0;
      for (let t = -lw; t <= lw; t++) s += k[t + lw] * plane[reflectIndex(r + t, height) * width + c];
      tmp[r * width + c] = s;
    }
  }
  const out = new Float64Array(plane.length);
  for (let r = 0; r < height; r++) {
    const row = r * width;
    for (let c = 0; c < width; c++) {
      let s = 0;
      for (let t = -lw; t <= lw; t++) s += k[t + lw] * tmp[row + reflectIndex(c + t, width)];
      out[row + c] = s;
    }
  }
  return out;
}
