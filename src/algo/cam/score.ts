// Score-CAM weights, per pytorch-grad-cam 1.5.5 score_cam.py: each activation channel is upsampled to the input size
// with torch.nn.UpsamplingBilinear2d (align_corners=True), normalised per channel (A − min) / (max − min + 1e-8),
// multiplied into the (normalised) input image, and forwarded in batches of 16 copies of one image; the target logits
// of the C copies → softmax over the channel axis = the weights. Exactly ceil(C / batchSize) forwards per image.
import type { Tensor } from '../../model/types.ts';
import { getResizer } from '../resize.ts';
import { dims4 } from './dims.ts';
import { targetValue, type TargetKind } from './targets.ts';

export interface ScoreCamArgs {
  /** The model input batch [N, 3, H, W], already normalised as the model expects. */
  input: Tensor;
  /** Target-layer activations [N, C, h, w]. */
  activations: Tensor;
  /** Target class per image. */
  targets: ArrayLike<number>;
  /** Logits of the whole model for an input batch [B, 3, H, W] → [B, classes]. */
  forward: (batch: Tensor) => Promise<Tensor>;
  /** Masked copies per forward (library default 16). */
  batchSize?: number;
  /** Target score of the outputs (default the raw logit). */
  target?: TargetKind;
}

export interface ScoreCamResult {
  /** Weights [N·C] (softmax over channels of the masked-input target logits). */
  weights: Float32Array;
  /** Target logits of the masked inputs [N·C]. */
  maskedScores: Float32Array;
  /** forward calls made. */
  forwards: number;
}

/** Score-CAM channel weights (see the module comment). Apply weightedSum + postprocessCam afterwards. */
export async function scoreCamWeights(args: ScoreCamArgs): Promise<ScoreCamResult> {
  const { input, activations, targets, forward } = args;
  const batchSize = args.batchSize ?? 16;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new RangeError(`score-cam: batchSize must be a positive integer, got ${batchSize}`);
  const { n, c, h, w } = dims4(activations, 'activations');
  const di = dims4(input, 'input');
  if (di.n !== n) throw new RangeError(`score-cam: input batch ${di.n} ≠ activations batch ${n}`);
  if (targets.length !== n) throw new RangeError(`score-cam: ${targets.length} targets for ${n} images`);
  const H = di.h;
  const W = di.w;
  const HW = H * W;
  const chwIn = di.c * HW;
  const resizer = getResizer(h, w, H, W, 'align-corners');
  const up = new Float32Array(HW);
  const batch = new Float32Array(Math.min(batchSize, c) * chwIn);
  const masked = new Float32Array(n * c);
  let forwards = 0;
  for (let b = 0; b < n; b++) {
    const img = input.data.subarray(b * chwIn, (b + 1) * chwIn);
    for (let k0 = 0; k0 < c; k0 += batchSize) {
      const rows = Math.min(batchSize, c - k0);
      for (let r = 0; r < rows; r++) {
        resizer.plane(activations.data, ((b * c) + k0 + r) * h * w, up, 0);
        let mn = Infinity;
        let mx = -Infinity;
        for (let i = 0; i < HW; i++) {
          if (up[i] < mn) mn = up[i];
          if (up[i] > mx) mx = up[i];
        }
        const den = Math.fround(Math.fround(mx - mn) + 1e-8);
        for (let i = 0; i < HW; i++) up[i] = Math.fround(up[i] - mn) / den;
        const o = r * chwIn;
        for (let ch = 0; ch < di.c; ch++) {
          const oc = ch * HW;
          for (let i = 0; i < HW; i++) batch[o + oc + i] = img[oc + i] * up[i];
        }
      }
      const logits = await forward({ data: batch.subarray(0, rows * chwIn), shape: [rows, di.c, H, W] });
      forwards++;
      if (logits.shape.length !== 2 || logits.shape[0] !== rows) {
        throw new RangeError(`score-cam: forward returned shape [${logits.shape.join(', ')}] for ${rows} inputs`);
      }
      for (let r = 0; r < rows; r++) masked[b * c + k0 + r] = targetValue(logits, r, targets[b], args.target, 'score-cam');
    }
  }
  const weights = new Float32Array(n * c);
  for (let b = 0; b < n; b++) {
    let mx = -Infinity;
    for (let k = 0; k < c; k++) mx = Math.max(mx, masked[b * c + k]);
    let s = 0;
    for (let k = 0; k < c; k++) s += Math.exp(masked[b * c + k] - mx);
    for (let k = 0; k < c; k++) weights[b * c + k] = Math.exp(masked[b * c + k] - mx) / s;
  }
  return { weights, maskedScores: masked, forwards };
}
