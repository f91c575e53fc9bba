// CAM targets, as pytorch-grad-cam 1.5.5 utils/model_targets.py: ClassifierOutputTarget(c) scores an image by its raw
// model output c (the logit; the library's default with c = argmax), ClassifierOutputSoftmaxTarget(c) by
// softmax(output)[c]. On a model whose outputs are already probabilities, 'logit' is that output as is.
import type { Tensor } from '../../model/types.ts';

export type TargetKind = 'logit' | 'softmax';

/** Row-wise softmax of one [N, K] row (max-subtracted, float64). */
export function softmaxRow(outputs: ArrayLike<number>, row: number, k: number): Float64Array {
  let mx = -Infinity;
  for (let c = 0; c < k; c++) mx = Math.max(mx, outputs[row * k + c]);
  const out = new Float64Array(k);
  let s = 0;
  for (let c = 0; c < k; c++) s += out[c] = Math.exp(outputs[row * k + c] - mx);
  for (let c = 0; c < k; c++) out[c] /= s;
  return out;
}

/** The target score of row `row` of the outputs [B, K] for class `cls` (float32, as the library's torch tensors). */
export function targetValue(outputs: Tensor, row: number, cls: number, kind: TargetKind = 'logit', what = 'target'): number {
  if (outputs.shape.length !== 2) throw new RangeError(`${what}: expected outputs [B, classes], got [${outputs.shape.join(', ')}]`);
  const k = outputs.shape[1];
  if (!(Number.isInteger(cls) && cls >= 0 && cls < k)) throw new RangeError(`${what}: target class ${cls} outside 0..${k - 1}`);
  return kind === 'logit' ? outputs.data[row * k + cls] : Math.fround(softmaxRow(outputs.data, row, k)[cls]);
}

/**
 * Weights [N × K] for Model.gradients (whose target is Σ_n Σ_c w[n,c]·output[n,c]) that make the gradient the one of
 * each image's target score: one-hot for 'logit'; ∂softmax_c/∂z_j = p_c(δ_cj − p_j) for 'softmax' (exact, from the
 * outputs of a forward of the same batch).
 */
export function targetGradientWeights(targets: ArrayLike<number>, numClasses: number, kind: TargetKind = 'logit', outputs?: Tensor): Float32Array {
  const w = new Float32Array(targets.length * numClasses);
  for (let b = 0; b < targets.length; b++) {
    const t = targets[b];
    if (!(Number.isInteger(t) && t >= 0 && t < numClasses)) throw new RangeError(`target class ${t} of image ${b} outside 0..${numClasses - 1}`);
    if (kind === 'logit') {
      w[b * numClasses + t] = 1;
      continue;
    }
    if (!outputs) throw new RangeError('targetGradientWeights: the softmax target needs the outputs of the batch');
    const p = softmaxRow(outputs.data, b, numClasses);
    for (let j = 0; j < numClasses; j++) w[b * numClasses + j] = p[t] * ((j === t ? 1 : 0) - p[j]);
  }
  return w;
}

/** Default targets as pytorch-grad-cam: argmax of each logits row (the first maximum on ties, as np.argmax). */
export function argmaxTargets(logits: { data: Float32Array; shape: number[] }): number[] {
  return topKTargets(logits, 1).map((t) => t[0]);
}

/**
 * The k highest classes of each row, best first (ties → lower class index first, as a stable descending sort;
 * k = 1 is np.argmax).
 */
export function topKTargets(outputs: { data: Float32Array; shape: number[] }, k: number): number[][] {
  if (outputs.shape.length !== 2) throw new RangeError(`topKTargets: expected outputs [N, classes], got [${outputs.shape.join(', ')}]`);
  const [n, K] = outputs.shape;
  const kk = Math.min(k, K);
  const out: number[][] = [];
  for (let b = 0; b < n; b++) {
    const row = outputs.data.subarray(b * K, (b + 1) * K);
    const idx = Array.from({ length: K }, (_, i) => i).sort((x, y) => row[y] - row[x] || x - y);
    out.push(idx.slice(0, kk));
  }
  return out;
}

/** One-hot [N × classes] weights (the raw-logit target of each image). */
export function oneHotWeights(targets: ArrayLike<number>, numClasses: number): Float32Array {
  return targetGradientWeights(targets, numClasses, 'logit');
}
