// ROAD — RemOve And Debias (Rong et al. 2022), with pytorch-grad-cam's semantics (pytorch_grad_cam/metrics/road.py
// and perturbation_confidence.py, taken by the library from tleemann/road_evaluation): at percentile p of the map,
// MoRF keeps the pixels with cam < percentile(cam, p) and imputes the rest (the most relevant 100 − p %); LeRF does
// the same on 1 − cam (imputes the least relevant). Imputed pixels are the solution of the library's sparse linear
// system — each missing pixel equals the weighted mean of its in-image 8-neighbours (weights 1/6 for the 4 direct and
// 1/12 for the 4 diagonal neighbours, renormalised by the weights of the neighbours inside the image) — plus
// noise·N(0, 1) (noise = 0.01, absolute, in the model-input space). docs/evaluate.md lists what we follow and where
// we differ (the solver, the random stream).
import { lerp } from '../dissect/quantile.ts';
import { MaskedLaplaceSolver } from './laplace.ts';

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
  if (values.length === 0) throw new RangeError('percentile of no values');
  return percentileOfSorted(Float64Array.from(values).sort(), pct);
}

/** numpyPercentile of values already sorted ascending. */
function percentileOfSorted(s: Float64Array, pct: number): number {
  const n = s.length;
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
  return roadKeepMasks(cam, [pct], order)[0];
}

/** roadKeepMask at several percentiles (the map sorted once). */
export function roadKeepMasks(cam: ArrayLike<number>, pcts: readonly number[], order: 'morf' | 'lerf'): Uint8Array[] {
  const v = order === 'morf' ? Float32Array.from(cam) : Float32Array.from(cam, (x) => Math.fround(1 - Math.fround(x)));
  if (v.length === 0) throw new RangeError('percentile of no values');
  const sorted = Float64Array.from(v).sort();
  return pcts.map((pct) => {
    const thr = Math.fround(percentileOfSorted(sorted, pct));
    const keep = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) keep[i] = v[i] < thr ? 1 : 0;
    return keep;
  });
}

/**
 * Noisy linear imputation of a CHW image: pixels with keep = 0 are replaced by the solution of road.py's system
 * (the library solves it directly with scipy spsolve; we solve the same symmetric positive-definite system by
 * multigrid-preconditioned conjugate gradients, laplace.ts, to a relative residual of `tol`, default 1e-6: far below the noise), then noise·normal() is added to each
 * imputed value (noise ≠ 0 needs `normal`), channel by channel in pixel order (the library: torch.randn_like over (C, imputed pixels)).
 * With every pixel missing the system is singular: the image is left as is.
 */
export function noisyLinearImpute(
  img: Float32Array, C: number, H: number, W: number, keep: Uint8Array,
  o: { noise?: number; normal?: () => number; tol?: number; maxIter?: number; stats?: { iterations: number } } = {},
): Float32Array {
  const n = H * W;
  if (img.length !== C * n || keep.length !== n) throw new RangeError(`noisyLinearImpute: image ${img.length}, mask ${keep.length}, expected ${C}·${H}·${W}`);
  const out = Float32Array.from(img);
  let kept = 0;
  for (let i = 0; i < n; i++) kept += keep[i] ? 1 : 0;
  if (kept === 0 || kept === n) return out;
  const solver = new MaskedLaplaceSolver(H, W, keep, ROAD_NEIGHBOURS, C);
  const unknown = solver.unknown;
  const m = unknown.length;
  // The right-hand side: the weighted values of each unknown pixel's known in-image neighbours.
  const b = new Float64Array(m * C);
  for (let u = 0; u < m; u++) {
    const y = Math.floor(unknown[u] / W), x = unknown[u] % W;
    for (const [dy, dx, w] of ROAD_NEIGHBOURS) {
      const yy = y + dy, xx = x + dx;
      if (yy < 0 || xx < 0 || yy >= H || xx >= W) continue;
      const q = yy * W + xx;
      if (keep[q]) for (let c = 0; c < C; c++) b[c * m + u] += w * img[c * n + q];
    }
  }
  const x = new Float64Array(m * C);
  const iterations = solver.solve(b, x, o.tol ?? 1e-6, o.maxIter ?? 1000);
  if (o.stats) o.stats.iterations = iterations;
  const noise = o.noise ?? ROAD_NOISE;
  if (noise !== 0 && !o.normal) throw new RangeError('noisyLinearImpute: noise ≠ 0 needs a normal() source');
  for (let c = 0; c < C; c++) {
    for (let u = 0; u < m; u++) out[c * n + unknown[u]] = x[c * m + u] + (noise !== 0 ? noise * o.normal!() : 0);
  }
  return out;
}
