// Feature selection exactly as lime_base.LimeBase.feature_selection (lime 0.2.0.1):
// - 'none': all features;
// - 'forward_selection': greedy; each round refits Ridge(alpha=0) on used+[f] for every unused f (ascending f) and
//   keeps the first f with the strictly highest weighted R²; min(num_features, p) rounds;
// - 'highest_weights': Ridge(alpha=0.01) on all features; rank by |coef · x₀| (x₀ = the all-ones first row, so
//   |coef|), stable descending, first num_features;
// - 'lasso_path': LARS-lasso path on (X − x̄_w)·√w, (y − ȳ_w)·√w; walking the path back from its last node to node 1,
//   the first node with ≤ num_features nonzero coefficients gives the features (ascending ids);
// - 'auto': forward_selection if num_features ≤ 6 else highest_weights.
// Forward selection evaluates each candidate by an O(k²) Cholesky append on the weighted centred Gram matrix (the
// exact least-squares R² = ‖L⁻¹b_S‖² / syy); a candidate collinear with the chosen set (pivot² ≤ 1e-12·G_ff) scores
// the set's R² (the minimum-norm fit sklearn's SVD fallback returns has the same residual).

import { larsPath } from './lars.ts';
import { type CentredMoments, type Design, centredMoments, ridgeFromMoments } from './ridge.ts';

export type FeatureSelection = 'auto' | 'forward_selection' | 'highest_weights' | 'lasso_path' | 'none';
export const FEATURE_SELECTIONS: readonly FeatureSelection[] = ['auto', 'forward_selection', 'highest_weights', 'lasso_path', 'none'];

export function forwardSelection(m: CentredMoments, numFeatures: number): number[] {
  const { G, b, syy, p } = m;
  const rounds = Math.min(numFeatures, p);
  const used: number[] = [];
  const isUsed = new Uint8Array(p);
  const fac: number[] = []; // features in the Cholesky factor (non-collinear ones)
  const L = new Float64Array(p * p); // row-major, lower, k×k leading block used with stride p
  const z = new Float64Array(p); // L⁻¹ b_fac
  let zz = 0; // ‖z‖²
  const l = new Float64Array(p);
  for (let round = 0; round < rounds; round++) {
    let best = 0, max = -100000000;
    let bestL: Float64Array | null = null, bestD = 0, bestZ = 0, bestCollinear = false;
    const k = fac.length;
    for (let f = 0; f < p; f++) {
      if (isUsed[f]) continue;
      // l = L⁻¹ G[fac, f]
      for (let i = 0; i < k; i++) {
        let s = G[fac[i] * p + f];
        for (let t = 0; t < i; t++) s -= L[i * p + t] * l[t];
        l[i] = s / L[i * p + i];
      }
      let d2 = G[f * p + f];
      for (let i = 0; i < k; i++) d2 -= l[i] * l[i];
      let score: number;
      let collinear = false, zf = 0, d = 0;
      if (d2 > 1e-12 * G[f * p + f] && d2 > 0) {
        d = Math.sqrt(d2);
        let s = b[f];
        for (let i = 0; i < k; i++) s -= l[i] * z[i];
        zf = s / d;
        score = syy === 0 ? 1 : 1 - Math.max(syy - zz - zf * zf, 0) / syy;
      } else {
        collinear = true;
        score = syy === 0 ? 1 : 1 - Math.max(syy - zz, 0) / syy;
      }
      if (score > max) {
        max = score;
        best = f;
        bestCollinear = collinear;
        bestL = collinear ? null : l.slice(0, k);
        bestD = d;
        bestZ = zf;
      }
    }
    used.push(best);
    isUsed[best] = 1;
    if (!bestCollinear && bestL) {
      for (let i = 0; i < k; i++) L[k * p + i] = bestL[i];
      L[k * p + k] = bestD;
      z[k] = bestZ;
      zz += bestZ * bestZ;
      fac.push(best);
    }
  }
  return used;
}

export function highestWeights(m: CentredMoments, numFeatures: number): number[] {
  const model = ridgeFromMoments(m, 0.01);
  const idx = Array.from({ length: m.p }, (_, i) => i);
  // coef · data[0]; lime's data[0] is all ones
  idx.sort((a, c) => Math.abs(model.coef[c]) - Math.abs(model.coef[a]) || a - c);
  return idx.slice(0, Math.max(0, numFeatures));
}

export function lassoPathSelection(X: Design, y: ArrayLike<number>, w: ArrayLike<number>, numFeatures: number): number[] {
  const { n, p } = X;
  let sw = 0;
  for (let i = 0; i < n; i++) sw += w[i];
  const xm = new Float64Array(p);
  let ym = 0;
  for (let i = 0; i < n; i++) {
    ym += w[i] * y[i];
    for (let j = 0; j < p; j++) xm[j] += w[i] * X.data[i * p + j];
  }
  ym /= sw;
  for (let j = 0; j < p; j++) xm[j] /= sw;
  const Xw = new Float64Array(n * p);
  const yw = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sqrt(w[i]);
    yw[i] = (y[i] - ym) * s;
    for (let j = 0; j < p; j++) Xw[i * p + j] = (X.data[i * p + j] - xm[j]) * s;
  }
  const { coefs } = larsPath(Xw, n, p, yw, { method: 'lasso' });
  let nonzero: number[] = Array.from({ length: p }, (_, i) => i);
  for (let i = coefs.length - 1; i > 0; i--) {
    nonzero = [];
    for (let j = 0; j < p; j++) if (coefs[i][j] !== 0) nonzero.push(j);
    if (nonzero.length <= numFeatures) break;
  }
  return nonzero;
}

/**
 * lime_base.feature_selection. `moments` may be passed when already computed for (X, y, w).
 */
export function selectFeatures(
  X: Design,
  y: ArrayLike<number>,
  w: ArrayLike<number>,
  numFeatures: number,
  method: FeatureSelection,
  moments?: CentredMoments,
): number[] {
  switch (method) {
    case 'none':
      return Array.from({ length: X.p }, (_, i) => i);
    case 'forward_selection':
      return forwardSelection(moments ?? centredMoments(X, y, w), numFeatures);
    case 'highest_weights':
      return highestWeights(moments ?? centredMoments(X, y, w), numFeatures);
    case 'lasso_path':
      return lassoPathSelection(X, y, w, numFeatures);
    case 'auto':
      return selectFeatures(X, y, w, numFeatures, numFeatures <= 6 ? 'forward_selection' : 'highest_weights', moments);
    default:
      throw new RangeError(`feature_selection: unknown method '${String(method)}' (expected ${FEATURE_SELECTIONS.join(', ')})`);
  }
}
