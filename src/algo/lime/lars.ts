// LARS / LARS-Lasso path as sklearn.linear_model.lars_path(X, y, method='lasso'|'lar', alpha_min=0, max_iter=500)
// with Gram=None semantics (no centring inside; lime centres and weights beforehand). Implemented on the Gram matrix
// XᵀX (mathematically the same iterates as sklearn's X-based branch): add the most correlated inactive variable
// (Cholesky append; pivots < 1e-7 mark a degenerate regressor, skipped as sklearn does), equiangular direction
// from L·Lᵀ·w = sign, step γ = min(g1, g2, C/AA) over inactive correlations (corr rounded to 15 decimals as
// sklearn), Lasso drop when an active coefficient would cross zero (γ = z_pos; the crossing coefficient is set to
// exactly 0, where sklearn keeps its ~1e-17 round-off), early stop when α = C/n ≤ α_min + eps(float32) (with
// sklearn's interpolation) or α increases (lasso).

const TINY32 = 1.1754943508222875e-38;
const EPS32 = 1.1920928955078125e-7;

export interface LarsPath {
  /** α at each node (C / n_samples), length steps+1. */
  alphas: number[];
  /** Coefficients at each node, length steps+1, each of length p. */
  coefs: Float64Array[];
  /** Active variables at the end of the path. */
  active: number[];
}

export interface LarsOptions {
  method?: 'lasso' | 'lar';
  maxIter?: number;
  alphaMin?: number;
  eps?: number;
}

function minPos(values: number[]): number {
  let m = Number.MAX_VALUE;
  for (const v of values) if (v > 0 && v < m) m = v;
  return m;
}
function round15(x: number): number {
  const s = x * 1e15;
  return Number.isFinite(s) ? roundHalfEven(s) / 1e15 : x;
}
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/** Lower-triangular Cholesky factor of the active Gram, rebuilt from scratch (k ≤ p small). */
function cholFactor(G: Float64Array, p: number, act: number[]): Float64Array | null {
  const k = act.length;
  const L = new Float64Array(k * k);
  for (let j = 0; j < k; j++) {
    let d = G[act[j] * p + act[j]];
    for (let t = 0; t < j; t++) d -= L[j * k + t] * L[j * k + t];
    const ljj = Math.max(Math.sqrt(Math.abs(d)), Number.EPSILON);
    L[j * k + j] = ljj;
    for (let i = j + 1; i < k; i++) {
      let s = G[act[i] * p + act[j]];
      for (let t = 0; t < j; t++) s -= L[i * k + t] * L[j * k + t];
      L[i * k + j] = s / ljj;
    }
  }
  return L;
}
function cholSolve(L: Float64Array, k: number, b: number[]): number[] {
  const y = new Array<number>(k);
  for (let i = 0; i < k; i++) {
    let s = b[i];
    for (let t = 0; t < i; t++) s -= L[i * k + t] * y[t];
    y[i] = s / L[i * k + i];
  }
  const x = new Array<number>(k);
  for (let i = k - 1; i >= 0; i--) {
    let s = y[i];
    for (let t = i + 1; t < k; t++) s -= L[t * k + i] * x[t];
    x[i] = s / L[i * k + i];
  }
  return x;
}

/**
 * @param X row-major n×p (already centred/weighted by the caller if wanted)
 * @param y length n
 */
export function larsPath(X: ArrayLike<number>, n: number, p: number, y: ArrayLike<number>, opts: LarsOptions = {}): LarsPath {
  const method = opts.method ?? 'lasso';
  const maxIter = opts.maxIter ?? 500;
  const alphaMin = opts.alphaMin ?? 0;
  const eps = opts.eps ?? Number.EPSILON;
  if (X.length !== n * p) throw new RangeError(`larsPath: X has ${X.length} values, expected ${n}·${p}`);
  // Gram and Xy
  const G = new Float64Array(p * p);
  const Xy = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const yi = y[i];
    for (let j = 0; j < p; j++) {
      const xij = X[i * p + j];
      if (xij === 0) continue;
      Xy[j] += xij * yi;
      for (let k = 0; k <= j; k++) G[j * p + k] += xij * X[i * p + k];
    }
  }
  for (let j = 0; j < p; j++) for (let k = 0; k < j; k++) G[k * p + j] = G[j * p + k];

  const Cov = Float64Array.from(Xy); // correlations, meaningful for inactive variables
  const inactive: number[] = []; // order matters only for argmax ties (sklearn keeps a permuted list)
  for (let j = 0; j < p; j++) inactive.push(j);
  const active: number[] = [];
  const sign: number[] = [];
  const alphas: number[] = [];
  const coefs: Float64Array[] = [];
  let L: Float64Array | null = null;
  let drop = false;
  let nIter = 0;
  let coef = new Float64Array(p);
  let prevCoef = coef;
  let prevAlpha = 0;

  for (;;) {
    let Cidx = -1, C = 0, Cval = 0;
    for (const j of inactive) {
      const a = Math.abs(Cov[j]);
      if (Cidx < 0 || a > C) {
        Cidx = j;
        C = a;
        Cval = Cov[j];
      }
    }
    let alpha = C / n;
    if (alpha <= alphaMin + EPS32) {
      if (Math.abs(alpha - alphaMin) > EPS32) {
        if (nIter > 0) {
          const ss = (prevAlpha - alphaMin) / (prevAlpha - alpha);
          const c = new Float64Array(p);
          for (let j = 0; j < p; j++) c[j] = prevCoef[j] + ss * (coef[j] - prevCoef[j]);
          coef = c;
          coefs[nIter] = c;
        }
        alpha = alphaMin;
      }
      alphas[nIter] = alpha;
      coefs[nIter] = coef;
      break;
    }
    alphas[nIter] = alpha;
    coefs[nIter] = coef;
    if (nIter >= maxIter || active.length >= p) break;
    if (!drop) {
      const trial = [...active, Cidx];
      const k = trial.length;
      const Lt = cholFactor(G, p, trial)!;
      const diag = Lt[(k - 1) * k + (k - 1)];
      if (diag < 1e-7) {
        // degenerate regressor: sklearn zeroes its correlation and retries (it stays out of the active set)
        Cov[Cidx] = 0;
        continue;
      }
      active.push(Cidx);
      sign.push(Math.sign(Cval));
      inactive.splice(inactive.indexOf(Cidx), 1);
      L = Lt;
    }
    if (method === 'lasso' && nIter > 0 && prevAlpha < alpha) break;
    const k = active.length;
    let ls = cholSolve(L!, k, sign);
    let AA: number;
    if (k === 1 && ls[0] === 0) {
      ls = [1];
      AA = 1;
    } else {
      let s = 0;
      for (let i = 0; i < k; i++) s += ls[i] * sign[i];
      AA = 1 / Math.sqrt(s);
      if (!Number.isFinite(AA)) AA = 1 / Math.sqrt(Math.max(s, eps));
      for (let i = 0; i < k; i++) ls[i] *= AA;
    }
    const ced: number[] = [];
    const covIn: number[] = [];
    for (const j of inactive) {
      let s = 0;
      for (let i = 0; i < k; i++) s += G[j * p + active[i]] * ls[i];
      ced.push(round15(s));
      covIn.push(Cov[j]);
    }
    const g1 = minPos(covIn.map((c, i) => (C - c) / (AA - ced[i] + TINY32)));
    const g2 = minPos(covIn.map((c, i) => (C + c) / (AA + ced[i] + TINY32)));
    let gamma = Math.min(g1, g2, C / AA);
    drop = false;
    const z = active.map((j, i) => -coef[j] / (ls[i] + TINY32));
    const zPos = minPos(z);
    let dropIdx: number[] = [];
    if (zPos < gamma) {
      dropIdx = z.map((v, i) => (v === zPos ? i : -1)).filter((i) => i >= 0).reverse();
      for (const i of dropIdx) sign[i] = -sign[i];
      if (method === 'lasso') gamma = zPos;
      drop = true;
    }
    nIter++;
    prevCoef = coef;
    prevAlpha = alpha;
    coef = new Float64Array(p);
    for (let i = 0; i < k; i++) coef[active[i]] = prevCoef[active[i]] + gamma * ls[i];
    inactive.forEach((j, i) => (Cov[j] -= gamma * ced[i]));
    if (drop && method === 'lasso') {
      for (const i of dropIdx) {
        const j = active[i];
        coef[j] = 0; // exact zero at the crossing
        active.splice(i, 1);
        sign.splice(i, 1);
        // recompute its correlation with the residual: Xy_j − G_j·coef
        let c = Xy[j];
        for (let t = 0; t < p; t++) c -= G[j * p + t] * coef[t];
        Cov[j] = c;
        inactive.unshift(j);
      }
      L = active.length ? cholFactor(G, p, active) : null;
    }
  }
  return { alphas: alphas.slice(0, nIter + 1), coefs: coefs.slice(0, nIter + 1), active: [...active] };
}
