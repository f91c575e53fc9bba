// Agreement statistics for the evaluate stage: Spearman's ρ and SSIM (the randomisation sanity check, Adebayo et al.
// 2018), Kendall's τ-b (LIME stability of segment weights). Conventions: scipy.stats.spearmanr (average ranks on
// ties), scipy.stats.kendalltau (variant 'b'), skimage 0.19.3 structural_similarity (defaults: 7×7 uniform window,
// scipy uniform_filter's 'reflect' border, sample covariance, K1 = 0.01, K2 = 0.03, mean over the map less a 3-pixel
// border). Mask agreement (Jaccard) is maskIoU in src/algo/compare.

/** Average ranks (1-based) of the values; ties share the mean of their positions (scipy rankdata 'average'). */
export function averageRanks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Pearson correlation; NaN when a side is constant. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i] - mx, b = y[i] - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Spearman rank correlation (average ranks on ties) over the finite pairs; NaN with fewer than 3 or a constant side. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`spearman: ${x.length} and ${y.length} values`);
  const xs: number[] = [], ys: number[] = [];
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]) && Number.isFinite(y[i])) { xs.push(x[i]); ys.push(y[i]); }
  if (xs.length < 3) return NaN;
  return pearson(averageRanks(xs), averageRanks(ys));
}

/** Kendall's τ-b (scipy.stats.kendalltau's default): (P − Q) / √((P + Q + Tx)(P + Q + Ty)); NaN when a side is constant. */
export function kendallTauB(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`kendallTauB: ${n} and ${y.length} values`);
  let P = 0, Q = 0, Tx = 0, Ty = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = Math.sign(x[i] - x[j]), b = Math.sign(y[i] - y[j]);
      if (a === 0 && b === 0) continue;
      if (a === 0) Tx++;
      else if (b === 0) Ty++;
      else if (a === b) P++;
      else Q++;
    }
  }
  const d = Math.sqrt((P + Q + Tx) * (P + Q + Ty));
  return d > 0 ? (P - Q) / d : NaN;
}

/** scipy.ndimage.uniform_filter (size `size`, mode 'reflect': d c b a | a b c d | d c b a) of an H×W map, float64. */
function uniformFilter(a: Float64Array, H: number, W: number, size: number): Float64Array {
  const before = Math.floor(size / 2);
  const refl = (i: number, n: number) => {
    const period = 2 * n;
    let k = ((i % period) + period) % period;
    if (k >= n) k = period - 1 - k;
    return k;
  };
  const tmp = new Float64Array(H * W);
  const out = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let d = 0; d < size; d++) s += a[y * W + refl(x - before + d, W)];
      tmp[y * W + x] = s / size;
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let d = 0; d < size; d++) s += tmp[refl(y - before + d, H) * W + x];
      out[y * W + x] = s / size;
    }
  }
  return out;
}

/** Mean SSIM of two H×W maps (skimage 0.19.3 structural_similarity with its defaults and the given data_range). */
export function ssim(x: ArrayLike<number>, y: ArrayLike<number>, H: number, W: number, dataRange: number, winSize = 7): number {
  if (x.length !== H * W || y.length !== H * W) throw new RangeError(`ssim: maps of ${x.length} and ${y.length} values, expected ${H}×${W}`);
  if (H < winSize || W < winSize) throw new RangeError(`ssim: a ${H}×${W} map is smaller than the ${winSize}×${winSize} window`);
  const X = Float64Array.from(x), Y = Float64Array.from(y);
  const prod = (a: Float64Array, b: Float64Array) => a.map((v, i) => v * b[i]);
  const ux = uniformFilter(X, H, W, winSize), uy = uniformFilter(Y, H, W, winSize);
  const uxx = uniformFilter(prod(X, X), H, W, winSize), uyy = uniformFilter(prod(Y, Y), H, W, winSize), uxy = uniformFilter(prod(X, Y), H, W, winSize);
  const np = winSize * winSize;
  const covNorm = np / (np - 1);
  const C1 = (0.01 * dataRange) ** 2, C2 = (0.03 * dataRange) ** 2;
  const pad = (winSize - 1) >> 1;
  let s = 0, cnt = 0;
  for (let r = pad; r < H - pad; r++) {
    for (let c = pad; c < W - pad; c++) {
      const i = r * W + c;
      const vx = covNorm * (uxx[i] - ux[i] * ux[i]);
      const vy = covNorm * (uyy[i] - uy[i] * uy[i]);
      const vxy = covNorm * (uxy[i] - ux[i] * uy[i]);
      s += ((2 * ux[i] * uy[i] + C1) * (2 * vxy + C2)) / ((ux[i] ** 2 + uy[i] ** 2 + C1) * (vx + vy + C2));
      cnt++;
    }
  }
  return s / cnt;
}
