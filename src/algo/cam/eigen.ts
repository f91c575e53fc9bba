// EigenCAM's 2-D projection, per pytorch-grad-cam utils/svd_on_activations.get_2d_projection: per image, the
// activations as an (H·W × C) matrix, centred per channel (mean over positions), NaN → 0, projected on its first
// right singular vector v₁: cam = X·v₁ (no ReLU here; postprocess.ts applies it).
//
// Sign: the library takes v₁ as numpy's np.linalg.svd (LAPACK gesdd) returns it, with no sign correction; a different
// sign inverts the map (the ReLU does not hide it). We give v₁ LAPACK's sign by following gesdd's algorithm far
// enough to decide it (lapack-sign.ts: its Householder bidiagonalisation and xBDSQR's QR iterations); where σ₁ is
// not separated from σ₂ the top vector is ill-conditioned and LAPACK's sign follows its rounding.
//
// Method: the top eigenvector of the smaller Gram matrix G (XXᵀ if H·W ≤ C, else XᵀX) by Lanczos with full
// reorthogonalisation from a fixed pseudo-random start, grown until the Ritz residual ‖Gv − θv‖ ≤ 1e-12·θ (exact once
// the Krylov space is invariant or n-dimensional); G·v is applied as X(Xᵀv) until forming G becomes cheaper. X·v₁ =
// σ₁·u₁ on the XXᵀ side.
import type { Tensor } from '../../model/types.ts';
import { dims4 } from './dims.ts';
import { lapackTopSign } from './lapack-sign.ts';

const EPS = 2.220446049250313e-16;
/** Stopping rule: Ritz residual ≤ RESIDUAL_TOL·θ₁ (eigenvector error ≲ RESIDUAL_TOL·λ₁/(λ₁ − λ₂)). */
const RESIDUAL_TOL = 1e-12;

/** Top eigenvector (unit norm) of a symmetric positive semi-definite n×n matrix (row-major). */
export function topEigenvector(gram: Float64Array, n: number): { vector: Float64Array; value: number } {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += gram[i * n + i];
  if (!(trace > 0)) return { vector: new Float64Array(n), value: 0 };
  const apply = (x: Float64Array, y: Float64Array): void => {
    for (let i = 0; i < n; i++) y[i] = dot(gram, x, n, i * n);
  };
  const vector = lanczosTop(n, apply);
  // Rayleigh quotient on the original matrix.
  const gv = new Float64Array(n);
  apply(vector, gv);
  return { vector, value: dot(vector, gv, n) };
}

function dot(a: Float64Array, b: Float64Array, n: number, ao = 0, bo = 0): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[ao + i] * b[bo + i];
    s1 += a[ao + i + 1] * b[bo + i + 1];
    s2 += a[ao + i + 2] * b[bo + i + 2];
    s3 += a[ao + i + 3] * b[bo + i + 3];
  }
  for (; i < n; i++) s0 += a[ao + i] * b[bo + i];
  return s0 + s1 + (s2 + s3);
}

/**
 * Unit top eigenvector of the symmetric PSD operator `apply` (y ← A·x, n×n): Lanczos with full (DGKS-repeated
 * classical Gram–Schmidt) reorthogonalisation, from a deterministic pseudo-random start vector.
 */
function lanczosTop(
  n: number,
  apply: (x: Float64Array, y: Float64Array) => void,
  progress?: (k: number, residualOverTolerance: number) => void,
): Float64Array {
  let cap = Math.min(n, 32);
  let q = new Float64Array(cap * n); // row j = Lanczos vector q_j
  const alpha = new Float64Array(n);
  const beta = new Float64Array(n); // beta[j] couples q_j and q_{j+1}
  const y = new Float64Array(n); // top eigenvector of T_k
  const work = new Float64Array(3 * n);
  const w = new Float64Array(n);
  let s = 0x2545f491;
  let nrm = 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    q[i] = s / 2 ** 32 - 0.5;
    nrm += q[i] * q[i];
  }
  nrm = Math.sqrt(nrm);
  for (let i = 0; i < n; i++) q[i] /= nrm;
  let k = 0; // Lanczos vectors accepted into T (q_0 … q_{k-1})
  let anorm = 0;
  for (;;) {
    const o = k * n;
    apply(q.subarray(o, o + n), w);
    if (k > 0) {
      const b = beta[k - 1];
      const p = o - n;
      for (let i = 0; i < n; i++) w[i] -= b * q[p + i];
    }
    const a = dot(q, w, n, o);
    for (let i = 0; i < n; i++) w[i] -= a * q[o + i];
    alpha[k] = a;
    k++;
    // Full reorthogonalisation against q_0 … q_{k-1}; repeated when it cancels (DGKS, "twice is enough").
    let before = Math.sqrt(dot(w, w, n));
    let bk = before;
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < k; j++) {
        const c = dot(q, w, n, j * n);
        if (c === 0) continue;
        const r = j * n;
        for (let i = 0; i < n; i++) w[i] -= c * q[r + i];
      }
      bk = Math.sqrt(dot(w, w, n));
      if (bk > 0.7071 * before) break;
      before = bk;
    }
    anorm = Math.max(anorm, Math.abs(a) + bk + (k > 1 ? beta[k - 2] : 0));
    const theta = tridiagonalTop(alpha, beta, k, y, work);
    const residual = bk * Math.abs(y[k - 1]);
    if (k >= n || !(bk > 64 * EPS * anorm) || residual <= RESIDUAL_TOL * theta) break;
    progress?.(k, residual / (RESIDUAL_TOL * theta));
    beta[k - 1] = bk;
    if (k === cap) {
      cap = Math.min(n, cap * 2);
      const grown = new Float64Array(cap * n);
      grown.set(q);
      q = grown;
    }
    const r = k * n;
    for (let i = 0; i < n; i++) q[r + i] = w[i] / bk;
  }
  // Ritz vector Q_k·y
  const v = new Float64Array(n);
  for (let j = 0; j < k; j++) {
    const c = y[j];
    if (c === 0) continue;
    const r = j * n;
    for (let i = 0; i < n; i++) v[i] += c * q[r + i];
  }
  normalise(v);
  return v;
}

/**
 * Largest eigenvalue of the k×k symmetric tridiagonal T (diagonal a, off-diagonal b) by Sturm-count bisection,
 * and its unit eigenvector into y[0..k) by inverse iteration (LDLᵀ of the positive definite σI − T, σ just above it).
 */
function tridiagonalTop(a: Float64Array, b: Float64Array, k: number, y: Float64Array, work: Float64Array): number {
  let lo = Infinity, hi = -Infinity, maxB2 = 0;
  for (let i = 0; i < k; i++) {
    const r = (i > 0 ? Math.abs(b[i - 1]) : 0) + (i < k - 1 ? Math.abs(b[i]) : 0);
    lo = Math.min(lo, a[i] - r);
    hi = Math.max(hi, a[i] + r);
    if (i < k - 1) maxB2 = Math.max(maxB2, b[i] * b[i]);
  }
  const scale = Math.max(Math.abs(lo), Math.abs(hi));
  if (!(scale > 0)) {
    // T = 0 (or NaN): any unit vector; take e_0.
    y.fill(0, 0, k);
    y[0] = 1;
    return scale === 0 ? 0 : NaN;
  }
  if (k === 1) {
    y[0] = 1;
    return a[0];
  }
  const pivmin = 1e-300 * Math.max(1, maxB2);
  // Largest eigenvalue λ: the Sturm count (# eigenvalues < x) is k exactly when x > λ.
  for (let it = 0; it < 200 && hi - lo > 2 * EPS * scale; it++) {
    const x = 0.5 * (lo + hi);
    if (x <= lo || x >= hi) break;
    let d = a[0] - x;
    let cnt = d < 0 ? 1 : 0;
    for (let i = 1; i < k; i++) {
      if (Math.abs(d) < pivmin) d = -pivmin;
      d = a[i] - x - (b[i - 1] * b[i - 1]) / d;
      if (d < 0) cnt++;
    }
    if (cnt === k) hi = x;
    else lo = x;
  }
  const theta = hi;
  // Inverse iteration with σ = θ + δ: σI − T is positive definite, its smallest eigenvalue ≈ δ.
  const sigma = theta + 4 * k * EPS * scale;
  const dpiv = work; // D of LDLᵀ
  const l = work.subarray(k); // L's sub-diagonal
  const tiny = EPS * scale * 1e-3;
  dpiv[0] = sigma - a[0];
  if (!(dpiv[0] > tiny)) dpiv[0] = tiny;
  for (let i = 1; i < k; i++) {
    l[i - 1] = -b[i - 1] / dpiv[i - 1];
    let d = sigma - a[i] + l[i - 1] * b[i - 1];
    if (!(d > tiny)) d = tiny;
    dpiv[i] = d;
  }
  let s = 0x6c078965;
  for (let i = 0; i < k; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    y[i] = 0.5 + s / 2 ** 32;
  }
  for (let it = 0; it < 3; it++) {
    for (let i = 1; i < k; i++) y[i] -= l[i - 1] * y[i - 1];
    for (let i = 0; i < k; i++) y[i] /= dpiv[i];
    for (let i = k - 2; i >= 0; i--) y[i] -= l[i] * y[i + 1];
    let m = 0;
    for (let i = 0; i < k; i++) m = Math.max(m, Math.abs(y[i]));
    if (!(m > 0) || !Number.isFinite(m)) {
      y.fill(0, 0, k);
      y[0] = 1;
      return theta;
    }
    let ss = 0;
    for (let i = 0; i < k; i++) {
      y[i] /= m;
      ss += y[i] * y[i];
    }
    const nr = Math.sqrt(ss);
    for (let i = 0; i < k; i++) y[i] /= nr;
  }
  return theta;
}

function normalise(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const norm = Math.sqrt(s);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] /= norm;
  return norm;
}

/** EigenCAM projection [N·H·W] of NCHW activations (see the module comment for the sign convention). */
export function eigenProjection(acts: Tensor): Float32Array {
  const { n: batch, c, h, w } = dims4(acts, 'activations');
  const hw = h * w;
  const out = new Float32Array(batch * hw);
  // Z = the centred matrix with rows on the smaller side: X (hw × c) if H·W ≤ C, else Xᵀ (c × hw); G = Z Zᵀ (n × n).
  const side = hw <= c;
  const n = side ? hw : c;
  const m = side ? c : hw;
  const z = new Float64Array(n * m);
  const zT = new Float64Array(m * n); // Zᵀ (m × n), so that both products are dot products
  const t = new Float64Array(m);
  // G·u is applied as Z(Zᵀu) (2nm per product) until building G (n(n+1)m/2, then n² per product) pays for itself:
  // when the Lanczos steps still to come, extrapolated from the last 4 steps' residual decay, exceed 1.5·breakEven
  // (Lanczos accelerates, so the extrapolation runs high), or at the latest after `breakEven` steps (ski rental: at
  // most twice the better of the two). Only the cost depends on the choice.
  const breakEven = (n * (n + 1) * m) / 2 / (2 * n * m - n * n);
  for (let b = 0; b < batch; b++) {
    let trace = 0; // trace of G = ‖X‖²_F
    for (let k = 0; k < c; k++) {
      const o = (b * c + k) * hw;
      let mean = 0;
      for (let p = 0; p < hw; p++) {
        const a = acts.data[o + p];
        mean += Number.isNaN(a) ? 0 : a;
      }
      mean /= hw;
      for (let p = 0; p < hw; p++) {
        const a = acts.data[o + p];
        const v = (Number.isNaN(a) ? 0 : a) - mean;
        z[side ? p * c + k : k * hw + p] = v;
        zT[side ? k * hw + p : p * c + k] = v;
        trace += v * v;
      }
    }
    if (!(trace > 0)) continue; // X = 0 (or not finite): a zero projection
    let products = 0;
    let predicted = 0; // Lanczos steps still to come, extrapolated
    const logRes: number[] = [];
    const progress = (k: number, ratio: number): void => {
      logRes[k - 1] = Math.log(ratio);
      if (k < 5) return;
      const rate = (logRes[k - 5] - logRes[k - 1]) / 4;
      predicted = rate > 0 ? logRes[k - 1] / rate : Infinity;
    };
    let g: Float64Array | null = null;
    const apply = (u: Float64Array, y: Float64Array): void => {
      if (g === null && (++products > breakEven || predicted > 1.5 * breakEven)) g = gramRows(z, n, m);
      if (g !== null) {
        const gg = g;
        for (let i = 0; i < n; i++) y[i] = dot(gg, u, n, i * n);
        return;
      }
      for (let j = 0; j < m; j++) t[j] = dot(zT, u, n, j * n);
      for (let i = 0; i < n; i++) y[i] = dot(z, t, m, i * m);
    };
    const u = lanczosTop(n, apply, progress);
    // t = Zᵀu: σ₁v₁ (channels) on the XXᵀ side, X·v₁ (positions) on the XᵀX side
    for (let j = 0; j < m; j++) t[j] = dot(zT, u, n, j * n);
    const o = b * hw;
    // X (hw × c, row-major) = Z or Zᵀ; its top triplet (u over positions, σ, v over channels); projection X v₁ = σ₁ u₁
    let ss = 0;
    for (let j = 0; j < m; j++) ss += t[j] * t[j];
    const sigma = Math.sqrt(ss);
    const uPos = side ? Float64Array.from(u) : t.map((x) => x / sigma);
    const vCh = side ? t.map((x) => x / sigma) : Float64Array.from(u);
    const f = lapackTopSign(side ? z : zT, hw, c, vCh, uPos, sigma);
    for (let p = 0; p < hw; p++) out[o + p] = f * sigma * uPos[p];
  }
  return out;
}

/** G = Z Zᵀ (n × n) for Z (n × m, row-major). */
function gramRows(z: Float64Array, n: number, m: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = dot(z, z, m, i * m, j * m);
      g[i * n + j] = v;
      g[j * n + i] = v;
    }
  }
  return g;
}

/** EigenCAM raw cam [N·H·W] (no gradients): the 2-D projection of the activations. */
export function eigenCam(acts: Tensor): Float32Array {
  return eigenProjection(acts);
}
