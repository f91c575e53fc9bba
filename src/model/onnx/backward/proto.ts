// Small helpers over onnx-proto for the backward-graph generator: constants, attributes, and an Emitter that
// appends nodes with fresh names and opset-aware forms (ReduceSum/Unsqueeze/Squeeze axes as inputs from opset 13).
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export { onnx };
export type ModelProto = onnxProto.onnx.IModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

/** int64 fields decode as Long objects (protobufjs) or plain numbers. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof (v as { toNumber?: () => number }).toNumber === 'function') return (v as { toNumber: () => number }).toNumber();
  if (typeof v === 'string') return Number(v);
  return Number.NaN;
}

/** A constant's values as plain numbers (FLOAT, DOUBLE, INT32, INT64 and the other int types). */
export interface ConstValue {
  dims: number[];
  values: number[];
}

export function readTensor(t: TensorProto): ConstValue | undefined {
  const dims = (t.dims ?? []).map(num);
  const size = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length > 0 ? new Uint8Array(t.rawData) : undefined;
  const dv = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const out: number[] = new Array(size);
  switch (t.dataType) {
    case DT.FLOAT:
      for (let i = 0; i < size; i++) out[i] = dv ? dv.getFloat32(i * 4, true) : Number(t.floatData?.[i]);
      break;
    case DT.DOUBLE:
      for (let i = 0; i < size; i++) out[i] = dv ? dv.getFloat64(i * 8, true) : Number(t.doubleData?.[i]);
      break;
    case DT.INT64:
      for (let i = 0; i < size; i++) out[i] = dv ? Number(dv.getBigInt64(i * 8, true)) : num(t.int64Data?.[i]);
      break;
    case DT.INT32:
      for (let i = 0; i < size; i++) out[i] = dv ? dv.getInt32(i * 4, true) : Number(t.int32Data?.[i]);
      break;
    case DT.INT8:
    case DT.UINT8:
    case DT.BOOL:
      for (let i = 0; i < size; i++) out[i] = dv ? (t.dataType === DT.INT8 ? dv.getInt8(i) : dv.getUint8(i)) : Number(t.int32Data?.[i]);
      break;
    default:
      return undefined;
  }
  if (out.some((v) => v === undefined || Number.isNaN(v as number)) && t.dataType !== DT.FLOAT && t.dataType !== DT.DOUBLE) return undefined;
  return { dims, values: out };
}

export function f32Tensor(name: string, data: Float32Array | number[], dims: number[]): TensorProto {
  const a = data instanceof Float32Array ? data : Float32Array.from(data);
  return { name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)) };
}

export function i64Tensor(name: string, data: number[], dims: number[]): TensorProto {
  const a = BigInt64Array.from(data.map((v) => BigInt(v)));
  return { name, dims, dataType: DT.INT64, rawData: new Uint8Array(a.buffer) };
}

export type AttrValue = number | string | number[] | { f: number } | { floats: number[] } | TensorProto;

export function attr(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'number') return { name, type: AT.INT, i: v };
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  if ('f' in v && typeof (v as { f: unknown }).f === 'number' && !('dims' in v)) return { name, type: AT.FLOAT, f: (v as { f: number }).f };
  if ('floats' in v) return { name, type: AT.FLOATS, floats: (v as { floats: number[] }).floats };
  return { name, type: AT.TENSOR, t: v as TensorProto };
}

/** Attribute readers for one node. */
export class Attrs {
  private byName: Map<string, AttributeProto>;
  constructor(node: NodeProto) {
    this.byName = new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
  }
  has(n: string): boolean {
    return this.byName.has(n);
  }
  int(n: string, d: number): number {
    const a = this.byName.get(n);
    return a ? num(a.i) : d;
  }
  ints(n: string): number[] | undefined {
    const a = this.byName.get(n);
    return a ? (a.ints ?? []).map(num) : undefined;
  }
  float(n: string, d: number): number {
    const a = this.byName.get(n);
    return a ? Number(a.f) : d;
  }
  floats(n: string): number[] | undefined {
    const a = this.byName.get(n);
    return a ? (a.floats ?? []).map(Number) : undefined;
  }
  str(n: string, d: string): string {
    const a = this.byName.get(n);
    return a ? new TextDecoder().decode(a.s ?? new Uint8Array()) : d;
  }
  tensor(n: string): TensorProto | undefined {
    return this.byName.get(n)?.t ?? undefined;
  }
}

/** Value of a Constant node (value / value_float(s) / value_int(s)). */
export function constantNodeValue(node: NodeProto): ConstValue | undefined {
  const a = new Attrs(node);
  const t = a.tensor('value');
  if (t) return readTensor(t);
  if (a.has('value_float')) return { dims: [], values: [a.float('value_float', 0)] };
  if (a.has('value_floats')) {
    const v = a.floats('value_floats')!;
    return { dims: [v.length], values: v };
  }
  if (a.has('value_int')) return { dims: [], values: [a.int('value_int', 0)] };
  if (a.has('value_ints')) {
    const v = a.ints('value_ints')!;
    return { dims: [v.length], values: v };
  }
  return undefined;
}

/** Appends backward nodes and initializers with fresh names; opset-aware emitters for ops whose form changed. */
export class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private constCache = new Map<string, string>();
  private shapeCache = new Map<string, string>();
  private counter = 0;

  constructor(
    readonly opset: number,
    private used: Set<string>,
    private prefix = 'grad',
  ) {}

  fresh(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_');
    let n = `${this.prefix}/${clean}`;
    while (this.used.has(n)) n = `${this.prefix}/${clean}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  node(op: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, nOut = 1, base?: string): string[] {
    const outs = Array.from({ length: nOut }, () => this.fresh(base ?? op));
    const attribute: AttributeProto[] = [];
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) attribute.push(attr(k, v));
    this.nodes.push({ opType: op, domain: '', input: inputs, output: outs, attribute, name: this.fresh(`${op}_node`) });
    return outs;
  }

  op(op: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, base?: string): string {
    return this.node(op, inputs, attrs, 1, base)[0];
  }

  /** A float32 constant initializer (cached by value for small ones). */
  f32(values: number[] | Float32Array, dims: number[], base = 'const'): string {
    const small = values.length <= 16;
    const key = small ? `f:${dims.join(',')}:${Array.from(values).join(',')}` : '';
    if (small && this.constCache.has(key)) return this.constCache.get(key)!;
    const name = this.fresh(base);
    this.inits.push(f32Tensor(name, values instanceof Float32Array ? values : Float32Array.from(values), dims));
    if (small) this.constCache.set(key, name);
    return name;
  }

  scalar(v: number): string {
    return this.f32([v], []);
  }

  i64(values: number[], dims: number[] = [values.length]): string {
    const key = `i:${dims.join(',')}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('i64');
    this.inits.push(i64Tensor(name, values, dims));
    this.constCache.set(key, name);
    return name;
  }

  /** Shape(x), once per tensor. */
  shape(x: string): string {
    let s = this.shapeCache.get(x);
    if (!s) {
      s = this.op('Shape', [x], {}, 'shape');
      this.shapeCache.set(x, s);
    }
    return s;
  }

  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    if (this.opset >= 13) return this.op('ReduceSum', [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceSum', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  unsqueeze(x: string, axes: number[]): string {
    if (this.opset >= 13) return this.op('Unsqueeze', [x, this.i64(axes)]);
    return this.op('Unsqueeze', [x], { axes });
  }

  /** Unsqueeze with axes held in a tensor (opset ≥ 13 only). */
  unsqueezeT(x: string, axesTensor: string): string {
    return this.op('Unsqueeze', [x, axesTensor]);
  }

  reshapeLike(x: string, like: string): string {
    return this.op('Reshape', [x, this.shape(like)]);
  }

  /** Slice with constant starts/ends/axes (opset ≥ 10 form). */
  slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    const ins = [x, this.i64(starts), this.i64(ends), this.i64(axes)];
    if (steps) ins.push(this.i64(steps));
    return this.op('Slice', ins);
  }

  /** Sum of contributions (one name → itself). */
  sum(xs: string[], base = 'grad_sum'): string {
    if (xs.length === 1) return xs[0];
    if (xs.length === 2) return this.op('Add', xs, {}, base);
    return this.op('Sum', xs, {}, base);
  }
}
