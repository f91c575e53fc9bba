// Ablation-CAM weights, per pytorch-grad-cam 1.5.5 ablation_cam.py / ablation_layer.py:
// w_k = (y_c − y_c^k) / y_c, where y_c^k is the target logit with channel k of the target layer ablated, computed by
// the head of the network (`forwardFrom`) on copies of the cached activations, `batchSize` (32) copies per call, one
// image at a time (the library's batching). The number of head forwards is exactly ceil(C / batchSize) per image, and
// C rows in all; the unablated scores are taken from the caller (the forward that produced the activations) when given.
//
// Ablation value (`ablation` option):
//   'library' (default) — what AblationLayer.__call__ does: if the image's activation minimum is 0 the channel is set to
//       0; otherwise row i of a batch is set to min − (i+1)·1e7, because the library recomputes torch.min(output) after
//       each in-place row ablation (the "min − 1e7" rule compounds down the batch). Reproduced exactly, in float32.
//   'min-1e7'  — the rule as the library's comment states it: min − 1e7 for every row (0 when the minimum is 0).
//   'zero'     — the paper's rule: the channel is set to 0.
//   number     — a fixed value.
import type { Tensor } from '../../model/types.ts';
import { dims4 } from './dims.ts';
import { targetValue, type TargetKind } from './targets.ts';

export type AblationValue = 'library' | 'min-1e7' | 'zero' | number;

export interface AblationCamArgs {
  /** Target-layer activations, NCHW. */
  activations: Tensor;
  /** Target class per image (length N). */
  targets: ArrayLike<number>;
  /** Logits of the head for a batch of activations [B, C, H, W] → [B, classes]. */
  forwardFrom: (acts: Tensor) => Promise<Tensor>;
  /**
   * Unablated target scores y_c per image (length N), usually the logits of the forward that produced the activations.
   * When omitted, one extra forwardFrom of the unablated activations computes them.
   */
  scores?: ArrayLike<number>;
  /** Ablated copies per forwardFrom call (library default 32). */
  batchSize?: number;
  ablation?: AblationValue;
  /** Target score of the outputs (default the raw logit). */
  target?: TargetKind;
}

export interface AblationCamResult {
  /** Weights [N·C], float32, (y_c − y_c^k) / y_c. */
  weights: Float32Array;
  /** Ablated scores y_c^k [N·C]. */
  ablatedScores: Float32Array;
  /** y_c per image. */
  scores: Float32Array;
  /** forwardFrom calls made (for cost accounting). */
  forwards: number;
}

/** Ablation-CAM channel weights (see the module comment). Apply weightedSum + postprocessCam afterwards. */
export async function ablationCamWeights(args: AblationCamArgs): Promise<AblationCamResult> {
  const { activations, targets, forwardFrom } = args;
  const batchSize = args.batchSize ?? 32;
  const mode = args.ablation ?? 'library';
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new RangeError(`ablation-cam: batchSize must be a positive integer, got ${batchSize}`);
  const { n, c, h, w } = dims4(activations, 'activations');
  if (targets.length !== n) throw new RangeError(`ablation-cam: ${targets.length} targets for ${n} images`);
  const hw = h * w;
  const chw = c * hw;
  let forwards = 0;

  const scores = new Float32Array(n);
  if (args.scores) {
    if (args.scores.length !== n) throw new RangeError(`ablation-cam: ${args.scores.length} scores for ${n} images`);
    for (let b = 0; b < n; b++) scores[b] = args.scores[b];
  } else {
    const logits = await forwardFrom(activations);
    forwards++;
    for (let b = 0; b < n; b++) scores[b] = targetValue(logits, b, targets[b], args.target, 'ablation-cam forwardFrom');
  }

  const ablated = new Float32Array(n * c);
  const batch = new Float32Array(Math.min(batchSize, c) * chw);
  for (let b = 0; b < n; b++) {
    const src = activations.data.subarray(b * chw, (b + 1) * chw);
    let mn = Infinity;
    for (let i = 0; i < chw; i++) if (src[i] < mn) mn = src[i];
    // Every row holds the image's activations; each batch ablates one channel per row and restores it afterwards
    // (copying only that channel, not the whole row, keeps the cost at the head forwards).
    const full = Math.min(batchSize, c);
    for (let r = 0; r < full; r++) batch.set(src, r * chw);
    for (let k0 = 0; k0 < c; k0 += batchSize) {
      const rows = Math.min(batchSize, c - k0);
      let libValue = mn; // running torch.min(output) of the library's in-place loop
      for (let r = 0; r < rows; r++) {
        const row = batch.subarray(r * chw, (r + 1) * chw);
        let value: number;
        if (typeof mode === 'number') value = mode;
        else if (mode === 'zero') value = 0;
        else if (mn === 0) value = 0;
        else if (mode === 'min-1e7') value = Math.fround(mn - 1e7);
        else if (mode === 'library') {
          libValue = Math.fround(libValue - 1e7);
          value = libValue;
        } else throw new RangeError(`ablation-cam: unknown ablation value '${String(mode)}' (expected library, min-1e7, zero or a number)`);
        row.fill(value, (k0 + r) * hw, (k0 + r + 1) * hw);
      }
      const logits = await forwardFrom({ data: batch.subarray(0, rows * chw), shape: [rows, c, h, w] });
      forwards++;
      if (logits.shape[0] !== rows) throw new RangeError(`ablation-cam: forwardFrom returned ${logits.shape[0]} rows for ${rows}`);
      for (let r = 0; r < rows; r++) ablated[b * c + k0 + r] = targetValue(logits, r, targets[b], args.target, 'ablation-cam forwardFrom');
      for (let r = 0; r < rows; r++) batch.set(src.subarray((k0 + r) * hw, (k0 + r + 1) * hw), r * chw + (k0 + r) * hw);
    }
  }
  const weights = new Float32Array(n * c);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) weights[b * c + k] = Math.fround(scores[b] - ablated[b * c + k]) / scores[b];
  }
  return { weights, ablatedScores: ablated, scores, forwards };
}
