// Small helpers over the ONNX protobuf (onnx-proto): decode, constants, attributes, value renaming.
import onnxProto from 'onnx-proto';
import { num as protoNum, readTensor } from '../onnx/backward/proto.ts';

const { onnx } = onnxProto;
export type OnnxModel = InstanceType<typeof onnx.ModelProto>;
export type OnnxNode = onnxProto.onnx.INodeProto;
export type OnnxTensor = onnxProto.onnx.ITensorProto;

export class OnnxConvertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxConvertError';
  }
}

/** An int64 field as a number (the backward generator's `num`), or an OnnxConvertError where it is not one. */
export function num(v: unknown): number {
  const n = protoNum(v);
  if (Number.isNaN(n)) throw new OnnxConvertError(`expected an integer, got ${String(v)}`);
  return n;
}

export function decodeOnnx(bytes: Uint8Array, file = 'model'): OnnxModel {
  let m: OnnxModel;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxConvertError(`${file}: not an ONNX model (${(e as Error).message})`);
  }
  if (!m.graph || !m.graph.node || m.graph.node.length === 0) throw new OnnxConvertError(`${file}: ONNX model has no graph nodes`);
  return m;
}

export function encodeOnnx(m: OnnxModel): Uint8Array {
  return onnx.ModelProto.encode(m).finish();
}

export interface ConstTensor {
  dims: number[];
  data: Float32Array;
}

/** Float32 (or int64 → float) data of a TensorProto. */
export function tensorData(t: OnnxTensor): ConstTensor {
  const dims = (t.dims ?? []).map(num);
  const size = dims.reduce((a, b) => a * b, 1);
  const F32 = onnx.TensorProto.DataType.FLOAT;
  const I64 = onnx.TensorProto.DataType.INT64;
  let data: Float32Array;
  if (t.dataType === F32 && t.rawData && t.rawData.length > 0) {
    // Copy: rawData may be an unaligned view into the file buffer. ONNX raw data is little-endian.
    const buf = new Uint8Array(t.rawData);
    data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  } else if (t.dataType === F32 || t.dataType === I64) {
    const given = t.dataType === F32 ? (t.floatData ?? []).length : t.rawData && t.rawData.length > 0 ? t.rawData.length / 8 : (t.int64Data ?? []).length;
    if (given !== size) throw new OnnxConvertError(`initializer ${t.name}: ${given} values for dims [${dims}]`);
    const v = readTensor(t); // the shared TensorProto reader (float_data, int64 raw or int64_data)
    if (!v) throw new OnnxConvertError(`initializer ${t.name}: unreadable ${t.dataType === F32 ? 'FLOAT' : 'INT64'} data`);
    data = Float32Array.from(v.values);
  } else {
    throw new OnnxConvertError(`initializer ${t.name}: data type ${t.dataType} is not supported (FLOAT or INT64 expected)`);
  }
  if (data.length !== size) throw new OnnxConvertError(`initializer ${t.name}: ${data.length} values for dims [${dims}]`);
  return { dims, data };
}

export interface Attrs {
  int(name: string, dflt?: number): number;
  ints(name: string, dflt?: number[]): number[];
  float(name: string, dflt?: number): number;
  str(name: string, dflt?: string): string;
}

export function attrs(node: OnnxNode): Attrs {
  const byName = new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
  const missing = (n: string): never => {
    throw new OnnxConvertError(`node ${node.name} (${node.opType}): attribute ${n} is required`);
  };
  return {
    int: (n, d) => (byName.has(n) ? num(byName.get(n)!.i) : d ?? missing(n)),
    ints: (n, d) => (byName.has(n) ? (byName.get(n)!.ints ?? []).map(num) : d ?? missing(n)),
    float: (n, d) => (byName.has(n) ? Number(byName.get(n)!.f) : d ?? missing(n)),
    str: (n, d) => (byName.has(n) ? new TextDecoder().decode(byName.get(n)!.s ?? new Uint8Array()) : d ?? missing(n)),
  };
}

/**
 * Rename value names (node inputs/outputs, value_info, graph outputs) in place. `renames` maps old → new.
 * Every old name must exist and every new name must be unused, else an error names it.
 */
export function renameValues(m: OnnxModel, renames: Record<string, string>): void {
  const g = m.graph!;
  const produced = new Set<string>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) produced.add(o);
  const all = new Set<string>(produced);
  for (const t of g.initializer ?? []) all.add(t.name ?? '');
  for (const v of g.input ?? []) all.add(v.name ?? '');
  for (const [from, to] of Object.entries(renames)) {
    if (!produced.has(from)) throw new OnnxConvertError(`rename: no node output named '${from}'`);
    if (all.has(to) && renames[to] === undefined) throw new OnnxConvertError(`rename: '${to}' (for '${from}') is already a value name`);
  }
  const r = (s: string) => renames[s] ?? s;
  for (const n of g.node ?? []) {
    n.input = (n.input ?? []).map(r);
    n.output = (n.output ?? []).map(r);
  }
  for (const v of g.valueInfo ?? []) v.name = r(v.name ?? '');
  for (const v of g.output ?? []) v.name = r(v.name ?? '');
}

/**
 * Names from PyTorch's exporter scopes: `/layer1/conv1/Conv_output_0` → `layer1.conv1`; an op outside any module
 * scope (`/Flatten_output_0`) → its op type in lower case. Graph inputs/outputs keep their names.
 */
export function scopeRenames(m: OnnxModel): Record<string, string> {
  const g = m.graph!;
  const keep = new Set([...(g.output ?? []).map((v) => v.name ?? ''), ...(g.input ?? []).map((v) => v.name ?? '')]);
  const out: Record<string, string> = {};
  const used = new Set<string>(keep);
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) {
      if (keep.has(o)) continue;
      const mt = /^\/(?:(.*)\/)?([A-Za-z]+)_output_(\d+)$/.exec(o);
      if (!mt) continue;
      // PyTorch writes nested scopes as `/stem/body/body.0`: drop the repeated parent prefix → `stem.body.0`.
      const parts: string[] = [];
      for (const seg of mt[1] ? mt[1].split('/') : []) {
        const last = parts[parts.length - 1];
        parts.push(last !== undefined && seg.startsWith(`${last}.`) ? seg.slice(last.length + 1) : seg);
      }
      let name = parts.length ? parts.join('.') : mt[2].toLowerCase();
      if (mt[3] !== '0') name += `.${mt[3]}`;
      let k = name;
      for (let i = 1; used.has(k); i++) k = `${name}_${i}`;
      used.add(k);
      out[o] = k;
    }
  }
  return out;
}
