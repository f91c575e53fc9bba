// ONNX graph utilities on onnx-proto: parsing with clear errors, input/output discovery, tap rewrites (extra graph
// outputs) and head extraction (the subgraph from one tensor to the logits).
import onnxProto from 'onnx-proto';
import { ConfigError } from '../../engine/errors.ts';
import { encodeModel, valueInfo, type Dim, type OnnxModelProto, type OnnxNodeProto, type OnnxValueInfoProto } from './builder.ts';

const { onnx } = onnxProto;

/** Decodes an ONNX file; anything that is not a model with a graph → ConfigError naming the file. */
export function parseOnnx(bytes: Uint8Array, file: string): OnnxModelProto {
  let m: OnnxModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ConfigError(`${file} is not a valid ONNX model (corrupt protobuf: ${(e as Error).message})`);
  }
  const g = m.graph;
  if (!g || !g.node || g.node.length === 0 || !g.output || g.output.length === 0) {
    throw new ConfigError(`${file} is not a valid ONNX model (corrupt protobuf: no graph nodes or outputs)`);
  }
  return m;
}

export function initializerNames(m: OnnxModelProto): Set<string> {
  return new Set((m.graph?.initializer ?? []).map((t) => t.name ?? ''));
}

/** Graph inputs that are not initializers (the real inputs). */
export function realInputs(m: OnnxModelProto): OnnxValueInfoProto[] {
  const inits = initializerNames(m);
  return (m.graph?.input ?? []).filter((i) => !inits.has(i.name ?? ''));
}

/** Dims of a value info: numbers for fixed dims, strings for symbolic ones. */
export function dimsOf(v: OnnxValueInfoProto): Dim[] | undefined {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : (d.dimParam ?? null)));
}

/** Float parameter count (initializers of float type). */
export function parameterCount(m: OnnxModelProto): number {
  let n = 0;
  for (const t of m.graph?.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT && t.dataType !== onnx.TensorProto.DataType.FLOAT16 && t.dataType !== onnx.TensorProto.DataType.DOUBLE) continue;
    if (!t.dims || t.dims.length === 0) continue; // scalars (Clip bounds, constants) are not parameters
    n += t.dims.reduce<number>((a, d) => a * Number(d), 1);
  }
  return n;
}

/** The same model with `outputs` as its graph outputs (untyped value infos; ORT infers their types). */
export function withOutputs(m: OnnxModelProto, outputs: string[]): Uint8Array {
  const known = new Map((m.graph?.output ?? []).map((o) => [o.name ?? '', o]));
  const out = outputs.map((n) => known.get(n) ?? { name: n });
  return encodeModel({ ...m, graph: { ...m.graph, output: out } });
}

/** Producer node of every tensor. */
export function producers(m: OnnxModelProto): Map<string, OnnxNodeProto> {
  const p = new Map<string, OnnxNodeProto>();
  for (const n of m.graph?.node ?? []) for (const o of n.output ?? []) if (o) p.set(o, n);
  return p;
}

/**
 * The head of the network: the subgraph computing `to` from tensor `from` (batch-symbolic input with `shape`,
 * batch dim excluded). Throws when `to` also depends on another graph input (`from` does not cut the graph, e.g. a
 * tensor inside a residual block whose shortcut bypasses it).
 */
export function headModel(m: OnnxModelProto, from: string, to: string, shape: number[]): OnnxModelProto {
  const prod = producers(m);
  const inits = initializerNames(m);
  const inputs = new Set(realInputs(m).map((i) => i.name ?? ''));
  const keep = new Set<OnnxNodeProto>();
  const usedInits = new Set<string>();
  const stack = [to];
  const seen = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    if (!t || seen.has(t)) continue;
    seen.add(t);
    if (t === from) continue;
    if (inits.has(t)) {
      usedInits.add(t);
      continue;
    }
    if (inputs.has(t)) throw new Error(`layer '${from}' does not cut the graph: the output also depends on input '${t}' by another path (e.g. a residual shortcut); pick a block output`);
    const n = prod.get(t);
    if (!n) throw new Error(`tensor '${t}' has no producer in the graph`);
    if (keep.has(n)) continue;
    keep.add(n);
    for (const i of n.input ?? []) if (i) stack.push(i);
  }
  if (!seen.has(from)) throw new Error(`the output '${to}' does not depend on layer '${from}'`);
  const g = m.graph!;
  return {
    ...m,
    graph: {
      name: `${g.name ?? 'graph'}_head`,
      node: (g.node ?? []).filter((n) => keep.has(n)),
      initializer: (g.initializer ?? []).filter((t) => usedInits.has(t.name ?? '')),
      input: [valueInfo(from, ['N', ...shape])],
      output: (g.output ?? []).filter((o) => o.name === to).concat((g.output ?? []).some((o) => o.name === to) ? [] : [{ name: to }]),
      valueInfo: [],
    },
  };
}
