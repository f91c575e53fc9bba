// Static shape inference over the forward graph, for the ops CNN classifiers use. A dim is a number, a symbol
// (string, from dim_param: equal symbols are equal sizes) or null (unknown); a shape is undefined when even the rank
// is unknown. Rules that need a shape fall back to a dynamic (Shape-op) formulation when it is not known.
import { Attrs, type ConstValue, type NodeProto, type ValueInfoProto, num } from './proto.ts';

export type Dim = number | string | null;
export type Shape = Dim[];

export function shapeFromValueInfo(v: ValueInfoProto): Shape | undefined {
  const s = v.type?.tensorType?.shape;
  if (!s) return undefined;
  return (s.dim ?? []).map((d) => {
    if (d.dimValue !== undefined && d.dimValue !== null && (d.dimParam === undefined || d.dimParam === null || d.dimParam === '')) {
      const n = num(d.dimValue);
      return Number.isFinite(n) && n > 0 ? n : null;
    }
    return d.dimParam ? `sym:${d.dimParam}` : null;
  });
}

function known(d: Dim): d is number {
  return typeof d === 'number';
}

function product(ds: Dim[]): Dim {
  let p = 1;
  for (const d of ds) {
    if (!known(d)) return null;
    p *= d;
  }
  return p;
}

export function broadcastShapes(shapes: (Shape | undefined)[]): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const ss = shapes as Shape[];
  const r = Math.max(...ss.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < r; i++) {
    let d: Dim = 1;
    for (const s of ss) {
      const k = i - (r - s.length);
      if (k < 0) continue;
      const e = s[k];
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) d = known(d) && known(e) ? Math.max(d, e) : known(d) ? d : known(e) ? e : null;
    }
    out.push(d);
  }
  return out;
}

/** Explicit [begins..., ends...] pads for a Conv/pool node, resolving auto_pad from the input's spatial dims. */
export function resolvePads(a: Attrs, spatial: Dim[], kernel: number[], strides: number[], dilations: number[]): number[] | undefined {
  const r = kernel.length;
  const autoPad = a.str('auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') return a.ints('pads') ?? new Array(2 * r).fill(0);
  if (autoPad === 'VALID') return new Array(2 * r).fill(0);
  const pads = new Array(2 * r).fill(0);
  for (let i = 0; i < r; i++) {
    const x = spatial[i];
    if (!known(x)) return undefined;
    const out = Math.ceil(x / strides[i]);
    const ek = (kernel[i] - 1) * dilations[i] + 1;
    const total = Math.max(0, (out - 1) * strides[i] + ek - x);
    const small = Math.floor(total / 2);
    pads[i] = autoPad === 'SAME_LOWER' ? total - small : small;
    pads[i + r] = total - pads[i];
  }
  return pads;
}

/** Output size of a conv/pool along one axis (ORT semantics, ceil_mode included). */
export function outSize(x: Dim, k: number, s: number, d: number, pb: number, pe: number, ceil: boolean): Dim {
  if (!known(x)) return null;
  const ek = (k - 1) * d + 1;
  const span = x + pb + pe - ek;
  if (!ceil) return Math.floor(span / s) + 1;
  let o = Math.ceil(span / s) + 1;
  // As ORT (and PyTorch): the last window must start inside the input or the begin padding.
  if ((o - 1) * s >= x + pb) o--;
  return o;
}

export interface ShapeEnv {
  shapes: Map<string, Shape>;
  consts: Map<string, ConstValue>;
}

function ax(a: number, r: number): number {
  return a < 0 ? a + r : a;
}

/** Infers output shapes of one node into env.shapes (leaves them unknown where it cannot). */
export function inferNode(node: NodeProto, env: ShapeEnv): void {
  const ins = node.input ?? [];
  const outs = node.output ?? [];
  const S = (i: number): Shape | undefined => (ins[i] ? env.shapes.get(ins[i]) : undefined);
  const C = (i: number): ConstValue | undefined => (ins[i] ? env.consts.get(ins[i]) : undefined);
  const set = (i: number, s: Shape | undefined) => {
    if (s && outs[i] && !env.shapes.has(outs[i])) env.shapes.set(outs[i], s);
  };
  const a = new Attrs(node);
  const x = S(0);
  switch (node.opType) {
    case 'Relu':
    case 'LeakyRelu':
    case 'Sigmoid':
    case 'HardSigmoid':
    case 'HardSwish':
    case 'Clip':
    case 'Identity':
    case 'Dropout':
    case 'BatchNormalization':
    case 'Softmax':
    case 'LogSoftmax':
    case 'Tanh':
    case 'Neg':
    case 'Exp':
    case 'Sqrt':
    case 'Cast':
    case 'Elu':
    case 'Selu':
    case 'Softplus':
    case 'Erf':
    case 'Abs':
    case 'Reciprocal':
    case 'PRelu':
      set(0, x);
      if (node.opType === 'Dropout' && x) set(1, x);
      return;
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Pow':
    case 'Sum':
    case 'Max':
    case 'Min':
    case 'Mean':
    case 'Greater':
    case 'Less':
    case 'Equal':
    case 'Where':
      set(0, broadcastShapes(ins.map((_, i) => S(i))));
      return;
    case 'Constant':
      return;
    case 'Shape':
      if (x) set(0, [x.length]);
      return;
    case 'Conv':
    case 'MaxPool':
    case 'AveragePool': {
      if (!x) return;
      const w = S(1);
      const kernel = a.ints('kernel_shape') ?? (w ? (w.slice(2) as Dim[]) : undefined);
      if (!kernel || !kernel.every(known)) return;
      const k = kernel as number[];
      const r = k.length;
      const strides = a.ints('strides') ?? new Array(r).fill(1);
      const dil = a.ints('dilations') ?? new Array(r).fill(1);
      const pads = resolvePads(a, x.slice(2), k, strides, dil);
      const ceil = a.int('ceil_mode', 0) === 1;
      const sp: Dim[] = k.map((kk, i) => (pads ? outSize(x[2 + i], kk, strides[i], dil[i], pads[i], pads[i + r], ceil) : null));
      const c = node.opType === 'Conv' ? (w ? w[0] : null) : x[1];
      set(0, [x[0], c, ...sp]);
      if (node.opType === 'MaxPool') set(1, [x[0], c, ...sp]);
      return;
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      if (x) set(0, [x[0], x[1], ...x.slice(2).map(() => 1)]);
      return;
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax': {
      if (!x) return;
      const keep = a.int('keepdims', 1) === 1;
      let axes = a.ints('axes');
      if (!axes && ins[1]) {
        const c = C(1);
        if (!c) return;
        axes = c.values;
      }
      const all = !axes || axes.length === 0;
      if (all && a.int('noop_with_empty_axes', 0) === 1) return set(0, x);
      const set_ = new Set((axes ?? []).map((v) => ax(v, x.length)));
      const out: Shape = [];
      x.forEach((d, i) => {
        if (all || set_.has(i)) {
          if (keep) out.push(1);
        } else out.push(d);
      });
      set(0, out);
      return;
    }
    case 'Flatten': {
      if (!x) return;
      const axis = ax(a.int('axis', 1), x.length);
      set(0, [product(x.slice(0, axis)), product(x.slice(axis))]);
      return;
    }
    case 'Reshape': {
      const c = C(1);
      if (!c) return;
      const spec = c.values;
      const allowzero = a.int('allowzero', 0) === 1;
      const out: Shape = spec.map((v, i) => (v === 0 && !allowzero ? (x ? x[i] : null) : v === -1 ? null : v));
      const neg = spec.indexOf(-1);
      if (neg >= 0 && x) {
        const total = product(x);
        const rest = product(out.filter((_, i) => i !== neg));
        if (known(total) && known(rest) && rest > 0) out[neg] = total / rest;
        else if (x.length > 0 && out.filter((_, i) => i !== neg).every(known) && x.slice(1).every(known) && x[0] !== null) {
          // e.g. [N,C,H,W] → [-1, C*H*W] with a symbolic batch dim.
          const restIn = product(x.slice(1));
          const restOut = product(out.filter((_, i) => i !== neg));
          if (neg === 0 && known(restIn) && known(restOut) && restIn === restOut) out[0] = x[0];
        }
      }
      set(0, out);
      return;
    }
    case 'Transpose': {
      if (!x) return;
      const perm = a.ints('perm') ?? x.map((_, i) => x.length - 1 - i);
      set(0, perm.map((p) => x[p]));
      return;
    }
    case 'Concat': {
      const ss = ins.map((_, i) => S(i));
      if (ss.some((s) => !s)) return;
      const r = ss[0]!.length;
      const axis = ax(a.int('axis', 0), r);
      const out = [...ss[0]!];
      const sum = ss.every((s) => known(s![axis])) ? ss.reduce((acc, s) => acc + (s![axis] as number), 0) : null;
      out[axis] = sum;
      set(0, out);
      return;
    }
    case 'Split': {
      if (!x) return;
      const axis = ax(a.int('axis', 0), x.length);
      let split = a.ints('split');
      if (!split && ins[1]) split = C(1)?.values;
      if (!split) {
        const d = x[axis];
        if (!known(d)) return;
        const n = outs.length;
        const each = Math.ceil(d / n);
        split = Array.from({ length: n }, (_, i) => Math.min(each, d - each * i));
      }
      split.forEach((sz, i) => {
        const s = [...x];
        s[axis] = sz;
        set(i, s);
      });
      return;
    }
    case 'Gemm': {
      const A = S(0);
      const B = S(1);
      if (!A || !B) return;
      const m = a.int('transA', 0) ? A[1] : A[0];
      const n = a.int('transB', 0) ? B[0] : B[1];
      set(0, [m, n]);
      return;
    }
    case 'MatMul': {
      const A = S(0);
      const B = S(1);
      if (!A || !B) return;
      if (A.length >= 2 && B.length >= 2) {
        const batch = broadcastShapes([A.slice(0, -2), B.slice(0, -2)]);
        if (batch) set(0, [...batch, A[A.length - 2], B[B.length - 1]]);
      } else if (A.length === 1 && B.length >= 2) set(0, [...B.slice(0, -2), B[B.length - 1]]);
      else if (B.length === 1 && A.length >= 2) set(0, A.slice(0, -1));
      else set(0, []);
      return;
    }
    case 'Unsqueeze': {
      if (!x) return;
      const axes = a.ints('axes') ?? C(1)?.values;
      if (!axes) return;
      const r = x.length + axes.length;
      const set_ = new Set(axes.map((v) => ax(v, r)));
      const out: Shape = [];
      let j = 0;
      for (let i = 0; i < r; i++) out.push(set_.has(i) ? 1 : x[j++]);
      set(0, out);
      return;
    }
    case 'Squeeze': {
      if (!x) return;
      const axes = a.ints('axes') ?? C(1)?.values;
      if (!axes) {
        if (x.every(known)) set(0, x.filter((d) => d !== 1));
        return;
      }
      const set_ = new Set(axes.map((v) => ax(v, x.length)));
      set(0, x.filter((_, i) => !set_.has(i)));
      return;
    }
    case 'Pad': {
      if (!x) return;
      const pads = a.ints('pads') ?? C(1)?.values;
      if (!pads || ins[3]) return;
      const r = x.length;
      set(0, x.map((d, i) => (known(d) ? d + pads[i] + pads[i + r] : d)));
      return;
    }
    default:
      return;
  }
}
