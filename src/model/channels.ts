// Grey models: a model whose input has 1 channel takes the same RGB batches as any other (every image path of the
// project decodes to RGB, grey images with R = G = B). Convention: an RGB pixel becomes grey by the ITU-R 601-2 luma
// weights 0.299, 0.587, 0.114 (PIL's convert('L'), what torchvision's Grayscale applies). The weights sum to 1, so
// applying them to the normalised channels (x_c = (v_c·scale − mean)/std, one mean/std for the grey channel) equals
// normalising the grey value: the conversion happens at the model boundary, on [N, 3, H, W] batches. A grey image
// (R = G = B) passes unchanged. PIL rounds the grey value to 8 bits; this keeps it exact (differences < 0.5/255·scale).
import type { GradientResult, Model, ModelInfo, Tensor } from './types.ts';

export const LUMA = [0.299, 0.587, 0.114] as const;

/** [N, 3, H, W] → [N, 1, H, W] by the luma weights; a 1-channel batch is returned as it is. */
export function toGrey(batch: Tensor): Tensor {
  const [n, c, h, w] = batch.shape;
  if (c !== 3) return batch;
  const hw = h * w;
  const out = new Float32Array(n * hw);
  for (let b = 0; b < n; b++) {
    const s = b * 3 * hw;
    const o = b * hw;
    for (let i = 0; i < hw; i++) out[o + i] = LUMA[0] * batch.data[s + i] + LUMA[1] * batch.data[s + hw + i] + LUMA[2] * batch.data[s + 2 * hw + i];
  }
  return { data: out, shape: [n, 1, h, w] };
}

/** The gradient w.r.t. a grey input, spread back to the RGB batch it came from (d grey / d x_c = LUMA[c]). */
function spreadGradient(g: Tensor, rgb: Tensor): Tensor {
  if (rgb.shape[1] !== 3) return g;
  const [n, , h, w] = g.shape;
  const hw = h * w;
  const out = new Float32Array(n * 3 * hw);
  for (let b = 0; b < n; b++) for (let c = 0; c < 3; c++) for (let i = 0; i < hw; i++) out[(b * 3 + c) * hw + i] = LUMA[c] * g.data[b * hw + i];
  return { data: out, shape: [n, 3, h, w] };
}

function fixInput(r: GradientResult, layer: string, rgb: Tensor): GradientResult {
  if (layer !== 'input' || rgb.shape[1] !== 3) return r;
  return { ...r, activations: rgb, gradients: spreadGradient(r.gradients, rgb) };
}

/**
 * Wraps a 1-channel model so that it takes RGB batches (see the header): its info says `channels: 3` (what the
 * interface takes, so every consumer feeds RGB) and `modelChannels: 1`. 1-channel batches are still accepted.
 */
export function acceptRgb(inner: Model): Model {
  const info: ModelInfo = { ...inner.info, input: { ...inner.info.input, channels: 3, modelChannels: inner.info.input.channels } };
  const m: Model = {
    info,
    predict: (batch) => inner.predict(toGrey(batch)),
    activations: (batch, layers) => inner.activations(toGrey(batch), layers),
    gradients: async (batch, layer, weights) => fixInput(await inner.gradients(toGrey(batch), layer, weights), layer, batch),
    forwardFrom: (layer, acts) => inner.forwardFrom(layer, layer === 'input' ? toGrey(acts) : acts),
    batchSizeFor: (budget) => inner.batchSizeFor(budget),
    dispose: () => inner.dispose(),
  };
  if (inner.gradientsTop1) {
    const top1 = inner.gradientsTop1.bind(inner);
    m.gradientsTop1 = async (batch, layer) => {
      const r = await top1(toGrey(batch), layer);
      return { ...fixInput(r, layer, batch), targets: r.targets };
    };
  }
  return m;
}
