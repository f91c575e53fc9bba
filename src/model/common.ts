// Helpers shared by the runtimes: softmax, layout transposes, batching, layer-name resolution.
import type { LayerInfo, ModelInfo, Tensor } from './types.ts';
import { ConfigError, didYouMean } from '../engine/errors.ts';

/** The class probabilities of a model's outputs: softmax of logits, or the outputs of a probabilities model as they are. */
export function outputProbabilities(outputs: Tensor, info: Pick<ModelInfo, 'output'>): Tensor {
  return info.output === 'probabilities' ? outputs : softmax(outputs);
}

/**
 * Whether outputs look like probabilities (load-model's probe): every value ≥ 0 and every row summing to 1 within
 * 1e-3 (float32 softmax sums are within ~1e-6·classes).
 */
export function looksLikeProbabilities(outputs: Tensor): boolean {
  const [n, k] = outputs.shape;
  if (outputs.shape.length !== 2 || n === 0) return false;
  for (let b = 0; b < n; b++) {
    let s = 0;
    for (let c = 0; c < k; c++) {
      const v = outputs.data[b * k + c];
      if (!(v >= 0)) return false;
      s += v;
    }
    if (!(Math.abs(s - 1) <= 1e-3)) return false;
  }
  return true;
}

/** Row-wise softmax of [N, C] logits (max-subtracted). */
export function softmax(logits: Tensor): Tensor {
  const [n, c] = logits.shape;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, logits.data[i * c + j]);
    let s = 0;
    for (let j = 0; j < c; j++) {
      const e = Math.exp(logits.data[i * c + j] - m);
      out[i * c + j] = e;
      s += e;
    }
    for (let j = 0; j < c; j++) out[i * c + j] /= s;
  }
  return { data: out, shape: [n, c] };
}

/** NCHW → NHWC. */
export function nchwToNhwc(data: Float32Array, shape: number[]): Float32Array {
  const [n, c, h, w] = shape;
  const out = new Float32Array(data.length);
  const hw = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * c * hw;
    for (let ch = 0; ch < c; ch++) {
      const src = base + ch * hw;
      for (let p = 0; p < hw; p++) out[base + p * c + ch] = data[src + p];
    }
  }
  return out;
}

/** NHWC → NCHW; `shape` is the NHWC shape. */
export function nhwcToNchw(data: Float32Array, shape: number[]): Float32Array {
  const [n, h, w, c] = shape;
  const out = new Float32Array(data.length);
  const hw = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * c * hw;
    for (let p = 0; p < hw; p++) {
      const src = base + p * c;
      for (let ch = 0; ch < c; ch++) out[base + ch * hw + p] = data[src + ch];
    }
  }
  return out;
}

/** Rows [start, start+count) of an [N, …] tensor (a view, no copy). */
export function sliceBatch(t: Tensor, start: number, count: number): Tensor {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return { data: t.data.subarray(start * per, (start + count) * per), shape: [count, ...t.shape.slice(1)] };
}

/** Concatenates [n_i, …] tensors along the batch axis. */
export function concatBatch(ts: Tensor[]): Tensor {
  if (ts.length === 1) return ts[0];
  const total = ts.reduce((a, t) => a + t.data.length, 0);
  const data = new Float32Array(total);
  let o = 0;
  for (const t of ts) {
    data.set(t.data, o);
    o += t.data.length;
  }
  return { data, shape: [ts.reduce((a, t) => a + t.shape[0], 0), ...ts[0].shape.slice(1)] };
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Largest batch for a memory budget: per image, the input plus the two widest layers (a producer and its consumer
 * live at once), × 1.5 for allocator slack; taps add their own sizes.
 */
export function batchSizeFromLayers(layers: LayerInfo[], inputElems: number, budgetBytes: number, extraElems = 0): number {
  const sizes = layers.map((l) => numel(l.shape)).sort((a, b) => b - a);
  const perImage = 4 * 1.5 * (inputElems + (sizes[0] ?? 0) + (sizes[1] ?? 0) + extraElems);
  return Math.max(1, Math.floor(budgetBytes / perImage));
}

/** Resolves layer names or aliases to tensor names; unknown → ConfigError naming the model and suggesting one. */
export function resolveLayer(name: string, aliases: Record<string, string>, known: Set<string>, modelId: string): string {
  if (Object.hasOwn(aliases, name)) return aliases[name];
  if (known.has(name)) return name;
  const s = didYouMean(name, [...Object.keys(aliases), ...known]);
  throw new ConfigError(`model '${modelId}' has no layer or alias '${name}'`, {
    suggestion: s ?? (Object.keys(aliases).length ? `aliases: ${Object.keys(aliases).join(', ')}` : 'see `xai inspect` for layer names'),
  });
}

/** Checks an NCHW batch against the model's input spec. */
export function checkBatch(batch: Tensor, c: number, h: number, w: number, modelId: string): void {
  const s = batch.shape;
  if (s.length !== 4 || s[1] !== c || s[2] !== h || s[3] !== w) {
    throw new Error(`model '${modelId}': expected an NCHW batch [N, ${c}, ${h}, ${w}], got [${s.join(', ')}]`);
  }
  if (batch.data.length !== numel(s)) throw new Error(`model '${modelId}': batch data length ${batch.data.length} does not match shape [${s.join(', ')}]`);
}

/** Class index of a class name among the model's labels: exact, case-insensitive, or an ImageNet-style label's first name / synset. */
export function classIndex(name: string, labels: readonly string[]): number | undefined {
  const exact = labels.indexOf(name);
  if (exact >= 0) return exact;
  const low = name.trim().toLowerCase();
  const forms = (l: string): string[] => {
    const s = l.trim().toLowerCase();
    const out = [s];
    const syn = /^(n\d{8})[\s,:_]+(.*)$/.exec(s);
    if (syn) out.push(syn[1], syn[2], syn[2].split(',')[0].trim());
    out.push(s.split(',')[0].trim(), s.replace(/_/g, ' '));
    return out;
  };
  for (let i = 0; i < labels.length; i++) if (forms(labels[i]).includes(low) || forms(labels[i]).includes(low.replace(/_/g, ' '))) return i;
  return undefined;
}
