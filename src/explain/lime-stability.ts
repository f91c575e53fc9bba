// The work of the `lime-stability` stage (stages/lime-stability.ts): LIME rerun K times per image with K sampling
// seeds and everything else as the lime stage ran it (its params, its segment maps), and how much the explanation
// moves (src/algo/evaluate/stability.ts): the mean pairwise Jaccard of the top label's masks, the mean pairwise
// Kendall τ-b of the top-k superpixel weights, and the spread of the surrogate's weighted R² (lime's `score`). Run k
// uses random_state + k (k = 0 is the lime stage's own run); the segmentation stays the lime stage's, so only the
// perturbation samples change (the variance S-LIME addresses).
import { Field, Float64, Int32, Schema, Utf8 } from 'apache-arrow';
import { summaryStatFields } from '../arrow/conventions.ts';
import { meanPairwiseJaccard, meanPairwiseTopKKendall, r2Spread } from '../algo/evaluate/stability.ts';
import { summarize, summaryColumns } from '../algo/compare/index.ts';
import { explainItem, type ItemContext, type LimeParams } from './lime.ts';
import type { Model } from '../model/types.ts';

export const STABILITY_METRICS = ['jaccard', 'kendall_topk', 'r2_std', 'r2_range', 'samples'] as const;

export const perImageSchema = new Schema([
  new Field('image', new Utf8(), false),
  new Field('index', new Int32(), false),
  new Field('label', new Int32(), false),
  new Field('seeds', new Int32(), false),
  new Field('jaccard', new Float64(), true),
  new Field('kendall_topk', new Float64(), true),
  new Field('r2_mean', new Float64(), true),
  new Field('r2_std', new Float64(), true),
  new Field('r2_range', new Float64(), true),
  new Field('samples', new Float64(), false),
]);

export const summarySchema = new Schema([new Field('metric', new Utf8(), false), ...summaryStatFields()]);

/** Reruns LIME on one image with `seeds` sampling seeds; one row (the top label of the first run). */
export async function stabilityOfImage(p: LimeParams, model: Model, it: ItemContext, seeds: number, topK: number): Promise<Record<string, unknown>> {
  const masks: Int8Array[] = [], weights: Map<number, number>[] = [], r2: number[] = [], samples: number[] = [];
  let label: number | null = null;
  for (let k = 0; k < seeds; k++) {
    const pk: LimeParams = { ...p, random_state: (p.random_state ?? 0) + k, overlay: { ...p.overlay, enabled: false } };
    const { rows } = await explainItem(pk, model, it, null);
    const row = (label === null ? rows.find((r) => r.rank === 0) : rows.find((r) => r.label === label)) ?? rows[0];
    label ??= row.label as number;
    masks.push(row.mask as Int8Array);
    const segs = row.local_exp_segments as number[], ws = row.local_exp_weights as number[];
    weights.push(new Map(segs.map((s, i) => [s, ws[i]])));
    r2.push(row.score as number);
    samples.push(row.samples as number);
  }
  const nn = (x: number) => (Number.isFinite(x) ? x : null);
  const spread = r2Spread(r2);
  return {
    image: it.id,
    index: it.index,
    label,
    seeds,
    jaccard: nn(meanPairwiseJaccard(masks)),
    kendall_topk: nn(meanPairwiseTopKKendall(weights, topK)),
    r2_mean: nn(summarize(r2).mean),
    r2_std: nn(spread.std),
    r2_range: nn(spread.range),
    samples: summarize(samples).mean,
  };
}

/** One row per metric over the images: n, mean, median, std, min, max (nulls left out). */
export function summaryRows(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return STABILITY_METRICS.map((metric) => ({ metric, ...summaryColumns(rows.map((r) => r[metric] as number | null).filter((x): x is number => x !== null)) }));
}
