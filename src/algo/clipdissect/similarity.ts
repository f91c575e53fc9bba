// CLIP-Dissect's similarity functions (Oikarinen & Weng 2023; Trustworthy-ML-Lab/CLIP-dissect similarity.py) with
// its defaults, over typed arrays. Inputs:
// - `clip`: probe-image and concept embeddings, both L2-normalised per row (utils.get_similarity_from_activations),
//   so clip_feats[i, c] = image[i] · text[c] (images × concepts) — never materialised whole: rows are produced in
//   chunks through a `Gemm`;
// - `target`: each unit's activation pooled per probe image, unit-major (units × images, `target[u·N + i]`), i.e.
//   the transpose of the reference's target_feats.
// Output: scores units × concepts (row-major); the description of a unit is its argmax concept (bestConcepts).
// Conventions where the reference leaves a choice: top-k ties keep the lower image index first; rank_reorder's
// random baseline (5 random permutations) is replaced by its exact expectation, and ties in its argsort by the
// lower index (stable); sums are accumulated in float64.
import { gatherRows, transpose, type Gemm } from './gemm.ts';

export interface ClipEmbeddings {
  /** nImages × dim, rows L2-normalised. */
  image: Float32Array;
  /** nConcepts × dim, rows L2-normalised. */
  text: Float32Array;
  nImages: number;
  nConcepts: number;
  dim: number;
}

export interface TargetFeats {
  /** nUnits × nImages (unit-major). */
  acts: Float32Array;
  nUnits: number;
  nImages: number;
}

export interface Scores {
  /** nUnits × nConcepts. */
  scores: Float32Array;
  nUnits: number;
  nConcepts: number;
}

export const SIMILARITY_FNS = ['soft_wpmi', 'wpmi', 'rank_reorder', 'cos_similarity', 'cos_similarity_cubed'] as const;
export type SimilarityFn = (typeof SIMILARITY_FNS)[number];

export interface WpmiOptions {
  top_k?: number;
  a?: number;
  lam?: number;
  min_prob?: number;
}
export interface SoftWpmiOptions extends WpmiOptions {
  p_start?: number;
  p_end?: number;
}
export interface RankReorderOptions {
  p?: number;
  top_fraction?: number;
  scale_p?: number;
}
export interface CubedOptions {
  min_norm?: number;
}
export type SimilarityOptions = SoftWpmiOptions & RankReorderOptions & CubedOptions;

/** similarity.py's defaults per function. */
export const DEFAULTS = {
  soft_wpmi: { top_k: 100, a: 10, lam: 1, min_prob: 1e-7, p_start: 0.998, p_end: 0.97 },
  wpmi: { top_k: 28, a: 2, lam: 0.6, min_prob: 1e-7 },
  rank_reorder: { p: 3, top_fraction: 0.05, scale_p: 0.5 },
  cos_similarity: {},
  cos_similarity_cubed: { min_norm: 1e-3 },
} as const;

/** Images per Gemm call when producing clip_feats rows (chunk × concepts floats live at once). */
const CHUNK = 256;

function checkShapes(clip: ClipEmbeddings, target: TargetFeats): void {
  if (clip.nImages !== target.nImages) throw new Error(`CLIP-Dissect: ${clip.nImages} probe-image embeddings but activations for ${target.nImages} images`);
  if (clip.image.length !== clip.nImages * clip.dim || clip.text.length !== clip.nConcepts * clip.dim) throw new Error('CLIP-Dissect: embedding sizes do not match their shapes');
  if (target.acts.length !== target.nUnits * target.nImages) throw new Error('CLIP-Dissect: activation size does not match units × images');
}

/** L2-normalises each row in place (`x /= x.norm(dim=-1, keepdim=True)`); returns the index of a zero row, or -1. */
export function l2NormalizeRows(x: Float32Array, rows: number, cols: number): number {
  let zero = -1;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[r * cols + c] ** 2;
    const n = Math.sqrt(s);
    if (n === 0 && zero < 0) zero = r;
    for (let c = 0; c < cols; c++) x[r * cols + c] /= n;
  }
  return zero;
}

/**
 * Per unit, the indices of its `k` most activating images, descending (torch.topk(target_feats, dim=0, k));
 * equal activations keep the lower image index first. Returns nUnits × k.
 */
export function topKImages(target: TargetFeats, k: number): Int32Array {
  const { acts, nUnits: U, nImages: N } = target;
  if (!(k >= 1 && k <= N)) throw new Error(`CLIP-Dissect: top_k ${k} must be between 1 and the number of probe images (${N})`);
  const out = new Int32Array(U * k);
  const order = new Int32Array(N);
  for (let u = 0; u < U; u++) {
    const row = acts.subarray(u * N, (u + 1) * N);
    for (let i = 0; i < N; i++) order[i] = i;
    // a full sort is O(N log N) per unit: fine for N ≤ a few 10⁵ (512 units × 10⁴ images: ~0.5 s)
    const sorted = Array.from(order).sort((x, y) => row[y] - row[x] || x - y);
    for (let r = 0; r < k; r++) out[u * k + r] = sorted[r];
  }
  return out;
}

/**
 * clip_feats rows for `images`, in chunks: calls `fn(rows, from, count)` with rows = count × nConcepts similarities
 * image · concept for images[from .. from+count).
 */
async function forEachClipRows(clip: ClipEmbeddings, images: ArrayLike<number>, gemm: Gemm, fn: (rows: Float32Array, from: number, count: number) => void): Promise<void> {
  for (let from = 0; from < images.length; from += CHUNK) {
    const count = Math.min(CHUNK, images.length - from);
    const idx = Array.from({ length: count }, (_, j) => images[from + j]);
    const rows = await gemm(gatherRows(clip.image, clip.dim, idx), clip.text, count, clip.dim, clip.nConcepts, true);
    fn(rows, from, count);
  }
}

/** Row-wise softmax(a·x) in place (torch.nn.functional.softmax(a*clip_feats, dim=1)). */
function softmaxRows(x: Float32Array, rows: number, cols: number, a: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, a * x[o + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const e = Math.exp(a * x[o + c] - m);
      x[o + c] = e;
      s += e;
    }
    for (let c = 0; c < cols; c++) x[o + c] /= s;
  }
}

/**
 * The weighted pointwise mutual information family (wpmi and soft_wpmi): with P = softmax(a·clip_feats) over
 * concepts and unit u's top-k images i_0..i_{k-1},
 *   log p(d|e)[u, c] = Σ_r log(q_r + w_r · P[i_r, c]),
 * (soft_wpmi: w_r = p_r = p_start − (r/k)(p_start − p_end), q_r = 1 − p_r + min_prob; wpmi: w_r = 1, q_r = min_prob),
 *   log p(d)[c] = logsumexp_u log p(d|e)[u, c] − log(#units),   score = log p(d|e) − lam · log p(d).
 */
async function pmi(clip: ClipEmbeddings, target: TargetFeats, gemm: Gemm, k: number, a: number, lam: number, w: Float64Array, q: Float64Array): Promise<Scores> {
  checkShapes(clip, target);
  const U = target.nUnits, C = clip.nConcepts;
  const top = topKImages(target, k);
  // which (unit, rank) pairs each image serves, as CSR over the images that are in some unit's top-k
  const counts = new Int32Array(target.nImages + 1);
  for (let t = 0; t < top.length; t++) counts[top[t] + 1]++;
  for (let i = 0; i < target.nImages; i++) counts[i + 1] += counts[i];
  const pairs = new Int32Array(top.length);
  const fill = counts.slice(0, target.nImages);
  for (let t = 0; t < top.length; t++) pairs[fill[top[t]]++] = t; // t = u·k + r
  const images: number[] = [];
  for (let i = 0; i < target.nImages; i++) if (counts[i + 1] > counts[i]) images.push(i);

  const acc = new Float64Array(U * C);
  await forEachClipRows(clip, images, gemm, (rows, from, count) => {
    softmaxRows(rows, count, C, a);
    for (let j = 0; j < count; j++) {
      const img = images[from + j];
      const P = rows.subarray(j * C, (j + 1) * C);
      for (let e = counts[img]; e < counts[img + 1]; e++) {
        const t = pairs[e];
        const u = (t / k) | 0, r = t - u * k;
        const wr = w[r], qr = q[r];
        const o = u * C;
        for (let c = 0; c < C; c++) acc[o + c] += Math.log(qr + wr * P[c]);
      }
    }
  });
  const scores = new Float32Array(U * C);
  const logU = Math.log(U);
  for (let c = 0; c < C; c++) {
    let m = -Infinity;
    for (let u = 0; u < U; u++) m = Math.max(m, acc[u * C + c]);
    let s = 0;
    for (let u = 0; u < U; u++) s += Math.exp(acc[u * C + c] - m);
    const logPd = (m === -Infinity ? -Infinity : m + Math.log(s)) - logU;
    for (let u = 0; u < U; u++) scores[u * C + c] = acc[u * C + c] - lam * logPd;
  }
  return { scores, nUnits: U, nConcepts: C };
}

/** similarity.soft_wpmi (CLIP-Dissect's default). */
export function softWpmi(clip: ClipEmbeddings, target: TargetFeats, gemm: Gemm, o: SoftWpmiOptions = {}): Promise<Scores> {
  const d = { ...DEFAULTS.soft_wpmi, ...o };
  const w = new Float64Array(d.top_k), q = new Float64Array(d.top_k);
  for (let r = 0; r < d.top_k; r++) {
    // p_in_examples = p_start − arange(top_k)/top_k·(p_start − p_end); 1 + p(P − 1) + min_prob = (1 − p + min_prob) + p·P
    w[r] = d.p_start - (r / d.top_k) * (d.p_start - d.p_end);
    q[r] = 1 - w[r] + d.min_prob;
  }
  return pmi(clip, target, gemm, d.top_k, d.a, d.lam, w, q);
}

/** similarity.wpmi. */
export function wpmi(clip: ClipEmbeddings, target: TargetFeats, gemm: Gemm, o: WpmiOptions = {}): Promise<Scores> {
  const d = { ...DEFAULTS.wpmi, ...o };
  return pmi(clip, target, gemm, d.top_k, d.a, d.lam, new Float64Array(d.top_k).fill(1), new Float64Array(d.top_k).fill(d.min_prob));
}

/** Per unit, its images' activations centred (optional), cubed (optional) and divided by max(‖·‖, minNorm). */
function normalizedTargets(target: TargetFeats, cube: boolean, minNorm: number): Float32Array {
  const { acts, nUnits: U, nImages: N } = target;
  const out = new Float32Array(U * N);
  for (let u = 0; u < U; u++) {
    const row = acts.subarray(u * N, (u + 1) * N);
    let mean = 0;
    if (cube) {
      for (let i = 0; i < N; i++) mean += row[i];
      mean /= N;
    }
    let ss = 0;
    for (let i = 0; i < N; i++) {
      const v = cube ? (row[i] - mean) ** 3 : row[i];
      out[u * N + i] = v;
      ss += v * v;
    }
    const n = Math.max(Math.sqrt(ss), minNorm);
    for (let i = 0; i < N; i++) out[u * N + i] /= n;
  }
  return out;
}

/**
 * similarity.cos_similarity: columns of clip_feats (concepts over images) and of target_feats (units over images)
 * L2-normalised, then targetᵀ·clip. Computed without the images × concepts matrix: targetᵀ·clip = (targetᵀ·I)·Tᵀ and
 * ‖clip[:, c]‖² = t_cᵀ (IᵀI) t_c (same math, different float rounding).
 */
export async function cosSimilarity(clip: ClipEmbeddings, target: TargetFeats, gemm: Gemm): Promise<Scores> {
  checkShapes(clip, target);
  const { nImages: N, nConcepts: C, dim: D } = clip;
  const U = target.nUnits;
  const t = normalizedTargets(target, false, 0);
  const w = await gemm(t, clip.image, U, N, D, false); // U × D
  const scores = await gemm(w, clip.text, U, D, C, true); // U × C
  const gram = await gemm(transpose(clip.image, N, D), clip.image, D, N, D, false); // D × D
  const tg = await gemm(clip.text, gram, C, D, D, false); // C × D
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += tg[c * D + d] * clip.text[c * D + d];
    const n = Math.sqrt(Math.max(s, 0));
    for (let u = 0; u < U; u++) scores[u * C + c] /= n;
  }
  return { scores, nUnits: U, nConcepts: C };
}

/**
 * similarity.cos_similarity_cubed: each column of clip_feats and target_feats centred over images, cubed, divided
 * by max(‖column‖, min_norm), then targetᵀ·clip — accumulated over chunks of images.
 */
export async function cosSimilarityCubed(clip: ClipEmbeddings, target: TargetFeats, gemm: Gemm, o: CubedOptions = {}): Promise<Scores> {
  checkShapes(clip, target);
  const minNorm = o.min_norm ?? DEFAULTS.cos_similarity_cubed.min_norm;
  const { nImages: N, nConcepts: C, dim: D } = clip;
  const U = target.nUnits;
  const t = normalizedTargets(target, true, minNorm);
  // column means of clip_feats: mean_i (I_i · t_c) = (mean_i I_i) · t_c
  const meanImg = new Float64Array(D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) meanImg[d] += clip.image[i * D + d];
  const colMean = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += (meanImg[d] / N) * clip.text[c * D + d];
    colMean[c] = s;
  }
  const ss = new Float64Array(C);
  const acc = new Float64Array(U * C);
  const all = Array.from({ length: N }, (_, i) => i);
  const pending: Promise<void>[] = [];
  await forEachClipRows(clip, all, gemm, (rows, from, count) => {
    for (let j = 0; j < count; j++)
      for (let c = 0; c < C; c++) {
        const v = (rows[j * C + c] - colMean[c]) ** 3;
        rows[j * C + c] = v;
        ss[c] += v * v;
      }
    const tb = new Float32Array(U * count);
    for (let u = 0; u < U; u++) tb.set(t.subarray(u * N + from, u * N + from + count), u * count);
    pending.push(
      gemm(tb, rows, U, count, C, false).then((p) => {
        for (let x = 0; x < p.length; x++) acc[x] += p[x];
      }),
    );
  });
  await Promise.all(pending);
  const scores = new Float32Array(U * C);
  for (let c = 0; c < C; c++) {
    const n = Math.max(Math.sqrt(ss[c]), minNorm);
    for (let u = 0; u < U; u++) scores[u * C + c] = acc[u * C + c] / n;
  }
  return { scores, nUnits: U, nConcepts: C };
}

/**
 * similarity.rank_reorder: per unit, its top n = ⌊N·top_fraction⌋ images by activation (values v_0 ≥ … ≥ v_{n−1});
 * for each concept, the activations re-assigned in the order of the images' clip_feats (the image with the r-th
 * smallest clip value gets the r-th smallest activation); error = mean |v − reassigned|^p / baseline, divided by
 * (mean clip value over the n images)^scale_p; score = −error. baseline = mean |v_i − v_π(i)|^p over random
 * permutations π in the reference (5 of them); here its exact expectation (1/n²) Σ_i Σ_j |v_i − v_j|^p.
 * A negative mean clip value gives NaN, as in the reference (bestConcepts skips NaN).
 */
export async function rankReorder(clip: ClipEmbeddings, target: TargetFeats, gemm: Gemm, o: RankReorderOptions = {}): Promise<Scores> {
  checkShapes(clip, target);
  const d = { ...DEFAULTS.rank_reorder, ...o };
  const { nImages: N, nConcepts: C } = clip;
  const U = target.nUnits;
  const n = Math.trunc(N * d.top_fraction);
  const top = topKImages(target, n);
  const scores = new Float32Array(U * C);
  const vals = new Float64Array(n);
  const col = new Float64Array(n);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let u = 0; u < U; u++) {
    const idx = top.subarray(u * n, (u + 1) * n);
    for (let j = 0; j < n; j++) vals[j] = target.acts[u * N + idx[j]];
    let base = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) base += Math.abs(vals[i] - vals[j]) ** d.p;
    base /= n * n;
    const rows = await gemm(gatherRows(clip.image, clip.dim, idx), clip.text, n, clip.dim, C, true); // n × C
    for (let c = 0; c < C; c++) {
      let avg = 0;
      for (let j = 0; j < n; j++) {
        col[j] = rows[j * C + c];
        avg += col[j];
      }
      avg /= n;
      for (let j = 0; j < n; j++) order[j] = j;
      order.sort((x, y) => col[x] - col[y] || x - y);
      // order[r] = the image (position in the top list) with the r-th smallest clip value; it gets the r-th smallest
      // activation, vals[n − 1 − r]
      let err = 0;
      for (let r = 0; r < n; r++) err += Math.abs(vals[order[r]] - vals[n - 1 - r]) ** d.p;
      scores[u * C + c] = -(err / n / base / avg ** d.scale_p);
    }
  }
  return { scores, nUnits: U, nConcepts: C };
}

/** Runs the named similarity function with its defaults overridden by `opts`. */
export function similarity(fn: SimilarityFn, clip: ClipEmbeddings, target: TargetFeats, gemm: Gemm, opts: SimilarityOptions = {}): Promise<Scores> {
  switch (fn) {
    case 'soft_wpmi':
      return softWpmi(clip, target, gemm, opts);
    case 'wpmi':
      return wpmi(clip, target, gemm, opts);
    case 'rank_reorder':
      return rankReorder(clip, target, gemm, opts);
    case 'cos_similarity':
      return cosSimilarity(clip, target, gemm);
    case 'cos_similarity_cubed':
      return cosSimilarityCubed(clip, target, gemm, opts);
  }
}

/** The best concept per unit and its score (torch.max(similarities, dim=1)): the first maximum; NaN never wins. */
export function bestConcepts(s: Scores): { concept: Int32Array; score: Float32Array } {
  const concept = new Int32Array(s.nUnits).fill(-1);
  const score = new Float32Array(s.nUnits).fill(NaN);
  for (let u = 0; u < s.nUnits; u++) {
    let best = -Infinity, bi = -1;
    for (let c = 0; c < s.nConcepts; c++) {
      const v = s.scores[u * s.nConcepts + c];
      if (v > best) {
        best = v;
        bi = c;
      }
    }
    if (bi >= 0) {
      concept[u] = bi;
      score[u] = best;
    }
  }
  return { concept, score };
}
