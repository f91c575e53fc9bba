// LIME stability across seeds (lime issues #67, #119, #231, …: explanations change from run to run): given K
// explanations of one image (K seeds), the mean pairwise Jaccard of their masks, the mean pairwise Kendall τ-b of the
// top-k segment weights, and the spread of the surrogate's R². Pure functions; no stage computes them yet.
import { maskIoU, summarize } from '../compare/index.ts';
import { kendallTauB } from './stats.ts';

/** Mean over the K(K−1)/2 pairs of maskIoU (two empty masks count 0, as maskIoU); NaN with fewer than 2 masks. */
export function meanPairwiseJaccard(masks: readonly ArrayLike<number>[]): number {
  let s = 0, n = 0;
  for (let i = 0; i < masks.length; i++) for (let j = i + 1; j < masks.length; j++) (s += maskIoU(masks[i], masks[j])), n++;
  return n ? s / n : NaN;
}

/** The k segments of largest |weight| (ties: lower segment id first). */
function topK(w: ReadonlyMap<number, number>, k: number): number[] {
  return [...w].sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]) || a[0] - b[0]).slice(0, k).map(([s]) => s);
}

/**
 * Kendall τ-b of two explanations' weights over the union of their top-k segments (a segment missing from one
 * explanation weighs 0 there); the mean over all pairs of explanations. NaN with fewer than 2.
 */
export function meanPairwiseTopKKendall(weights: readonly ReadonlyMap<number, number>[], k: number): number {
  let s = 0, n = 0;
  for (let i = 0; i < weights.length; i++) {
    for (let j = i + 1; j < weights.length; j++) {
      const segs = [...new Set([...topK(weights[i], k), ...topK(weights[j], k)])];
      const t = kendallTauB(segs.map((g) => weights[i].get(g) ?? 0), segs.map((g) => weights[j].get(g) ?? 0));
      if (!Number.isNaN(t)) (s += t), n++;
    }
  }
  return n ? s / n : NaN;
}

/** Spread of the surrogates' R² over the seeds: population std and range (max − min). */
export function r2Spread(r2: readonly number[]): { std: number; range: number } {
  const s = summarize(r2);
  return { std: s.std, range: s.max - s.min };
}
