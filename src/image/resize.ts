// Image resampling with Pillow's semantics (`Image.resize`, libImaging/Resample.c), which torchvision's Resize applies
// to PIL images: separable filter, horizontal pass then vertical pass, each rounding to 8 bits; pixel centres at
// half-integers (centre of output x = (x + 0.5)·scale in input coordinates); when shrinking, the filter support
// widens by the scale factor (antialiasing); taps outside the image are dropped and the weights renormalised;
// weights in 22-bit fixed point. Filters: 'linear' (PIL BILINEAR, triangle), 'cubic' (PIL BICUBIC, a = −0.5),
// 'lanczos3' (PIL LANCZOS). 'nearest' is PIL NEAREST: source index floor((x + 0.5)·scale).
// (libvips/sharp's own resize differs: clamped edges when shrinking and a quarter-pixel shift when enlarging.)

export type ResampleFilter = 'linear' | 'cubic' | 'lanczos3' | 'nearest';

const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const MAX = 256 * ONE;

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

const FILTERS: Record<Exclude<ResampleFilter, 'nearest'>, { support: number; f: (x: number) => number }> = {
  linear: {
    support: 1,
    f: (x) => {
      if (x < 0) x = -x;
      return x < 1 ? 1 - x : 0;
    },
  },
  cubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos3: { support: 3, f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

interface Coeffs {
  ksize: number;
  /** per output index: first input index and tap count */
  bounds: Int32Array;
  /** fixed-point weights, ksize per output index */
  k: Float64Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis (box = whole input). */
function coeffs(inSize: number, outSize: number, filter: Exclude<ResampleFilter, 'nearest'>): Coeffs {
  const { support: fsupport, f } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = fsupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const k = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  const pre = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = f((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax ? (ww !== 0 ? pre[x] / ww : pre[x]) : 0;
      k[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, k };
}

function clip8(ss: number): number {
  if (ss >= MAX) return 255;
  if (ss <= 0) return 0;
  return (ss / ONE) | 0; // 0 < ss < 2^30 here, so truncation = floor
}

export interface Window {
  /** Output window (a crop of the resized image): left, top, width, height. Default: the whole output. */
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resizes interleaved 8-bit pixels (`channels` per pixel) from inW×inH to outW×outH with Pillow's semantics,
 * returning only the `win` part of the result (a centre crop after a resize costs only the crop).
 */
export function resample(
  src: Uint8Array,
  inW: number,
  inH: number,
  channels: number,
  outW: number,
  outH: number,
  filter: ResampleFilter = 'linear',
  win: Window = { left: 0, top: 0, width: outW, height: outH },
): Uint8Array {
  if (win.left < 0 || win.top < 0 || win.left + win.width > outW || win.top + win.height > outH) {
    throw new Error(`resample: window ${win.width}×${win.height}+${win.left}+${win.top} outside ${outW}×${outH}`);
  }
  const C = channels;
  const W = win.width;
  const H = win.height;
  if (filter === 'nearest') {
    const out = new Uint8Array(W * H * C);
    const sx = inW / outW;
    const sy = inH / outH;
    const xs = new Int32Array(W);
    for (let x = 0; x < W; x++) xs[x] = Math.min(inW - 1, Math.floor((x + win.left + 0.5) * sx)) * C;
    for (let y = 0; y < H; y++) {
      const row = Math.min(inH - 1, Math.floor((y + win.top + 0.5) * sy)) * inW * C;
      for (let x = 0, o = y * W * C; x < W; x++, o += C) for (let c = 0; c < C; c++) out[o + c] = src[row + xs[x] + c];
    }
    return out;
  }
  const needH = outW !== inW;
  const needV = outH !== inH;
  // rows of the source the vertical pass needs
  let rowFirst = win.top;
  let rowLast = win.top + H; // exclusive
  let cv: Coeffs | undefined;
  if (needV) {
    cv = coeffs(inH, outH, filter);
    rowFirst = cv.bounds[win.top * 2];
    const lastY = win.top + H - 1;
    rowLast = cv.bounds[lastY * 2] + cv.bounds[lastY * 2 + 1];
  }
  // horizontal pass over rows [rowFirst, rowLast) → tmp (W columns)
  const tmpRows = rowLast - rowFirst;
  let tmp: Uint8Array;
  if (needH) {
    const ch = coeffs(inW, outW, filter);
    tmp = new Uint8Array(tmpRows * W * C);
    const { ksize, bounds, k } = ch;
    for (let y = 0; y < tmpRows; y++) {
      const srow = (y + rowFirst) * inW * C;
      const orow = y * W * C;
      for (let x = 0; x < W; x++) {
        const xx = x + win.left;
        const xmin = bounds[xx * 2];
        const xn = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        const o = orow + x * C;
        if (C === 3) {
          let s0 = HALF, s1 = HALF, s2 = HALF;
          for (let t = 0, p = srow + xmin * 3; t < xn; t++, p += 3) {
            const w = k[kb + t];
            s0 += src[p] * w;
            s1 += src[p + 1] * w;
            s2 += src[p + 2] * w;
          }
          tmp[o] = clip8(s0);
          tmp[o + 1] = clip8(s1);
          tmp[o + 2] = clip8(s2);
        } else {
          for (let c = 0; c < C; c++) {
            let s = HALF;
            for (let t = 0, p = srow + xmin * C + c; t < xn; t++, p += C) s += src[p] * k[kb + t];
            tmp[o + c] = clip8(s);
          }
        }
      }
    }
  } else {
    // no horizontal resampling: copy the window's columns of the needed rows
    tmp = new Uint8Array(tmpRows * W * C);
    for (let y = 0; y < tmpRows; y++) {
      const s = ((y + rowFirst) * inW + win.left) * C;
      tmp.set(src.subarray(s, s + W * C), y * W * C);
    }
  }
  if (!needV) return tmp;
  // vertical pass
  const out = new Uint8Array(W * H * C);
  const { ksize, bounds, k } = cv!;
  const stride = W * C;
  const acc = new Float64Array(stride);
  for (let y = 0; y < H; y++) {
    const yy = y + win.top;
    const ymin = bounds[yy * 2] - rowFirst;
    const yn = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    acc.fill(HALF);
    for (let t = 0; t < yn; t++) {
      const w = k[kb + t];
      const base = (ymin + t) * stride;
      for (let i = 0; i < stride; i++) acc[i] += tmp[base + i] * w;
    }
    const orow = y * stride;
    for (let i = 0; i < stride; i++) out[orow + i] = clip8(acc[i]);
  }
  return out;
}
