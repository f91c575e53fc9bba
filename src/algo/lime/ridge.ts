// Weighted ridge regression with intercept, as sklearn.linear_model.Ridge(alpha, fit_intercept=True).fit(X, y,
// sample_weight=w) with the 'cholesky' solver: centre X and y by their weighted means, solve (XcᵀWXc + αI)β = XcᵀWyc,
// intercept = ȳ_w − x̄_wᵀβ. α = 0 with a singular system falls back to the minimum-norm least-squares solution (as
// sklearn falls back to its SVD solver). score = weighted R² as sklearn's r2_score(y, ŷ, sample_weight=w)
// (1 − Σw(y−ŷ)² / Σw(y−ȳ_w)²; a constant y scores 1 if predicted exactly, else 0).

import { solveNormal } from './linalg.ts';

/** Row-major n×p design matrix (binary LIME data or any real matrix). */
export interface Design {
  data: ArrayLike<number>;
  n: number;
  p: number;
}

export interface RidgeModel {
  coef: Float64Array;
  intercept: number;
  alpha: number;
}

/** Weighted centred moments: Gram G = XcᵀWXc (p×p), b = XcᵀWyc, syy = Σw·yc², means and Σw. */
export interface CentredMoments {
  G: Float64Array;
  b: Float64Array;
  syy: number;
  xMean: Float64Array;
  yMean: number;
  sw: number;
  p: number;
}

function checkShapes(X: Design, y: ArrayLike<number>, w: ArrayLike<number>): void {
  if (X.data.length !== X.n * X.p) throw new RangeError(`ridge: X has ${X.data.length} values, expected n·p = ${X.n * X.p}`);
  if (y.length !== X.n) throw new RangeError(`ridge: y has ${y.length} values, expected n = ${X.n}`);
  if (w.length !== X.n) throw new RangeError(`ridge: sample_weight has ${w.length} values, expected n = ${X.n}`);
}

/** Select columns (in the given order) of a design into a dense Float64 design. */
export function selectColumns(X: Design, cols: ArrayLike<number>): Design {
  const q = cols.length;
  const out = new Float64Array(X.n * q);
  for (let i = 0; i < X.n; i++) for (let j = 0; j < q; j++) out[i * q + j] = X.data[i * X.p + cols[j]];
  return { data: out, n: X.n, p: q };
}

export function centredMoments(X: Design, y: ArrayLike<number>, w: ArrayLike<number>): CentredMoments {
  checkShapes(X, y, w);
  const { n, p, data } = X;
  let sw = 0, sy = 0;
  const xMean = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const wi = w[i];
    sw += wi;
    sy += wi * y[i];
    for (let j = 0; j < p; j++) xMean[j] += wi * data[i * p + j];
  }
  if (!(sw > 0)) throw new RangeError('ridge: the sample weights sum to zero (or are not finite)');
  for (let j = 0; j < p; j++) xMean[j] /= sw;
  const yMean = sy / sw;
  const G = new Float64Array(p * p);
  const b = new Float64Array(p);
  let syy = 0;
  const xc = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const wi = w[i];
    const yc = y[i] - yMean;
    syy += wi * yc * yc;
    for (let j = 0; j < p; j++) xc[j] = data[i * p + j] - xMean[j];
    for (let j = 0; j < p; j++) {
      const wx = wi * xc[j];
      b[j] += wx * yc;
      const row = j * p;
      for (let k = 0; k <= j; k++) G[row + k] += wx * xc[k];
    }
  }
  for (let j = 0; j < p; j++) for (let k = 0; k < j; k++) G[k * p + j] = G[j * p + k];
  return { G, b, syy, xMean, yMean, sw, p };
}

/** Fit from precomputed moments. */
export function ridgeFromMoments(m: CentredMoments, alpha: number): RidgeModel {
  if (!(alpha >= 0)) throw new RangeError(`ridge: alpha must be ≥ 0, got ${alpha}`);
  const coef = m.p > 0 ? solveNormal(m.G, m.p, m.b, alpha) : new Float64Array(0);
  let intercept = m.yMean;
  for (let j = 0; j < m.p; j++) intercept -= m.xMean[j] * coef[j];
  return { coef, intercept, alpha };
}

/** sklearn Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w). */
export function ridgeFit(X: Design, y: ArrayLike<number>, w: ArrayLike<number>, alpha = 1): RidgeModel {
  return ridgeFromMoments(centredMoments(X, y, w), alpha);
}

/** Prediction for every row of X. */
export function ridgePredict(model: RidgeModel, X: Design): Float64Array {
  const out = new Float64Array(X.n);
  for (let i = 0; i < X.n; i++) {
    let s = model.intercept;
    for (let j = 0; j < X.p; j++) s += X.data[i * X.p + j] * model.coef[j];
    out[i] = s;
  }
  return out;
}

/** sklearn r2_score(y, yhat, sample_weight=w) with force_finite (constant y: 1 if exact, else 0). */
export function weightedR2(y: ArrayLike<number>, yhat: ArrayLike<number>, w: ArrayLike<number>): number {
  let sw = 0, sy = 0;
  for (let i = 0; i < y.length; i++) {
    sw += w[i];
    sy += w[i] * y[i];
  }
  const ym = sy / sw;
  let num = 0, den = 0;
  for (let i = 0; i < y.length; i++) {
    const r = y[i] - yhat[i], d = y[i] - ym;
    num += w[i] * r * r;
    den += w[i] * d * d;
  }
  if (den === 0) return num === 0 ? 1 : 0;
  return 1 - num / den;
}

/** Ridge.score(X, y, sample_weight=w): weighted R² of the model's predictions. */
export function ridgeScore(model: RidgeModel, X: Design, y: ArrayLike<number>, w: ArrayLike<number>): number {
  return weightedR2(y, ridgePredict(model, X), w);
}
