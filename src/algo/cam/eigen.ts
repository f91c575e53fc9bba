// EigenCAM's 2-D projection, per pytorch-grad-cam utils/svd_on_activations.get_2d_projection: per image, the
// activations as an (H·W × C) matrix, centred per channel (mean over positions), NaN → 0, projected on its first
// right singular vector v₁: cam = X·v₁ (no ReLU here; postprocess.ts applies it).
//
// Sign: the library takes v₁ as LAPACK's SVD returns it, with no sign correction; that sign is unspecified by
// LAPACK, so it cannot be reproduced bit-for-bit. We fix it deterministically: v₁ is oriented so that Σ_k v₁[k] ≥ 0,
// and apply no other correction (a flipped projection becomes ~0 after the ReLU, as in the library).
//
// Method: the top eigenvector of the smaller Gram matrix (XXᵀ if H·W ≤ C, else XᵀX), found by repeated squaring of
// the trace-normalised Gram matrix followed by power iteration; X·v₁ = σ₁·u₁ on the XXᵀ side.
import type { Tensor } from '../../model/types.ts';
import { dims4 } from './gradient.ts';

/** Top eigenvector (unit norm) of a symmetric positive semi-definite n×n matrix (row-major). */
export function topEigenvector(gram: Float64Array, n: number): { vector: Float64Array; value: number } {
  const v = new Float64Array(n);
  let trace = 0;
  for (let i = 0; i < n; i++) trace += gram[i * n + i];
  if (!(trace > 0)) return { vector: v, value: 0 };
  // M = (G / trace)^(2^6): eigenvalue gaps raised to the 64th power; renormalised by the trace at each step.
  let m = new Float64Array(gram.length);
  for (let i = 0; i < gram.length; i++) m[i] = gram[i] / trace;
  let tmp = new Float64Array(gram.length);
  for (let s = 0; s < 6; s++) {
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let acc = 0;
        const ri = i * n;
        const rj = j * n;
        for (let k = 0; k < n; k++) acc += m[ri + k] * m[rj + k]; // M symmetric: (M·M)[i,j] = row_i · row_j
        tmp[ri + j] = acc;
        tmp[rj + i] = acc;
      }
    }
    let tr = 0;
    for (let i = 0; i < n; i++) tr += tmp[i * n + i];
    if (!(tr > 0)) break;
    for (let i = 0; i < tmp.length; i++) tmp[i] /= tr;
    const t = m;
    m = tmp;
    tmp = t;
  }
  // Power iteration on M from a deterministic start vector (not orthogonal to generic eigenvectors).
  for (let i = 0; i < n; i++) v[i] = 1 + (i + 1) / (n + 1);
  normalise(v);
  const w = new Float64Array(n);
  for (let it = 0; it < 200; it++) {
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += m[i * n + k] * v[k];
      w[i] = acc;
    }
    if (normalise(w) === 0) break;
    let diff = 0;
    for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(w[i] - v[i]));
    v.set(w);
    if (diff < 1e-13) break;
  }
  // Rayleigh quotient on the original matrix.
  let value = 0;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let k = 0; k < n; k++) acc += gram[i * n + k] * v[k];
    value += v[i] * acc;
  }
  return { vector: v, value };
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
  const { n, c, h, w } = dims4(acts, 'activations');
  const hw = h * w;
  const out = new Float32Array(n * hw);
  // X stored channel-major: x[k·hw + p] = A[k, p] − mean_p A[k, ·]
  const x = new Float64Array(c * hw);
  for (let b = 0; b < n; b++) {
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
        x[k * hw + p] = (Number.isNaN(a) ? 0 : a) - mean;
      }
    }
    const proj = new Float64Array(hw);
    if (hw <= c) {
      // G = X Xᵀ (hw × hw); X v₁ = σ₁ u₁ with σ₁ = sqrt(λ₁); v₁ = Xᵀ u₁ / σ₁.
      const g = new Float64Array(hw * hw);
      for (let k = 0; k < c; k++) {
        const r = k * hw;
        for (let p = 0; p < hw; p++) {
          const xp = x[r + p];
          if (xp === 0) continue;
          for (let q = p; q < hw; q++) g[p * hw + q] += xp * x[r + q];
        }
      }
      for (let p = 0; p < hw; p++) for (let q = 0; q < p; q++) g[p * hw + q] = g[q * hw + p];
      const { vector: u, value } = topEigenvector(g, hw);
      const sigma = Math.sqrt(Math.max(value, 0));
      // Orientation: Σ_k v₁[k] ∝ Σ_p u[p]·(Σ_k X[p,k]).
      let s = 0;
      for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) s += u[p] * x[k * hw + p];
      const sign = s < 0 ? -1 : 1;
      for (let p = 0; p < hw; p++) proj[p] = sign * sigma * u[p];
    } else {
      // G = Xᵀ X (c × c); projection = X v₁.
      const g = new Float64Array(c * c);
      for (let i = 0; i < c; i++) {
        for (let j = i; j < c; j++) {
          let acc = 0;
          for (let p = 0; p < hw; p++) acc += x[i * hw + p] * x[j * hw + p];
          g[i * c + j] = acc;
          g[j * c + i] = acc;
        }
      }
      const { vector: v } = topEigenvector(g, c);
      let s = 0;
      for (let k = 0; k < c; k++) s += v[k];
      const sign = s < 0 ? -1 : 1;
      for (let k = 0; k < c; k++) {
        const vk = sign * v[k];
        if (vk === 0) continue;
        for (let p = 0; p < hw; p++) proj[p] += x[k * hw + p] * vk;
      }
    }
    for (let p = 0; p < hw; p++) out[b * hw + p] = proj[p];
  }
  return out;
}

/** EigenCAM raw cam [N·H·W] (no gradients): the 2-D projection of the activations. */
export function eigenCam(acts: Tensor): Float32Array {
  return eigenProjection(acts);
}
