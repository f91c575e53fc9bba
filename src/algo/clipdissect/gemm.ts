// Matrix products for CLIP-Dissect's similarity functions. The algorithms take a `Gemm` so that the stage can hand
// them onnxruntime's MatMul (src/explain/clipdissect/gemm.ts) while tests use the plain-JS one below.

/** C (m×n, row-major) = A (m×k) · B, where B is k×n, or n×k when `transB` (i.e. A·Bᵀ). */
export type Gemm = (a: Float32Array, b: Float32Array, m: number, k: number, n: number, transB: boolean) => Promise<Float32Array>;

/** Plain-JS product (float64 accumulation): exact enough for tests and small problems, slow for big ones. */
export const jsGemm: Gemm = async (a, b, m, k, n, transB) => {
  const out = new Float32Array(m * n);
  const bt = transB ? b : transpose(b, k, n);
  for (let i = 0; i < m; i++) {
    const ao = i * k;
    for (let j = 0; j < n; j++) {
      const bo = j * k;
      let s = 0;
      for (let t = 0; t < k; t++) s += a[ao + t] * bt[bo + t];
      out[i * n + j] = s;
    }
  }
  return out;
};

/** The transpose of a rows×cols row-major matrix. */
export function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

/** Rows `idx` of a row-major matrix with `cols` columns, gathered into a new matrix. */
export function gatherRows(x: Float32Array, cols: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * cols);
  for (let i = 0; i < idx.length; i++) out.set(x.subarray(idx[i] * cols, (idx[i] + 1) * cols), i * cols);
  return out;
}
