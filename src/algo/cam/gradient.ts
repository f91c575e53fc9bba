// Gradient-based CAM methods, per pytorch-grad-cam 1.5.5 (grad_cam.py, grad_cam_plusplus.py, xgrad_cam.py,
// hirescam.py, layer_cam.py, base_cam.get_cam_image). Inputs are float32 NCHW activations A and gradients g of the
// target score (the class logit) w.r.t. A. Outputs are raw cams [N, H, W] (before ReLU / normalisation / resizing:
// see postprocess.ts). Sums are accumulated in float64 and stored as float32.
import type { Tensor } from '../../model/types.ts';
import { dims4, type Dims } from './dims.ts';

export function sameShape(a: Tensor, g: Tensor): Dims {
  const d = dims4(a, 'activations');
  dims4(g, 'gradients');
  if (a.shape.join(',') !== g.shape.join(',')) {
    throw new RangeError(`gradients shape [${g.shape}] ≠ activations shape [${a.shape}]`);
  }
  return d;
}

/** Grad-CAM weights [N·C]: w_k = mean over H, W of g_k. */
export function gradCamWeights(grads: Tensor): Float32Array {
  const { n, c, h, w } = dims4(grads, 'gradients');
  const hw = h * w;
  const out = new Float32Array(n * c);
  const g = grads.data;
  for (let nc = 0; nc < n * c; nc++) {
    let s = 0;
    const o = nc * hw;
    for (let i = 0; i < hw; i++) s += g[o + i];
    out[nc] = s / hw;
  }
  return out;
}

/**
 * Grad-CAM++ weights [N·C], as the library's eq. 19: α = g² / (2g² + (Σ_ij A)·g³ + 1e-6), α = 0 where g = 0,
 * w_k = Σ_ij α·ReLU(g). (The library multiplies g³ by the spatial *sum of activations*, with eps 1e-6.)
 */
export function gradCamPlusPlusWeights(acts: Tensor, grads: Tensor): Float32Array {
  const { n, c, h, w } = sameShape(acts, grads);
  const hw = h * w;
  const out = new Float32Array(n * c);
  const a = acts.data;
  const g = grads.data;
  for (let nc = 0; nc < n * c; nc++) {
    const o = nc * hw;
    let sumA = 0;
    for (let i = 0; i < hw; i++) sumA += a[o + i];
    let s = 0;
    for (let i = 0; i < hw; i++) {
      const gi = g[o + i];
      if (gi === 0) continue;
      const g2 = gi * gi;
      const alpha = g2 / (2 * g2 + sumA * g2 * gi + 1e-6);
      if (gi > 0) s += alpha * gi;
    }
    out[nc] = s;
  }
  return out;
}

/** XGrad-CAM weights [N·C]: w_k = Σ_ij g·A / (Σ_ij A + 1e-7). */
export function xGradCamWeights(acts: Tensor, grads: Tensor): Float32Array {
  const { n, c, h, w } = sameShape(acts, grads);
  const hw = h * w;
  const out = new Float32Array(n * c);
  const a = acts.data;
  const g = grads.data;
  for (let nc = 0; nc < n * c; nc++) {
    const o = nc * hw;
    let sumA = 0;
    let sumGA = 0;
    for (let i = 0; i < hw; i++) {
      sumA += a[o + i];
      sumGA += g[o + i] * a[o + i];
    }
    out[nc] = sumGA / (sumA + 1e-7);
  }
  return out;
}

/** Σ_k w_k A_k per image: weights [N·C] → cam [N·H·W] (base_cam.get_cam_image without eigen_smooth). */
export function weightedSum(acts: Tensor, weights: ArrayLike<number>): Float32Array {
  const { n, c, h, w } = dims4(acts, 'activations');
  if (weights.length !== n * c) throw new RangeError(`weights: expected ${n}×${c} values, got ${weights.length}`);
  const hw = h * w;
  const a = acts.data;
  const out = new Float32Array(n * hw);
  const acc = new Float64Array(hw);
  for (let b = 0; b < n; b++) {
    acc.fill(0);
    for (let k = 0; k < c; k++) {
      const wk = weights[b * c + k];
      if (wk === 0) continue;
      const o = (b * c + k) * hw;
      for (let i = 0; i < hw; i++) acc[i] += wk * a[o + i];
    }
    out.set(acc, b * hw);
  }
  return out;
}

/** Elementwise-weighted activations f(g)·A, kept per channel (NCHW): HiResCAM (f = identity), LayerCAM (f = ReLU). */
export function elementwise(acts: Tensor, grads: Tensor, relu: boolean): Tensor {
  sameShape(acts, grads);
  const a = acts.data;
  const g = grads.data;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (relu ? Math.max(g[i], 0) : g[i]) * a[i];
  return { data: out, shape: acts.shape.slice() };
}

/** Σ_k T_k per image: NCHW → [N·H·W]. */
export function channelSum(t: Tensor): Float32Array {
  const { n, c, h, w } = dims4(t);
  const hw = h * w;
  const out = new Float32Array(n * hw);
  const acc = new Float64Array(hw);
  for (let b = 0; b < n; b++) {
    acc.fill(0);
    for (let k = 0; k < c; k++) {
      const o = (b * c + k) * hw;
      for (let i = 0; i < hw; i++) acc[i] += t.data[o + i];
    }
    out.set(acc, b * hw);
  }
  return out;
}

/** Channel-wise weighted activations w_k·A_k as NCHW (what eigen_smooth projects). */
export function weightedActivations(acts: Tensor, weights: ArrayLike<number>): Tensor {
  const { n, c, h, w } = dims4(acts, 'activations');
  const hw = h * w;
  const out = new Float32Array(acts.data.length);
  for (let nc = 0; nc < n * c; nc++) {
    const wk = weights[nc];
    for (let i = 0; i < hw; i++) out[nc * hw + i] = wk * acts.data[nc * hw + i];
  }
  return { data: out, shape: acts.shape.slice() };
}
