// Model-parameter randomisation of an ONNX model, in memory (the sanity check of Adebayo et al. 2018, "Sanity Checks
// for Saliency Maps": cascading randomisation from the logits down). The weighted layers are the Conv /
// ConvTranspose / Gemm / MatMul nodes whose weight is a float initializer, in reverse graph order (the ONNX node list
// is topologically sorted, so the last weighted node is the closest to the logits). Randomising a layer replaces its
// weight — and its bias, if it has one — by draws from N(0, σ²), σ the population standard deviation of that
// tensor's original values (a tensor of zeros stays zero). The decoded model is never changed: a copy of the proto
// with new initializers is encoded to bytes. BatchNormalization parameters are kept.
import type { OnnxModelProto, OnnxNodeProto, OnnxTensorProto } from './builder.ts';
import { DataType, encodeModel, tensorProto } from './builder.ts';
import { ConfigError } from '../../engine/errors.ts';

const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

export interface WeightedLayer {
  /** The node's name, or its first output's name when it has none. */
  name: string;
  opType: string;
  /** The initializers randomised with the layer: the weight, then the bias if any. */
  tensors: string[];
}

/** `v`'s replacement: draws from N(0, σ²), σ the population standard deviation of `v` (zeros stay zeros). */
export function redrawn(v: Float32Array, draw: () => number): Float32Array {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length || 1;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  const sd = Math.sqrt(ss / (v.length || 1));
  return Float32Array.from(v, () => sd * draw());
}

/** Float values of an initializer (float_data or little-endian raw_data). */
function floatValues(t: OnnxTensorProto, file: string): Float32Array {
  if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) throw new ConfigError(`${file}: initializer '${t.name}' keeps its data in an external file; the sanity check needs the weights inside the .onnx file`);
  if (t.rawData && t.rawData.length) {
    const raw = t.rawData;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  return Float32Array.from(t.floatData ?? []);
}

/** The weighted layers of a model, the one nearest the logits first. */
export function weightedLayers(m: OnnxModelProto): WeightedLayer[] {
  const inits = new Map((m.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const out: WeightedLayer[] = [];
  for (const n of (m.graph?.node ?? []) as OnnxNodeProto[]) {
    if (!WEIGHTED.has(n.opType ?? '')) continue;
    const inputs = (n.input ?? []).filter((x) => inits.get(x)?.dataType === DataType.FLOAT);
    // MatMul / Gemm: the initializer operand is the weight (either side); Conv: input 1 (weight) and 2 (bias).
    const tensors = n.opType === 'Conv' || n.opType === 'ConvTranspose' ? (n.input ?? []).slice(1).filter((x) => inputs.includes(x)) : inputs;
    if (tensors.length === 0) continue;
    out.push({ name: n.name || n.output?.[0] || `${n.opType}_${out.length}`, opType: n.opType!, tensors });
  }
  return out.reverse();
}

/**
 * The model's bytes with the given layers randomised (each tensor from `normal(layer name)`, a seeded N(0, 1) stream
 * per layer, so a layer gets the same values at every cascade step). `file` names the model in messages.
 */
export function randomisedModel(m: OnnxModelProto, layers: readonly WeightedLayer[], normal: (layer: string) => () => number, file: string): Uint8Array {
  const replace = new Map<string, OnnxTensorProto>();
  const inits = new Map((m.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const l of layers) {
    const draw = normal(l.name);
    for (const name of l.tensors) {
      const t = inits.get(name)!;
      replace.set(name, tensorProto(name, redrawn(floatValues(t, file), draw), (t.dims ?? []).map(Number)));
    }
  }
  const g = m.graph!;
  return encodeModel({ ...m, graph: { ...g, initializer: (g.initializer ?? []).map((t) => replace.get(t.name ?? '') ?? t) } });
}
