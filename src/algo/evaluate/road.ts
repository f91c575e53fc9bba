// ROAD — RemOve And Debias (Rong et al. 2022), with pytorch-grad-cam's semantics (pytorch_grad_cam/metrics/road.py
// and perturbation_confidence.py, taken by the library from tleemann/road_evaluation): at percentile p of the map,
// MoRF keeps the pixels with cam < percentile(cam, p) and imputes the rest (the most relevant 100 − p %); LeRF does
// the same on 1 − cam (imputes the least relevant). Imputed pixels are the solution of the library's sparse linear
// system — each missing pixel equals the weighted mean of its in-image 8-neighbours (weights 1/6 for the 4 direct and
// 1/12 for the 4 diagonal neighbours, renormalised by the weights of the neighbours inside the image) — plus
// noise·N(0, 1) (noise = 0.01, absolute, in the model-input space). docs/evaluate.md lists what we follow and where
// we differ (the solver, the random stream).
import { lerp } from '../dissect/quantile.ts';

/** road.py's neighbors_weights: (dy, dx) → weight (they sum to 1). */
export const ROAD_NEIGHBOURS: readonly (readonly [number, number, number])[] = [
  [1, 1, 1 / 12], [0, 1, 1 / 6], [-1, 1, 1 / 12], [1, -1, 1 / 12],
  [0, -1, 1 / 6], [-1, -1, 1 / 12], [1, 0, 1 / 6], [-1, 0, 1 / 6],
];

/** ROAD's defaults: percentiles 10..90 and the imputer's noise. */
export const ROAD_PERCENTILES: readonly number[] = [10, 20, 30, 40, 50, 60, 70, 80, 90];
export const ROAD_NOISE = 0.01;

/** np.percentile(values, pct) with numpy's default 'linear' method (float64, as numpy 1.24 returns it). */
export function numpyPercentile(values: ArrayLike<number>, pct: number): number {
  const n = values.length;
  if (n === 0) throw new RangeError('percentile of no values');
  const s = Float64Array.from(values).sort();
  const p = pct / 100;
  const virt = n * p + (1 + p * (1 - 1 - 1)) - 1;
  if (virt >= n - 1) return s[n - 1];
  if (virt < 0) return s[0];
  const lo = Math.floor(virt);
  return lerp(s[lo], s[lo + 1], virt - lo);
}

/**
 * The pixels ROAD keeps (1) or imputes (0) at percentile `pct`. MoRF: keep cam < percentile(cam, pct); LeRF: the
 * same on 1 − cam (torch: float32 arithmetic, and the float64 threshold compared in float32 as torch does with a
 * scalar).
 */
export function roadKeepMask(cam: ArrayLike<number>, pct: number, order: 'morf' | 'lerf'): Uint8Array {
  const v = order === 'morf' ? Float32Array.from(cam) : Float32Array.from(cam, (x) => Math.fround(1 - Math.fround(x)));
  const thr = Math.fround(numpyPercentile(v, pct));
  const keep = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) keep[i] = v[i] < thr ? 1 : 0;
  return keep;
}

/**
 * Noisy linear imputation of a CHW image: pixels with keep = 0 are replaced by the solution of road.py's system
 * (the library solves it directly with scipy spsolve; we solve the same symmetric positive-definite system by
 * Jacobi-preconditioned conjugate gradients to a relative residual of `tol`, default 1e-6: far below the noise), then noise·normal() is added to each
 * imputed value (noise ≠ 0 needs `normal`), channel by channel in pixel order (the library: torch.randn_like over (C, imputed pixels)).
 * With every pixel missing the system is singular: the image is left as is.
 */
export function noisyLinearImpute(
  img: Float32Array, C: number, H: number, W: number, keep: Uint8Array,
  o: { noise?: number; normal?: () => number; tol?: number; maxIter?: number } = {},
): Float32Array {
  const n = H * W;
  if (img.length !== C * n || keep.length !== n) throw new RangeError(`noisyLinearImpute: image ${img.length}, mask ${keep.length}, expected ${C}·${H}·${W}`);
  const out = Float32Array.from(img);
  const vidx = new Int32Array(n).fill(-1);
  const unknown: number[] = [];
  for (let i = 0; i < n; i++) if (!keep[i]) vidx[i] = unknown.push(i) - 1;
  const m = unknown.length;
  if (m === 0 || m === n) return out;
  // Per unknown: diagonal (sum of in-image neighbour weights), off-diagonal (unknown neighbour, weight), rhs.
  const diag = new Float64Array(m);
  const nbr = new Int32Array(m * 8).fill(-1);
  const nw = new Float64Array(m * 8);
  const b = new Float64Array(m * C);
  for (let u = 0; u < m; u++) {
    const p = unknown[u];
    const y = Math.floor(p / W), x = p % W;
    ROAD_NEIGHBOURS.forEach(([dy, dx, w], k) => {
      const yy = y + dy, xx = x + dx;
      if (yy < 0 || xx < 0 || yy >= H || xx >= W) return;
      const q = yy * W + xx;
      diag[u] += w;
      if (keep[q]) for (let c = 0; c < C; c++) b[u * C + c] += w * img[c * n + q];
      else {
        nbr[u * 8 + k] = vidx[q];
        nw[u * 8 + k] = w;
      }
    });
  }
  const tol = o.tol ?? 1e-6;
  const maxIter = o.maxIter ?? 20 * m + 100;
  const x = new Float64Array(m * C);
  const r = Float64Array.from(b);
  const z = new Float64Array(m * C);
  const pv = new Float64Array(m * C);
  const ap = new Float64Array(m * C);
  const inv = diag.map((d) => 1 / d);
  // Channels are solved together (same matrix), each with its own CG scalars; values are stored u-major (u·C + c).
  const dot = (a: Float64Array, bb: Float64Array, c: number) => {
    let s = 0;
    for (let i = c; i < m * C; i += C) s += a[i] * bb[i];
    return s;
  };
  for (let u = 0; u < m; u++) for (let c = 0; c < C; c++) pv[u * C + c] = z[u * C + c] = r[u * C + c] * inv[u];
  const rz = Array.from({ length: C }, (_, c) => dot(r, z, c));
  const bn = Array.from({ length: C }, (_, c) => dot(b, b, c));
  const done = new Array<boolean>(C).fill(false);
  for (let it = 0; it < maxIter && !done.every(Boolean); it++) {
    // ap = (D − W_unknown) pv
    for (let u = 0; u < m; u++) {
      const du = diag[u];
      const base = u * C;
      for (let c = 0; c < C; c++) ap[base + c] = du * pv[base + c];
      for (let k = u * 8, e = k + 8; k < e; k++) {
        const j = nbr[k];
        if (j < 0) continue;
        const w = nw[k], jb = j * C;
        for (let c = 0; c < C; c++) ap[base + c] -= w * pv[jb + c];
      }
    }
    for (let c = 0; c < C; c++) {
      if (done[c]) continue;
      const pap = dot(pv, ap, c);
      const alpha = pap === 0 ? 0 : rz[c] / pap;
      let rr = 0, rzNew = 0;
      for (let u = 0, i = c; u < m; u++, i += C) {
        x[i] += alpha * pv[i];
        r[i] -= alpha * ap[i];
        z[i] = r[i] * inv[u];
        rr += r[i] * r[i];
        rzNew += r[i] * z[i];
      }
      if (rr <= tol * tol * Math.max(bn[c], 1e-300)) {
        done[c] = true;
        continue;
      }
      const beta = rz[c] === 0 ? 0 : rzNew / rz[c];
      for (let i = c; i < m * C; i += C) pv[i] = z[i] + beta * pv[i];
      rz[c] = rzNew;
    }
  }
  const noise = o.noise ?? ROAD_NOISE;
  if (noise !== 0 && !o.normal) throw new RangeError('noisyLinearImpute: noise ≠ 0 needs a normal() source');
  for (let c = 0; c < C; c++) {
    for (let u = 0; u < m; u++) out[c * n + unknown[u]] = x[u * C + c] + (noise !== 0 ? noise * o.normal!() : 0);
  }
  return out;
}
