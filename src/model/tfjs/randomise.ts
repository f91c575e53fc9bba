// Model-parameter randomisation of a TF.js model (the sanity check's cascade; the ONNX counterpart is
// src/model/onnx/randomise.ts, whose conventions this follows): the weighted layers nearest the logits first, each
// randomised tensor replaced by draws from N(0, σ²), σ the population standard deviation of its original values.
// - layers model: the Conv1D/Conv2D/Conv2DTranspose/DepthwiseConv2D/SeparableConv2D/Dense layers in the order of the
//   model config (Keras saves a functional model's layers in topological order); their tensors are the weights named
//   `<layer>/…` (kernel, bias, depthwise/pointwise kernels);
// - graph model: the Conv2D/DepthwiseConv2dNative/Conv2DBackpropInput/MatMul nodes (and their grappler-fused forms)
//   in topological order of the GraphDef; their tensors are their weight inputs and the bias of a BiasAdd/Add that
//   takes the node's output.
// The user's files are never written: the randomised model is written to a directory the caller names.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../engine/errors.ts';
import { redrawn, type WeightedLayer } from '../onnx/randomise.ts';

interface Spec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}
interface ModelJson {
  format?: string;
  modelTopology: { node?: GraphNode[]; config?: { layers?: KerasLayer[] }; model_config?: { config?: { layers?: KerasLayer[] } } };
  weightsManifest: { paths: string[]; weights: Spec[] }[];
  [k: string]: unknown;
}
interface GraphNode {
  name: string;
  op: string;
  input?: string[];
}
interface KerasLayer {
  name?: string;
  class_name: string;
  config?: { name?: string; layers?: KerasLayer[] };
}

const KERAS_WEIGHTED = new Set(['Conv1D', 'Conv2D', 'Conv2DTranspose', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense']);
const GRAPH_WEIGHTED = new Set(['Conv2D', 'DepthwiseConv2dNative', 'Conv2DBackpropInput', 'MatMul', '_FusedConv2D', 'FusedDepthwiseConv2dNative', '_FusedMatMul']);
const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** A TF.js model.json and its weights (the shards concatenated), with each weight's byte offset. */
export interface TfjsWeights {
  json: ModelJson;
  specs: Spec[];
  offsets: number[];
  data: Uint8Array;
}

/** Reads model.json and its shards; refuses quantised or string weights (their bytes cannot be rewritten in place). */
export function readTfjsWeights(modelJsonPath: string, file: string): TfjsWeights {
  const json = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as ModelJson;
  const specs: Spec[] = [];
  const parts: Buffer[] = [];
  for (const g of json.weightsManifest) {
    for (const p of g.paths) parts.push(readFileSync(join(dirname(modelJsonPath), p)));
    specs.push(...g.weights);
  }
  const offsets: number[] = [];
  let o = 0;
  for (const s of specs) {
    if (s.quantization) throw new ConfigError(`${file}: weight '${s.name}' is quantised; the sanity check needs float32 weights`);
    const b = BYTES[s.dtype];
    if (!b) throw new ConfigError(`${file}: weight '${s.name}' has dtype ${s.dtype}; the sanity check rewrites float32, int32 and bool weights only`);
    offsets.push(o);
    o += b * s.shape.reduce((a, x) => a * x, 1);
  }
  return { json, specs, offsets, data: new Uint8Array(Buffer.concat(parts)) };
}

/** The weighted layers of a TF.js model, the one nearest the logits first. */
export function tfjsWeightedLayers(w: TfjsWeights): WeightedLayer[] {
  const floats = new Set(w.specs.filter((s) => s.dtype === 'float32').map((s) => s.name));
  const top = w.json.modelTopology;
  const out: WeightedLayer[] = [];
  if (Array.isArray(top.node)) {
    const nodes = top.node;
    const base = (x: string) => x.replace(/^\^/, '').replace(/:\d+$/, '');
    // Kahn's algorithm over the inputs, ties in file order
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const users = new Map<string, string[]>();
    const deps = new Map<string, number>();
    for (const n of nodes) {
      const ins = (n.input ?? []).map(base).filter((x) => byName.has(x));
      deps.set(n.name, ins.length);
      for (const x of ins) users.set(x, [...(users.get(x) ?? []), n.name]);
    }
    const ready = nodes.filter((n) => deps.get(n.name) === 0).map((n) => n.name);
    const order: GraphNode[] = [];
    while (ready.length) {
      const name = ready.shift()!;
      order.push(byName.get(name)!);
      for (const u of users.get(name) ?? []) {
        deps.set(u, deps.get(u)! - 1);
        if (deps.get(u) === 0) ready.push(u);
      }
    }
    for (const n of order) {
      if (!GRAPH_WEIGHTED.has(n.op)) continue;
      const tensors = (n.input ?? []).map(base).filter((x) => floats.has(x));
      for (const u of users.get(n.name) ?? []) {
        const un = byName.get(u)!;
        if ((un.op === 'BiasAdd' || un.op === 'Add' || un.op === 'AddV2') && base(un.input?.[0] ?? '') === n.name) tensors.push(...(un.input ?? []).slice(1).map(base).filter((x) => floats.has(x)));
      }
      if (tensors.length) out.push({ name: n.name, opType: n.op, tensors });
    }
  } else {
    const layers = top.model_config?.config?.layers ?? top.config?.layers ?? [];
    for (const l of layers) {
      const name = l.config?.name ?? l.name;
      if (!name || !KERAS_WEIGHTED.has(l.class_name)) continue;
      const tensors = w.specs.filter((s) => floats.has(s.name) && (s.name.startsWith(`${name}/`) || s.name.includes(`/${name}/`))).map((s) => s.name);
      if (tensors.length) out.push({ name, opType: l.class_name, tensors });
    }
  }
  return out.reverse();
}

/**
 * Writes the model with `layers` randomised into `dir` (model.json + weights.bin; each tensor from `normal(layer
 * name)`, a seeded N(0, 1) stream per layer, as the ONNX cascade) and returns the model.json path.
 */
export function writeRandomisedTfjs(w: TfjsWeights, layers: readonly WeightedLayer[], normal: (layer: string) => () => number, dir: string): string {
  const data = w.data.slice();
  const at = new Map(w.specs.map((s, i) => [s.name, i]));
  for (const l of layers) {
    const draw = normal(l.name);
    for (const name of l.tensors) {
      const i = at.get(name)!;
      const n = w.specs[i].shape.reduce((a, x) => a * x, 1);
      const start = w.offsets[i];
      const v = new Float32Array(data.slice(start, start + 4 * n).buffer); // a copy: offsets after a bool weight are unaligned
      data.set(new Uint8Array(redrawn(v, draw).buffer), start);
    }
  }
  writeFileSync(join(dir, 'weights.bin'), data);
  const json = { ...w.json, weightsManifest: [{ paths: ['weights.bin'], weights: w.specs }] };
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(json));
  return path;
}
