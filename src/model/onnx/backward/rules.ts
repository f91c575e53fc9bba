// Reverse-mode rules: each maps the gradients of a node's outputs to the gradients of the inputs that depend on
// the layer, written as plain ONNX ops appended to the backward graph. Constants/initializers never get gradients.
import { Attrs, DT, type ConstValue, type Emitter, type NodeProto, f32Tensor, num, readTensor, type TensorProto } from './proto.ts';
import { type Shape, resolvePads, outSize } from './shapes.ts';

export interface RuleCtx {
  node: NodeProto;
  a: Attrs;
  e: Emitter;
  /** Gradient tensor for each node output (null where no gradient flows back into it). */
  gy: (string | null)[];
  /** Whether each input depends on the layer (needs a gradient). */
  needs: boolean[];
  opset: number;
  shapeOf(name: string): Shape | undefined;
  constOf(name: string): ConstValue | undefined;
  /** Initializer (or Constant node) tensor, for weights the rule transforms ahead of time. */
  initializerOf(name: string): TensorProto | undefined;
  /** Name of the Indices output of a forward MaxPool node (added to the node when absent). */
  maxPoolIndices(node: NodeProto): string;
  /** Throws NoGradientRuleError naming the op, the node and the layer, with `reason`. */
  fail(reason: string): never;
  options: RuleOptions;
}

export interface RuleOptions {
  /** Stride-1 Conv with constant weights: 'conv' (flipped, transposed weights; ORT's fast Conv path) or 'transpose'. */
  conv1Backward: 'conv' | 'transpose';
  /**
   * Strided Conv: 'transpose' (ConvTranspose) or 'polyphase' (2-D, constant weights, static input size: one
   * stride-1 Conv computing every output phase, then DepthToSpace; falls back to ConvTranspose elsewhere).
   */
  stridedBackward: 'polyphase' | 'transpose';
}

export type Rule = (c: RuleCtx) => (string | null)[];

const g0 = (c: RuleCtx): string => {
  const g = c.gy[0];
  if (!g) return c.fail('no gradient reaches its output');
  return g;
};

function noGradFor(c: RuleCtx, from: number, what: string): void {
  for (let i = from; i < c.needs.length; i++) if (c.needs[i]) c.fail(`the gradient with respect to its ${what} (input ${i}) is not supported; it must not depend on the layer`);
}

function float32Of(t: TensorProto): Float32Array | undefined {
  if (t.dataType === DT.FLOAT && t.rawData && t.rawData.length > 0) {
    const b = new Uint8Array(t.rawData);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  }
  const v = readTensor(t);
  return v ? Float32Array.from(v.values) : undefined;
}

/** Static spatial dims of x (numbers or null). */
function spatialOf(c: RuleCtx, x: string, r: number): (number | null)[] {
  const s = c.shapeOf(x);
  return Array.from({ length: r }, (_, i) => {
    const d = s && s.length === r + 2 ? s[2 + i] : null;
    return typeof d === 'number' ? d : null;
  });
}

interface Geometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
}

/**
 * The adjoint of a strided/padded window op: ConvTranspose(g, w) sized to x's spatial dims. output_padding is
 * exact when x's spatial dims are known; otherwise stride−1 and a Slice to Shape(x) (exact too: every position
 * below x's size is computed the same way whatever the padding).
 */
function convTransposeTo(c: RuleCtx, g: string, w: string, geo: Geometry, x: string, xSpatial: (number | null)[], group: number, ceil = false): string {
  const r = geo.kernel.length;
  const outPad: number[] = [];
  let slice = false;
  for (let i = 0; i < r; i++) {
    const s = geo.strides[i];
    const X = xSpatial[i];
    const ek = (geo.kernel[i] - 1) * geo.dilations[i] + 1;
    const pb = geo.pads[i];
    const pe = geo.pads[i + r];
    if (X !== null) {
      const O = outSize(X, geo.kernel[i], s, geo.dilations[i], pb, pe, ceil) as number;
      const outT = s * (O - 1) + ek - pb - pe;
      const diff = X - outT;
      if (diff >= 0 && diff < Math.max(s, geo.dilations[i])) outPad.push(diff);
      else if (diff < 0) {
        outPad.push(0);
        slice = true;
      } else c.fail(`cannot size the transposed convolution (input ${X}, output ${O})`);
    } else if (s === 1 && !ceil) outPad.push(0);
    else {
      outPad.push(Math.max(0, s - 1));
      slice = true;
    }
  }
  const dx = c.e.op('ConvTranspose', [g, w], {
    strides: geo.strides,
    pads: geo.pads,
    dilations: geo.dilations,
    kernel_shape: geo.kernel,
    group: group === 1 ? undefined : group,
    output_padding: outPad.some((p) => p !== 0) ? outPad : undefined,
  });
  if (!slice) return dx;
  const axes = Array.from({ length: r }, (_, i) => i + 2);
  const ends = c.e.slice(c.e.shape(x), [2], [2 + r], [0]);
  return c.e.op('Slice', [dx, c.e.i64(new Array(r).fill(0)), ends, c.e.i64(axes)]);
}

function windowGeometry(c: RuleCtx, x: string, kernel: number[]): Geometry & { spatial: (number | null)[] } {
  const r = kernel.length;
  const strides = c.a.ints('strides') ?? new Array(r).fill(1);
  const dilations = c.a.ints('dilations') ?? new Array(r).fill(1);
  const spatial = spatialOf(c, x, r);
  const pads = resolvePads(c.a, spatial, kernel, strides, dilations);
  if (!pads) return c.fail(`auto_pad ${c.a.str('auto_pad', '')} needs the input's spatial size, which is not known statically`);
  return { kernel, strides, dilations, pads, spatial };
}

/** Sum g over the axes along which `target` was broadcast to `out`'s shape, then reshape to target's shape. */
function unbroadcast(c: RuleCtx, g: string, target: string, out: string): string {
  const st = c.shapeOf(target);
  const so = c.shapeOf(out);
  if (st && so && st.length <= so.length) {
    const lead = so.length - st.length;
    const axes: number[] = [];
    let ok = true;
    for (let i = 0; i < so.length; i++) {
      if (i < lead) {
        axes.push(i);
        continue;
      }
      const dt = st[i - lead];
      const dO = so[i];
      // A known size > 1 or a symbol (dim_param) is never broadcast; size 1 is when the output is not 1.
      if (dt === 1) {
        if (dO !== 1) axes.push(i);
      } else if (dt === null) ok = false;
    }
    if (ok) {
      if (axes.length === 0) return g;
      const r = c.e.reduceSum(g, axes, true);
      return lead > 0 ? c.e.reshapeLike(r, target) : r;
    }
  }
  // Dynamic: axes where target's (left-padded) shape differs from the output's.
  if (c.opset < 13) return c.fail('broadcast shapes are not known statically (the dynamic form needs opset ≥ 13)');
  const e = c.e;
  const sT = e.shape(target);
  const sO = e.shape(out);
  const rankT = e.op('Shape', [sT]);
  const rankO = e.op('Shape', [sO]);
  const padLen = e.op('Sub', [rankO, rankT]);
  const ones = e.op('ConstantOfShape', [padLen], { value: { name: '', dims: [1], dataType: DT.INT64, rawData: new Uint8Array(new BigInt64Array([1n]).buffer) } as TensorProto });
  const sTp = e.op('Concat', [ones, sT], { axis: 0 });
  const diff = e.op('Not', [e.op('Equal', [sTp, sO])]);
  const axes = e.op('Reshape', [e.op('NonZero', [diff]), e.i64([-1])]);
  const red = e.op('ReduceSum', [g, axes], { keepdims: 1, noop_with_empty_axes: 1 });
  return e.op('Reshape', [red, sT]);
}

const identity: Rule = (c) => [g0(c)];
const reshapeBack: Rule = (c) => [c.e.reshapeLike(g0(c), c.node.input![0])];

function maskMul(c: RuleCtx, g: string, boolMask: string): string {
  return c.e.op('Mul', [g, c.e.op('Cast', [boolMask], { to: DT.FLOAT })]);
}

export const RULES: Record<string, Rule> = {
  Identity: identity,
  Dropout: identity,
  Flatten: reshapeBack,
  Reshape: (c) => {
    noGradFor(c, 1, 'shape');
    return reshapeBack(c);
  },
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,

  Relu: (c) => [maskMul(c, g0(c), c.e.op('Greater', [c.node.output![0], c.e.scalar(0)]))],

  LeakyRelu: (c) => {
    const alpha = c.a.float('alpha', 0.01);
    const [x] = c.node.input!;
    // Use the output where the sign is preserved (alpha > 0) so ORT can keep fusing the forward op.
    const pos = c.e.op('Greater', [alpha > 0 ? c.node.output![0] : x, c.e.scalar(0)]);
    const slope = c.e.op('Where', [pos, c.e.scalar(1), c.e.scalar(alpha)]);
    return [c.e.op('Mul', [g0(c), slope])];
  },

  Clip: (c) => {
    noGradFor(c, 1, 'min/max');
    const y = c.node.output![0];
    let min: string | undefined;
    let max: string | undefined;
    if (c.opset < 11) {
      if (c.a.has('min')) min = c.e.scalar(c.a.float('min', 0));
      if (c.a.has('max')) max = c.e.scalar(c.a.float('max', 0));
    } else {
      min = c.node.input![1] || undefined;
      max = c.node.input![2] || undefined;
    }
    // Zero gradient at and beyond the bounds (strict interior, as PyTorch's hardtanh_backward / ReLU6); tested on y.
    const masks: string[] = [];
    if (min) masks.push(c.e.op('Greater', [y, min]));
    if (max) masks.push(c.e.op('Less', [y, max]));
    if (masks.length === 0) return [g0(c)];
    const m = masks.length === 2 ? c.e.op('And', masks) : masks[0];
    return [maskMul(c, g0(c), m)];
  },

  Sigmoid: (c) => {
    const y = c.node.output![0];
    const d = c.e.op('Mul', [y, c.e.op('Sub', [c.e.scalar(1), y])]);
    return [c.e.op('Mul', [g0(c), d])];
  },

  Tanh: (c) => {
    const y = c.node.output![0];
    const d = c.e.op('Sub', [c.e.scalar(1), c.e.op('Mul', [y, y])]);
    return [c.e.op('Mul', [g0(c), d])];
  },

  HardSigmoid: (c) => {
    const alpha = c.a.float('alpha', 0.2);
    const y = c.node.output![0];
    // Slope alpha strictly inside (0, 1), zero where clipped (as PyTorch's hardsigmoid_backward).
    const m = c.e.op('And', [c.e.op('Greater', [y, c.e.scalar(0)]), c.e.op('Less', [y, c.e.scalar(1)])]);
    const d = c.e.op('Where', [m, c.e.scalar(alpha), c.e.scalar(0)]);
    return [c.e.op('Mul', [g0(c), d])];
  },

  HardSwish: (c) => {
    const x = c.node.input![0];
    // d/dx x·relu6(x+3)/6 = 0 for x < −3, x/3 + 1/2 on [−3, 3], 1 for x > 3 (as PyTorch's hardswish_backward).
    const t = c.e.op('Add', [c.e.op('Mul', [x, c.e.scalar(1 / 3)]), c.e.scalar(0.5)]);
    const d1 = c.e.op('Where', [c.e.op('Greater', [x, c.e.scalar(3)]), c.e.scalar(1), t]);
    const d = c.e.op('Where', [c.e.op('Less', [x, c.e.scalar(-3)]), c.e.scalar(0), d1]);
    return [c.e.op('Mul', [g0(c), d])];
  },

  Add: (c) => {
    const g = g0(c);
    const [a, b] = c.node.input!;
    const y = c.node.output![0];
    return [c.needs[0] ? unbroadcast(c, g, a, y) : null, c.needs[1] ? unbroadcast(c, g, b, y) : null];
  },

  Sum: (c) => {
    const g = g0(c);
    const y = c.node.output![0];
    return c.node.input!.map((x, i) => (c.needs[i] ? unbroadcast(c, g, x, y) : null));
  },

  Sub: (c) => {
    const g = g0(c);
    const [a, b] = c.node.input!;
    const y = c.node.output![0];
    return [c.needs[0] ? unbroadcast(c, g, a, y) : null, c.needs[1] ? unbroadcast(c, c.e.op('Neg', [g]), b, y) : null];
  },

  Mul: (c) => {
    const g = g0(c);
    const [a, b] = c.node.input!;
    const y = c.node.output![0];
    return [
      c.needs[0] ? unbroadcast(c, c.e.op('Mul', [g, b]), a, y) : null,
      c.needs[1] ? unbroadcast(c, c.e.op('Mul', [g, a]), b, y) : null,
    ];
  },

  Div: (c) => {
    const g = g0(c);
    const [a, b] = c.node.input!;
    const y = c.node.output![0];
    const ga = c.needs[0] ? unbroadcast(c, c.e.op('Div', [g, b]), a, y) : null;
    // d(a/b)/db = −a/b² = −y/b.
    const gb = c.needs[1] ? unbroadcast(c, c.e.op('Neg', [c.e.op('Div', [c.e.op('Mul', [g, y]), b])]), b, y) : null;
    return [ga, gb];
  },

  BatchNormalization: (c) => {
    noGradFor(c, 1, 'scale/bias/mean/var');
    if (c.a.int('training_mode', 0) === 1) return c.fail('training_mode=1 (batch statistics) is not supported; export the model in eval mode');
    const [x, scale, , , variance] = c.node.input!;
    const eps = c.a.float('epsilon', 1e-5);
    const xs = c.shapeOf(x);
    const rank = xs ? xs.length : 4;
    const dims = (n: number) => [n, ...new Array(Math.max(0, rank - 2)).fill(1)];
    const ts = c.initializerOf(scale);
    const tv = c.initializerOf(variance);
    let factor: string;
    const s = ts && float32Of(ts);
    const v = tv && float32Of(tv);
    if (s && v && s.length === v.length) {
      const f = new Float32Array(s.length);
      for (let i = 0; i < s.length; i++) f[i] = s[i] / Math.sqrt(v[i] + eps);
      factor = c.e.f32(f, dims(f.length), 'bn_factor');
    } else {
      const f = c.e.op('Div', [scale, c.e.op('Sqrt', [c.e.op('Add', [variance, c.e.scalar(eps)])])]);
      factor = c.e.op('Reshape', [f, c.e.i64(dims(-1))]);
    }
    return [c.e.op('Mul', [g0(c), factor])];
  },

  Conv: (c) => {
    noGradFor(c, 1, 'weights/bias');
    const [x, w] = c.node.input!;
    const ws = c.shapeOf(w);
    const kernel = c.a.ints('kernel_shape') ?? (ws && ws.slice(2).every((d) => typeof d === 'number') ? (ws.slice(2) as number[]) : undefined);
    if (!kernel) return c.fail('the kernel shape is not known (no kernel_shape attribute and non-constant weights)');
    const group = c.a.int('group', 1);
    const geo = windowGeometry(c, x, kernel);
    const r = kernel.length;
    const g = g0(c);
    const wt = c.initializerOf(w);
    const stride1 = geo.strides.every((s) => s === 1);
    const eks = kernel.map((k, i) => (k - 1) * geo.dilations[i] + 1);
    const padsOk = geo.pads.every((p, i) => p <= eks[i % r] - 1);
    if (c.options.conv1Backward === 'conv' && stride1 && padsOk && wt) {
      // dX = Conv(g, W') with W'[j·C/g + ci, m] = flip(W[j·M/g + m, ci]) and pads ek−1−p: same as ConvTranspose at
      // stride 1, but on ORT's optimised Conv path.
      const wv = float32Of(wt);
      const wd = (wt.dims ?? []).map(num);
      if (wv && wd.length === r + 2) {
        const [M, Cg] = wd;
        const ksz = wd.slice(2).reduce((p, q) => p * q, 1);
        const Mg = M / group;
        const C = Cg * group;
        const out = new Float32Array(wv.length);
        const strideK: number[] = [];
        let acc = 1;
        for (let i = r - 1; i >= 0; i--) {
          strideK[i] = acc;
          acc *= wd[2 + i];
        }
        // Flip every spatial axis: index k ↦ (K−1−k) per axis, i.e. the flat index reverses.
        for (let j = 0; j < group; j++)
          for (let ci = 0; ci < Cg; ci++)
            for (let m = 0; m < Mg; m++) {
              const src = ((j * Mg + m) * Cg + ci) * ksz;
              const dst = ((j * Cg + ci) * Mg + m) * ksz;
              for (let k = 0; k < ksz; k++) out[dst + (ksz - 1 - k)] = wv[src + k];
            }
        const wName = c.e.f32(out, [C, Mg, ...wd.slice(2)], 'conv_wT');
        const pads = geo.pads.map((p, i) => eks[i % r] - 1 - p);
        return [c.e.op('Conv', [g, wName], { kernel_shape: kernel, pads, dilations: geo.dilations, group: group === 1 ? undefined : group })];
      }
    }
    if (c.options.stridedBackward === 'polyphase' && wt && !stride1) {
      const dx = polyphaseConvBackward(c, g, wt, geo, group);
      if (dx) return [dx];
    }
    return [convTransposeTo(c, g, w, geo, x, geo.spatial, group)];
  },

  MaxPool: (c) => {
    const x = c.node.input![0];
    const kernel = c.a.ints('kernel_shape');
    if (!kernel) return c.fail('kernel_shape is missing');
    if (c.a.int('storage_order', 0) !== 0) return c.fail('storage_order=1 is not supported');
    const geo = windowGeometry(c, x, kernel);
    const r = kernel.length;
    const g = g0(c);
    const e = c.e;
    const idx = c.maxPoolIndices(c.node);
    // Exact routing to the argmax MaxPool chose (ORT: the first maximum in scan order). Windows that overlap can
    // pick the same input element, so outputs are split into phases o ≡ p (mod m) with m·stride ≥ window extent:
    // within a phase the windows are disjoint, each phase is one ScatterElements, and the phases are summed.
    const m = kernel.map((k, i) => Math.ceil(((k - 1) * geo.dilations[i] + 1) / geo.strides[i]));
    const size1d = e.op('Reshape', [e.op('Size', [x]), e.i64([1])]);
    const zeros = e.op('ConstantOfShape', [size1d], { value: f32Tensor('', [0], [1]) });
    if (c.opset >= 16 && m.some((v) => v > 1)) {
      // Opset 16 has ScatterElements reduction='add': one scatter-add over all windows.
      const gi = e.op('Reshape', [g, e.i64([-1])]);
      const ii = e.op('Reshape', [idx, e.i64([-1])]);
      return [e.reshapeLike(e.op('ScatterElements', [zeros, ii, gi], { axis: 0, reduction: 'add' }), x)];
    }
    const phases: number[][] = [[]];
    for (let i = 0; i < r; i++) {
      const next: number[][] = [];
      for (const p of phases) for (let q = 0; q < m[i]; q++) next.push([...p, q]);
      phases.splice(0, phases.length, ...next);
    }
    const axes = Array.from({ length: r }, (_, i) => i + 2);
    const big = 2 ** 62;
    const parts = phases.map((p) => {
      const sl = (t: string) => (m.every((v) => v === 1) ? t : e.slice(t, p, new Array(r).fill(big), axes, m));
      const gi = e.op('Reshape', [sl(g), e.i64([-1])]);
      const ii = e.op('Reshape', [sl(idx), e.i64([-1])]);
      return e.op('ScatterElements', [zeros, ii, gi], { axis: 0 });
    });
    return [e.reshapeLike(e.sum(parts), x)];
  },

  AveragePool: (c) => {
    const x = c.node.input![0];
    const kernel = c.a.ints('kernel_shape');
    if (!kernel) return c.fail('kernel_shape is missing');
    const geo = windowGeometry(c, x, kernel);
    const r = kernel.length;
    const e = c.e;
    const ceil = c.a.int('ceil_mode', 0) === 1;
    const includePad = c.a.int('count_include_pad', 0) === 1;
    const noPad = geo.pads.every((p) => p === 0);
    const ksz = kernel.reduce((p, q) => p * q, 1);
    let g = g0(c);
    if (!ceil && (includePad || noPad)) {
      g = e.op('Mul', [g, e.scalar(1 / ksz)]);
    } else {
      // Per-window 1/divisor = AveragePool(ones)/(number of real elements in the window): ORT's own divisor
      // (count_include_pad and ceil_mode included), divided by a Conv of ones with zero padding.
      const sp = e.slice(e.shape(x), [2], [2 + r], [0]);
      const onesShape = e.op('Concat', [e.i64([1, 1]), sp], { axis: 0 });
      const ones = e.op('ConstantOfShape', [onesShape], { value: f32Tensor('', [1], [1]) });
      const attrs = Object.fromEntries((c.node.attribute ?? []).map((at) => [at.name ?? '', at]));
      const avg = e.fresh('avg_ones');
      e.nodes.push({ opType: 'AveragePool', domain: '', input: [ones], output: [avg], attribute: Object.values(attrs), name: e.fresh('AveragePool_node') });
      const kOnes = e.f32(new Float32Array(ksz).fill(1), [1, 1, ...kernel], 'ones_kernel');
      const padsConv = geo.pads.map((p, i) => (i >= r && ceil ? p + geo.strides[i - r] - 1 : p));
      let cnt = e.op('Conv', [ones, kOnes], { kernel_shape: kernel, strides: geo.strides, dilations: geo.dilations, pads: padsConv });
      if (ceil) cnt = e.op('Slice', [cnt, e.i64(new Array(r).fill(0)), e.slice(e.shape(avg), [2], [2 + r], [0]), e.i64(Array.from({ length: r }, (_, i) => i + 2))]);
      g = e.op('Mul', [g, e.op('Div', [avg, cnt])]);
    }
    // Adjoint of the window sum, per channel: [N·C, 1, ...] through a ConvTranspose with a ones kernel.
    const g1 = e.op('Reshape', [g, e.i64([-1, 1, ...new Array(r).fill(0)])]);
    const kOnes = e.f32(new Float32Array(ksz).fill(1), [1, 1, ...kernel], 'ones_kernel');
    const dx = convTransposeTo(c, g1, kOnes, geo, x, geo.spatial, 1, ceil);
    return [e.reshapeLike(dx, x)];
  },

  GlobalAveragePool: (c) => {
    const x = c.node.input![0];
    const y = c.node.output![0];
    const xs = c.shapeOf(x);
    const e = c.e;
    let inv: string;
    const sp = xs?.slice(2);
    if (sp && sp.every((d) => typeof d === 'number')) inv = e.scalar(1 / (sp as number[]).reduce((p, q) => p * q, 1));
    else inv = e.op('Div', [e.op('Cast', [e.op('Size', [y])], { to: DT.FLOAT }), e.op('Cast', [e.op('Size', [x])], { to: DT.FLOAT })]);
    return [e.op('Expand', [e.op('Mul', [g0(c), inv]), e.shape(x)])];
  },

  ReduceMean: (c) => reduceRule(c, true),
  ReduceSum: (c) => reduceRule(c, false),

  Transpose: (c) => {
    const perm = c.a.ints('perm');
    if (!perm) return [c.e.op('Transpose', [g0(c)])];
    const inv = new Array(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [c.e.op('Transpose', [g0(c)], { perm: inv })];
  },

  Concat: (c) => {
    const g = g0(c);
    const ins = c.node.input!;
    const e = c.e;
    let axis = c.a.int('axis', 0);
    const shapes = ins.map((n) => c.shapeOf(n));
    const rank = shapes.find((s) => s)?.length;
    if (axis < 0 && rank !== undefined) axis += rank;
    const sizes = shapes.map((s) => (s && axis >= 0 && typeof s[axis] === 'number' ? (s[axis] as number) : null));
    const out: (string | null)[] = [];
    let off = 0;
    let offT: string | null = null; // dynamic offset once a size is unknown
    for (let i = 0; i < ins.length; i++) {
      const size = sizes[i];
      if (c.needs[i]) {
        if (offT === null && size !== null) out.push(e.slice(g, [off], [off + size], [axis]));
        else {
          const sz = e.op('Reshape', [e.op('Gather', [e.shape(ins[i]), e.i64([axis], [])], { axis: 0 }), e.i64([1])]);
          const start = offT ?? e.i64([off]);
          out.push(e.op('Slice', [g, start, e.op('Add', [start, sz]), e.i64([axis])]));
        }
      } else out.push(null);
      if (offT === null && size !== null) off += size;
      else {
        const sz = e.op('Reshape', [e.op('Gather', [e.shape(ins[i]), e.i64([axis], [])], { axis: 0 }), e.i64([1])]);
        offT = e.op('Add', [offT ?? e.i64([off]), sz]);
      }
    }
    return out;
  },

  Split: (c) => {
    noGradFor(c, 1, 'split sizes');
    const e = c.e;
    const axis = c.a.int('axis', 0);
    const parts = c.node.output!.map((y, i) => c.gy[i] ?? e.op('ConstantOfShape', [e.shape(y)], { value: f32Tensor('', [0], [1]) }));
    return [e.op('Concat', parts, { axis })];
  },

  Gemm: (c) => {
    const g = g0(c);
    const [A, B, C] = c.node.input!;
    const e = c.e;
    const tA = c.a.int('transA', 0) === 1;
    const tB = c.a.int('transB', 0) === 1;
    const alpha = c.a.float('alpha', 1);
    const beta = c.a.float('beta', 1);
    const al = alpha === 1 ? undefined : { f: alpha };
    const gA = !c.needs[0] ? null : !tA ? e.op('Gemm', [g, B], { transB: tB ? undefined : 1, alpha: al }) : e.op('Gemm', [B, g], { transA: tB ? 1 : undefined, transB: 1, alpha: al });
    const gB = !c.needs[1] ? null : !tB ? e.op('Gemm', [A, g], { transA: tA ? undefined : 1, alpha: al }) : e.op('Gemm', [g, A], { transA: 1, transB: tA ? 1 : undefined, alpha: al });
    let gC: string | null = null;
    if (C && c.needs[2]) gC = unbroadcast(c, beta === 1 ? g : e.op('Mul', [g, e.scalar(beta)]), C, c.node.output![0]);
    return [gA, gB, gC];
  },

  MatMul: (c) => {
    const g = g0(c);
    const [A, B] = c.node.input!;
    const y = c.node.output![0];
    const e = c.e;
    const sa = c.shapeOf(A);
    const sb = c.shapeOf(B);
    if (!sa || !sb) return c.fail('operand ranks are not known statically');
    if (sa.length < 2 || sb.length < 2) return c.fail('1-D operands are not supported');
    if (sa.length === 2 && sb.length === 2) {
      return [c.needs[0] ? e.op('Gemm', [g, B], { transB: 1 }) : null, c.needs[1] ? e.op('Gemm', [A, g], { transA: 1 }) : null];
    }
    const swap = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
    const gA = c.needs[0] ? unbroadcast(c, e.op('MatMul', [g, e.op('Transpose', [B], { perm: swap(sb.length) })]), A, y) : null;
    const gB = c.needs[1] ? unbroadcast(c, e.op('MatMul', [e.op('Transpose', [A], { perm: swap(sa.length) }), g]), B, y) : null;
    return [gA, gB];
  },

  Softmax: (c) => {
    if (c.opset < 13) return c.fail('Softmax before opset 13 (2-D coercion) is not supported');
    const y = c.node.output![0];
    const axis = c.a.int('axis', -1);
    const e = c.e;
    const g = g0(c);
    const s = e.reduceSum(e.op('Mul', [g, y]), [axis], true);
    return [e.op('Mul', [y, e.op('Sub', [g, s])])];
  },

  Pad: (c) => {
    noGradFor(c, 1, 'pads/value');
    const mode = c.a.str('mode', 'constant');
    if (mode !== 'constant') return c.fail(`mode '${mode}' is not supported (constant only)`);
    const x = c.node.input![0];
    const e = c.e;
    const pads = c.a.ints('pads') ?? (c.node.input![1] ? c.constOf(c.node.input![1])?.values : undefined);
    if (!pads) return c.fail('pads are not constant');
    if (c.node.input![3]) return c.fail('the axes input is not supported');
    if (pads.some((p) => p < 0)) return c.fail('negative pads are not supported');
    const r = pads.length / 2;
    const starts = e.i64(pads.slice(0, r));
    const ends = e.op('Add', [e.shape(x), starts]);
    return [e.op('Slice', [g0(c), starts, ends, e.i64(Array.from({ length: r }, (_, i) => i))])];
  },
};

/**
 * dX of a strided 2-D Conv as one stride-1 Conv plus DepthToSpace (CRD). Input position i = q·s + φ receives
 * Σ_k w[k]·g[q + t], t = (φ + pad_begin − k·d)/s over the taps k where that is an integer; for every phase φ the
 * taps are laid out on a common window [T_min, T_max] (zeros elsewhere), one output channel block per phase.
 * Returns undefined where it does not apply (non-2-D, unequal strides, unknown sizes), and the caller falls back to
 * ConvTranspose.
 */
function polyphaseConvBackward(c: RuleCtx, g: string, wt: TensorProto, geo: Geometry & { spatial: (number | null)[] }, group: number): string | undefined {
  const r = geo.kernel.length;
  if (r !== 2 || geo.strides[0] !== geo.strides[1]) return undefined;
  const s = geo.strides[0];
  const X = geo.spatial;
  if (X.some((v) => v === null)) return undefined;
  const wv = float32Of(wt);
  const wd = (wt.dims ?? []).map(num);
  if (!wv || wd.length !== 4) return undefined;
  const [M, Cg, KH, KW] = wd;
  const axis = (a: number) => {
    const K = geo.kernel[a];
    const d = geo.dilations[a];
    const pb = geo.pads[a];
    const O = outSize(X[a], K, s, d, pb, geo.pads[a + r], false) as number;
    // tap[φ][k] = t, or null when k does not reach phase φ.
    const taps: (number | null)[][] = [];
    let tMin = Infinity;
    let tMax = -Infinity;
    for (let phi = 0; phi < s; phi++) {
      const row: (number | null)[] = [];
      for (let k = 0; k < K; k++) {
        const num_ = phi + pb - k * d;
        if (((num_ % s) + s) % s === 0) {
          const t = num_ / s;
          row.push(t);
          tMin = Math.min(tMin, t);
          tMax = Math.max(tMax, t);
        } else row.push(null);
      }
      taps.push(row);
    }
    const L = tMax - tMin + 1;
    const Q = Math.ceil((X[a] as number) / s);
    const padB = -tMin;
    const padE = Q - O - padB + L - 1;
    return { taps, tMin, L, Q, padB, padE, ok: Number.isFinite(L) && padB >= 0 && padE >= 0 };
  };
  const ah = axis(0);
  const aw = axis(1);
  if (!ah.ok || !aw.ok) return undefined;
  const Mg = M / group;
  const C = Cg * group;
  const s2 = s * s;
  const out = new Float32Array(C * s2 * Mg * ah.L * aw.L);
  // W'[(c·s² + φh·s + φw), m, jh, jw] = W[j·Mg + m, c_local, kh, kw] where t(φh, kh) = tMin_h + jh, same for w.
  for (let j = 0; j < group; j++)
    for (let cl = 0; cl < Cg; cl++)
      for (let m = 0; m < Mg; m++)
        for (let ph = 0; ph < s; ph++)
          for (let pw = 0; pw < s; pw++) {
            const oc = (j * Cg + cl) * s2 + ph * s + pw;
            for (let kh = 0; kh < KH; kh++) {
              const th = ah.taps[ph][kh];
              if (th === null) continue;
              for (let kw = 0; kw < KW; kw++) {
                const tw = aw.taps[pw][kw];
                if (tw === null) continue;
                const jh = th - ah.tMin;
                const jw = tw - aw.tMin;
                out[((oc * Mg + m) * ah.L + jh) * aw.L + jw] = wv[(((j * Mg + m) * Cg + cl) * KH + kh) * KW + kw];
              }
            }
          }
  const e = c.e;
  const wName = e.f32(out, [C * s2, Mg, ah.L, aw.L], 'conv_polyphase_w');
  const y = e.op('Conv', [g, wName], { kernel_shape: [ah.L, aw.L], pads: [ah.padB, aw.padB, ah.padE, aw.padE], group: group === 1 ? undefined : group });
  let dx = e.op('DepthToSpace', [y], { blocksize: s, mode: 'CRD' });
  const Xh = X[0] as number;
  const Xw = X[1] as number;
  if (ah.Q * s !== Xh || aw.Q * s !== Xw) dx = e.slice(dx, [0, 0], [Xh, Xw], [2, 3]);
  return dx;
}

function reduceRule(c: RuleCtx, mean: boolean): (string | null)[] {
  noGradFor(c, 1, 'axes');
  const x = c.node.input![0];
  const y = c.node.output![0];
  const e = c.e;
  const keep = c.a.int('keepdims', 1) === 1;
  let axes = c.a.ints('axes');
  const axesInput = c.node.input![1];
  if (!axes && axesInput) {
    const v = c.constOf(axesInput);
    if (!v) return c.fail('axes are not constant');
    axes = v.values;
  }
  if ((!axes || axes.length === 0) && c.a.int('noop_with_empty_axes', 0) === 1) return [g0(c)];
  let g = g0(c);
  if (!keep && axes && axes.length > 0) g = e.unsqueeze(g, axes);
  if (mean) {
    const xs = c.shapeOf(x);
    const ys = c.shapeOf(y);
    const px = xs?.every((d) => typeof d === 'number') ? (xs as number[]).reduce((p, q) => p * q, 1) : null;
    const py = ys?.every((d) => typeof d === 'number') ? (ys as number[]).reduce((p, q) => p * q, 1) : null;
    let inv: string;
    if (px !== null && py !== null) inv = e.scalar(py / px);
    else if (xs && axes && axes.length > 0 && axes.every((a) => typeof xs[a < 0 ? a + xs.length : a] === 'number'))
      inv = e.scalar(1 / axes.reduce((p, a) => p * (xs[a < 0 ? a + xs.length : a] as number), 1));
    else inv = e.op('Div', [e.op('Cast', [e.op('Size', [y])], { to: DT.FLOAT }), e.op('Cast', [e.op('Size', [x])], { to: DT.FLOAT })]);
    g = e.op('Mul', [g, inv]);
  }
  return [e.op('Expand', [g, e.shape(x)])];
}
