// A small API to build ONNX graphs with onnx-proto (for tests, benches and graph rewrites).
// Opset 13 by default (Clip min/max and Reshape shape are inputs, not attributes).
//
//   const g = new GraphBuilder('net');
//   const x = g.input('input', [null, 3, 32, 32]);
//   const w = g.initializer('conv.weight', weights, [8, 3, 3, 3]);
//   const y = g.conv(x, w, undefined, { pads: [1, 1, 1, 1] }, 'conv_out');
//   g.output(g.relu(y, 'relu_out'));
//   const bytes = g.encode();
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export { onnx };
export type OnnxModelProto = onnxProto.onnx.IModelProto;
export type OnnxGraphProto = onnxProto.onnx.IGraphProto;
export type OnnxNodeProto = onnxProto.onnx.INodeProto;
export type OnnxTensorProto = onnxProto.onnx.ITensorProto;
export type OnnxAttributeProto = onnxProto.onnx.IAttributeProto;
export type OnnxValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const DataType = onnx.TensorProto.DataType;
export const AttrType = onnx.AttributeProto.AttributeType;

/** Attribute values accepted by `node()`: numbers are INT when integral, use `{ float: x }` to force FLOAT. */
export type AttrValue = number | string | number[] | string[] | { float: number } | { floats: number[] } | OnnxTensorProto;

export interface ConvOptions {
  strides?: [number, number];
  /** [top, left, bottom, right] as ONNX writes them (x1_begin, x2_begin, x1_end, x2_end). */
  pads?: [number, number, number, number];
  dilations?: [number, number];
  group?: number;
  kernelShape?: [number, number];
}

export interface PoolOptions {
  kernel: [number, number];
  strides?: [number, number];
  pads?: [number, number, number, number];
  ceilMode?: boolean;
  /** AveragePool only. */
  countIncludePad?: boolean;
}

/** Shape dims: a number, or a string / null for a symbolic (batch) dim. */
export type Dim = number | string | null;

export function valueInfo(name: string, shape: Dim[] | undefined, elemType = DataType.FLOAT): OnnxValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: shape ? { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d ?? 'N' })) } : undefined,
      },
    },
  };
}

export function tensorProto(name: string, data: Float32Array | BigInt64Array | Int32Array | number[], dims: number[], dataType?: number): OnnxTensorProto {
  let raw: Uint8Array;
  let type: number;
  if (data instanceof Float32Array) {
    raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    type = DataType.FLOAT;
  } else if (data instanceof BigInt64Array) {
    raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    type = DataType.INT64;
  } else if (data instanceof Int32Array) {
    raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    type = DataType.INT32;
  } else {
    const t = dataType ?? DataType.FLOAT;
    if (t === DataType.INT64) return tensorProto(name, BigInt64Array.from(data.map((v) => BigInt(v))), dims);
    if (t === DataType.INT32) return tensorProto(name, Int32Array.from(data), dims);
    return tensorProto(name, Float32Array.from(data), dims);
  }
  if (dataType !== undefined && dataType !== type) throw new Error(`tensorProto ${name}: data does not match data type ${dataType}`);
  return { name, dims, dataType: type, rawData: raw };
}

export function attribute(name: string, v: AttrValue): OnnxAttributeProto {
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: AttrType.INT, i: v } : { name, type: AttrType.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { name, type: AttrType.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
    const nums = v as number[];
    return nums.every((x) => Number.isInteger(x)) ? { name, type: AttrType.INTS, ints: nums } : { name, type: AttrType.FLOATS, floats: nums };
  }
  if ('float' in v) return { name, type: AttrType.FLOAT, f: (v as { float: number }).float };
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: (v as { floats: number[] }).floats };
  return { name, type: AttrType.TENSOR, t: v as OnnxTensorProto };
}

export class GraphBuilder {
  readonly nodes: OnnxNodeProto[] = [];
  readonly initializers: OnnxTensorProto[] = [];
  readonly inputs: OnnxValueInfoProto[] = [];
  readonly outputs: OnnxValueInfoProto[] = [];
  readonly valueInfo: OnnxValueInfoProto[] = [];
  private used = new Set<string>();
  private counters = new Map<string, number>();

  constructor(
    readonly name = 'graph',
    readonly opset = 13,
  ) {}

  /** A fresh tensor name based on `base` (or `base` itself when unused). */
  fresh(base: string): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    let n = this.counters.get(base) ?? 1;
    while (this.used.has(`${base}_${n}`)) n++;
    this.counters.set(base, n + 1);
    const name = `${base}_${n}`;
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`GraphBuilder: tensor name '${name}' already used`);
    this.used.add(name);
    return name;
  }

  input(name: string, shape: Dim[], elemType = DataType.FLOAT): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, shape, elemType));
    return name;
  }

  output(name: string, shape?: Dim[], elemType = DataType.FLOAT): string {
    this.outputs.push(valueInfo(name, shape, elemType));
    return name;
  }

  initializer(name: string, data: Float32Array | BigInt64Array | Int32Array | number[], dims: number[], dataType?: number): string {
    const n = this.used.has(name) ? this.fresh(name) : this.claim(name);
    this.initializers.push(tensorProto(n, data, dims, dataType));
    return n;
  }

  /** An int64 constant initializer (shapes, axes). */
  int64(name: string, values: number[]): string {
    return this.initializer(name, BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
  }

  /** A scalar float initializer. */
  scalar(name: string, v: number): string {
    return this.initializer(name, new Float32Array([v]), []);
  }

  /**
   * Adds a node. `outputs` is a list of names or a count (names generated from the op). Returns the output names.
   * Empty-string inputs denote omitted optional inputs, as ONNX does.
   */
  node(op: string, inputs: string[], outputs: string[] | number = 1, attrs: Record<string, AttrValue | undefined> = {}, nodeName?: string): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(`${op}_output`)) : outputs.map((o) => this.claim(o));
    const attribute_: OnnxAttributeProto[] = [];
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) attribute_.push(attribute(k, v));
    this.nodes.push({ opType: op, input: inputs, output: outs, attribute: attribute_, name: nodeName ?? this.fresh(`${op}_node`) });
    return outs;
  }

  private one(op: string, inputs: string[], out: string | undefined, attrs: Record<string, AttrValue | undefined> = {}): string {
    return this.node(op, inputs, out ? [out] : 1, attrs)[0];
  }

  conv(x: string, w: string, b: string | undefined, o: ConvOptions = {}, out?: string): string {
    return this.one('Conv', b ? [x, w, b] : [x, w], out, {
      strides: o.strides,
      pads: o.pads,
      dilations: o.dilations,
      group: o.group,
      kernel_shape: o.kernelShape,
    });
  }

  batchNorm(x: string, scale: string, bias: string, mean: string, variance: string, epsilon = 1e-5, out?: string): string {
    return this.one('BatchNormalization', [x, scale, bias, mean, variance], out, { epsilon: { float: epsilon } });
  }

  relu(x: string, out?: string): string {
    return this.one('Relu', [x], out);
  }

  /** Clip with min/max as inputs (opset ≥ 11). */
  clip(x: string, min: number | undefined, max: number | undefined, out?: string): string {
    const ins = [x, min === undefined ? '' : this.scalar(this.fresh('clip_min'), min), max === undefined ? '' : this.scalar(this.fresh('clip_max'), max)];
    while (ins.length > 1 && ins[ins.length - 1] === '') ins.pop();
    return this.one('Clip', ins, out);
  }

  sigmoid(x: string, out?: string): string {
    return this.one('Sigmoid', [x], out);
  }

  maxPool(x: string, o: PoolOptions, out?: string): string {
    return this.one('MaxPool', [x], out, { kernel_shape: o.kernel, strides: o.strides, pads: o.pads, ceil_mode: o.ceilMode ? 1 : undefined });
  }

  averagePool(x: string, o: PoolOptions, out?: string): string {
    return this.one('AveragePool', [x], out, {
      kernel_shape: o.kernel,
      strides: o.strides,
      pads: o.pads,
      ceil_mode: o.ceilMode ? 1 : undefined,
      count_include_pad: o.countIncludePad ? 1 : undefined,
    });
  }

  globalAveragePool(x: string, out?: string): string {
    return this.one('GlobalAveragePool', [x], out);
  }

  add(a: string, b: string, out?: string): string {
    return this.one('Add', [a, b], out);
  }

  mul(a: string, b: string, out?: string): string {
    return this.one('Mul', [a, b], out);
  }

  flatten(x: string, axis = 1, out?: string): string {
    return this.one('Flatten', [x], out, { axis });
  }

  /** Y = alpha·A·B' + beta·C with transB (PyTorch Linear layout: B is [out, in]). */
  gemm(a: string, b: string, c: string | undefined, o: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}, out?: string): string {
    return this.one('Gemm', c ? [a, b, c] : [a, b], out, {
      transA: o.transA ? 1 : undefined,
      transB: o.transB ? 1 : undefined,
      alpha: o.alpha === undefined ? undefined : { float: o.alpha },
      beta: o.beta === undefined ? undefined : { float: o.beta },
    });
  }

  matMul(a: string, b: string, out?: string): string {
    return this.one('MatMul', [a, b], out);
  }

  reshape(x: string, shape: number[], out?: string): string {
    return this.one('Reshape', [x, this.int64(this.fresh('reshape_shape'), shape)], out);
  }

  transpose(x: string, perm: number[], out?: string): string {
    return this.one('Transpose', [x], out, { perm });
  }

  concat(xs: string[], axis: number, out?: string): string {
    return this.one('Concat', xs, out, { axis });
  }

  softmax(x: string, axis = -1, out?: string): string {
    return this.one('Softmax', [x], out, { axis });
  }

  identity(x: string, out?: string): string {
    return this.one('Identity', [x], out);
  }

  build(): OnnxModelProto {
    return {
      irVersion: 7,
      producerName: 'xai-pipeline',
      producerVersion: '0.1',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
        valueInfo: this.valueInfo,
      },
    };
  }

  encode(): Uint8Array {
    return encodeModel(this.build());
  }
}

export function encodeModel(m: OnnxModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
}

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
