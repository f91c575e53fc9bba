// Small dense linear algebra on row-major Float64Arrays (p×p systems, p = number of superpixels ≲ a few hundred).

/**
 * In-place Cholesky A = L·Lᵀ of a symmetric p×p matrix (lower triangle written, upper untouched).
 * Returns false when a pivot is not strictly positive (LAPACK potrf's failure condition), or ≤ relTol·A_jj.
 */
export function cholesky(A: Float64Array, p: number, relTol = 0): boolean {
  for (let j = 0; j < p; j++) {
    const ajj = A[j * p + j];
    let d = ajj;
    for (let k = 0; k < j; k++) d -= A[j * p + k] * A[j * p + k];
    if (!(d > relTol * Math.abs(ajj))) return false;
    const ljj = Math.sqrt(d);
    A[j * p + j] = ljj;
    for (let i = j + 1; i < p; i++) {
      let s = A[i * p + j];
      for (let k = 0; k < j; k++) s -= A[i * p + k] * A[j * p + k];
      A[i * p + j] = s / ljj;
    }
  }
  return true;
}

/** Solve L·Lᵀ x = b given the Cholesky factor (lower triangle of L). */
export function choleskySolve(L: Float64Array, p: number, b: Float64Array): Float64Array {
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * p + k] * y[k];
    y[i] = s / L[i * p + i];
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < p; k++) s -= L[k * p + i] * x[k];
    x[i] = s / L[i * p + i];
  }
  return x;
}

/** Inverse of an SPD matrix from its Cholesky factor. */
export function choleskyInverse(L: Float64Array, p: number): Float64Array {
  const inv = new Float64Array(p * p);
  const e = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    e.fill(0);
    e[j] = 1;
    const col = choleskySolve(L, p, e);
    for (let i = 0; i < p; i++) inv[i * p + j] = col[i];
  }
  return inv;
}

/** Symmetric eigendecomposition by cyclic Jacobi: returns eigenvalues and eigenvectors (columns of V, row-major). */
export function symmetricEigen(A: Float64Array, p: number): { values: Float64Array; vectors: Float64Array } {
  const a = A.slice();
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += a[i * p + j] * a[i * p + j];
    if (off < 1e-30) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j];
        if (Math.abs(aij) < 1e-300) continue;
        const theta = (a[j * p + j] - a[i * p + i]) / (2 * aij);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < p; k++) {
          const aki = a[k * p + i], akj = a[k * p + j];
          a[k * p + i] = c * aki - s * akj;
          a[k * p + j] = s * aki + c * akj;
        }
        for (let k = 0; k < p; k++) {
          const aik = a[i * p + k], ajk = a[j * p + k];
          a[i * p + k] = c * aik - s * ajk;
          a[j * p + k] = s * aik + c * ajk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i], vkj = v[k * p + j];
          v[k * p + i] = c * vki - s * vkj;
          v[k * p + j] = s * vki + c * vkj;
        }
      }
    }
  }
  const values = new Float64Array(p);
  for (let i = 0; i < p; i++) values[i] = a[i * p + i];
  return { values, vectors: v };
}

/**
 * Solve the normal equations (G + αI)·β = b. Cholesky first (sklearn Ridge's 'cholesky' solver); if the matrix is
 * numerically positive definite (a pivot ≤ 1e-13 × its diagonal: α = 0 with collinear columns, where sklearn's
 * result depends on round-off) fall back to the minimum-norm solution, as
 * sklearn falls back to its SVD solver (singular values ≤ 1e-15 dropped; here eigenvalues ≤ max(1e-30, 1e-13·λmax),
 * relative because Jacobi leaves ~1e-16·λmax round-off on null directions).
 */
export function solveNormal(G: Float64Array, p: number, b: Float64Array, alpha: number): Float64Array {
  const A = G.slice();
  for (let i = 0; i < p; i++) A[i * p + i] += alpha;
  const L = A.slice();
  if (cholesky(L, p, 1e-13)) return choleskySolve(L, p, b);
  const { values, vectors } = symmetricEigen(A, p);
  let lmax = 0;
  for (const l of values) lmax = Math.max(lmax, Math.abs(l));
  const tol = Math.max(1e-30, 1e-13 * lmax);
  const beta = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    if (!(values[k] > tol)) continue;
    let proj = 0;
    for (let i = 0; i < p; i++) proj += vectors[i * p + k] * b[i];
    proj /= values[k];
    for (let i = 0; i < p; i++) beta[i] += proj * vectors[i * p + k];
  }
  return beta;
}
