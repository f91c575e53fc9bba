// Rule-level tests of the backward-graph generator: each op's generated gradient (w.r.t. the graph input) equals
// central finite differences of the forward model. Inputs keep away from kinks (ReLU at 0, clip bounds, max-pool
// ties) by more than the step, so piecewise-linear ops are checked exactly up to float32 rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, encodeModel, tensorProto } from '../../src/model/onnx/builder.ts';
import { buildGradientGraph, NoGradientRuleError, GradientGraphError, type RuleOptions } from '../../src/model/onnx/backward/index.ts';
import { rng } from '../../src/model/testing/nets.ts';

type Build = (g: GraphBuilder, x: string) => string;

interface Case {
  shape: number[];
  /** Symbolic dims for the declared input shape (e.g. [null, 3, null, null]); default: batch symbolic. */
  declared?: (number | null)[];
  build: Build;
  opset?: number;
  /** Input values: 'signed' (|x| ∈ [0.2, 1.2]), 'distinct' (all values ≥ 0.1 apart), or a custom function. */
  values?: 'signed' | 'distinct' | ((i: number, r: () => number) => number);
  h?: number;
  rules?: Partial<RuleOptions>;
  /** Perturb one element per forward run (for graphs that mix the batch, or whose logits rows are not samples). */
  serial?: boolean;
}

function makeValues(n: number, kind: Case['values'], seed: number): Float32Array {
  const r = rng(seed);
  const v = new Float32Array(n);
  if (kind === 'distinct') {
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    for (let i = 0; i < n; i++) v[i] = (perm[i] - n / 2) * 0.11;
  } else if (typeof kind === 'function') for (let i = 0; i < n; i++) v[i] = kind(i, r);
  else for (let i = 0; i < n; i++) v[i] = (r() < 0.5 ? -1 : 1) * (0.2 + r());
  return v;
}

/** Builds x → op(s) → Flatten → logits, returns max |analytic − finite difference| and the gradient scale. */
async function check(name: string, c: Case): Promise<void> {
  const g = new GraphBuilder(name, c.opset ?? 13);
  const declared = c.declared ?? [null, ...c.shape.slice(1)];
  const x = g.input('x', declared);
  const layerName = x;
  const y = c.build(g, x);
  const logits = g.flatten(y, 1, 'logits');
  g.output(logits);
  const model = g.build();
  const gg = buildGradientGraph(model, { layer: layerName, logits, rules: c.rules });
  const sess = await ort.InferenceSession.create(encodeModel(gg.model));
  const fwd = await ort.InferenceSession.create(encodeModel(model));
  const size = c.shape.reduce((a, b) => a * b, 1);
  const xv = makeValues(size, c.values ?? 'signed', 17);
  // Output shape from one forward: logits [rows, K].
  const out0 = (await fwd.run({ x: new ort.Tensor('float32', xv, c.shape) }))[logits];
  const [R, K] = out0.dims as number[];
  const w = makeValues(R * K, 'signed', 23);
  const r = await sess.run({ [gg.inputs.image]: new ort.Tensor('float32', xv, c.shape), [gg.inputs.weights]: new ort.Tensor('float32', w, [R, K]) });
  assert.deepEqual(Array.from(r[gg.outputs.logits].data as Float32Array), Array.from(out0.data as Float32Array), `${name}: logits equal the forward`);
  const grad = r[gg.outputs.gradients];
  const act = r[gg.outputs.activations];
  assert.deepEqual(grad.dims, act.dims, `${name}: gradient shape = layer shape`);
  const gd = grad.data as Float32Array;
  const h = c.h ?? 0.03;
  const fds = new Float64Array(size);
  const dot = (out: Float32Array, off: number) => {
    let s = 0;
    for (let i = 0; i < R * K; i++) s += w[i] * out[off + i];
    return s;
  };
  if (c.serial) {
    for (let j = 0; j < size; j++) {
      const f = async (d: number) => {
        const xi = xv.slice();
        xi[j] += d;
        return dot((await fwd.run({ x: new ort.Tensor('float32', xi, c.shape) }))[logits].data as Float32Array, 0);
      };
      fds[j] = ((await f(h)) - (await f(-h))) / (2 * h);
    }
  } else {
    // Samples are independent: all perturbed copies of one sample in one batch (rows = sample n, element j, ±h).
    const N = c.shape[0];
    assert.equal(R, N, `${name}: one logits row per sample`);
    const per = size / N;
    const big = new Float32Array(size * 2 * per);
    let row = 0;
    for (let n = 0; n < N; n++)
      for (let j = 0; j < per; j++)
        for (const d of [h, -h]) {
          const xi = xv.slice(n * per, (n + 1) * per);
          xi[j] += d;
          big.set(xi, row++ * per);
        }
    const outs = (await fwd.run({ x: new ort.Tensor('float32', big, [row, ...c.shape.slice(1)]) }))[logits].data as Float32Array;
    for (let n = 0; n < N; n++)
      for (let j = 0; j < per; j++) {
        const i = (n * per + j) * 2;
        let fp = 0;
        let fm = 0;
        for (let k = 0; k < K; k++) {
          fp += w[n * K + k] * outs[i * K + k];
          fm += w[n * K + k] * outs[(i + 1) * K + k];
        }
        fds[n * per + j] = (fp - fm) / (2 * h);
      }
  }
  let maxDiff = 0;
  let maxG = 0;
  for (let j = 0; j < size; j++) {
    maxDiff = Math.max(maxDiff, Math.abs(fds[j] - gd[j]));
    maxG = Math.max(maxG, Math.abs(gd[j]));
  }
  await sess.release();
  await fwd.release();
  assert.ok(maxG > 0, `${name}: gradient is not all zero`);
  assert.ok(maxDiff <= 2e-3 * Math.max(1, maxG), `${name}: max |analytic − finite difference| = ${maxDiff} (max |grad| ${maxG})`);
}

const rand = (seed: number, n: number, scale = 0.5): Float32Array => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
};

function conv(g: GraphBuilder, x: string, cin: number, cout: number, k: [number, number], o: { strides?: [number, number]; pads?: [number, number, number, number]; dilations?: [number, number]; group?: number } = {}, bias = true): string {
  const w = g.initializer(g.fresh('w'), rand(cout * k[0] + cin, (cout * cin * k[0] * k[1]) / (o.group ?? 1)), [cout, cin / (o.group ?? 1), ...k]);
  const b = bias ? g.initializer(g.fresh('b'), rand(cout + 99, cout), [cout]) : undefined;
  return g.conv(x, w, b, o);
}

// --- Conv -----------------------------------------------------------------------------------------------------
for (const rules of [{ conv1Backward: 'conv' as const }, { conv1Backward: 'transpose' as const }]) {
  test(`Conv stride 1, pads, bias (${rules.conv1Backward})`, () => check('conv1', { shape: [2, 3, 5, 6], rules, build: (g, x) => conv(g, x, 3, 4, [3, 3], { pads: [1, 1, 1, 1] }) }));
  test(`Conv stride 1, asymmetric pads, dilation 2, group 2 (${rules.conv1Backward})`, () =>
    check('conv_dil', { shape: [1, 4, 7, 6], rules, build: (g, x) => conv(g, x, 4, 6, [3, 2], { pads: [2, 0, 1, 1], dilations: [2, 1], group: 2 }) }));
  test(`Conv depthwise 3×3 (${rules.conv1Backward})`, () => check('conv_dw', { shape: [2, 4, 5, 5], rules, build: (g, x) => conv(g, x, 4, 4, [3, 3], { pads: [1, 1, 1, 1], group: 4 }) }));
}
for (const stridedBackward of ['polyphase', 'transpose'] as const) {
  test(`Conv stride 2/3, odd and even sizes, groups, dilation (${stridedBackward})`, async () => {
    const rules = { stridedBackward };
    await check('conv_s2_odd', { shape: [1, 3, 7, 7], rules, build: (g, x) => conv(g, x, 3, 4, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }) });
    await check('conv_s2_even', { shape: [1, 3, 8, 6], rules, build: (g, x) => conv(g, x, 3, 4, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }) });
    await check('conv_s2_7x7', { shape: [1, 3, 12, 11], rules, build: (g, x) => conv(g, x, 3, 2, [7, 7], { strides: [2, 2], pads: [3, 3, 3, 3] }) });
    await check('conv_s3_1x1', { shape: [1, 3, 8, 7], rules, build: (g, x) => conv(g, x, 3, 2, [1, 1], { strides: [3, 3] }, false) });
    await check('conv_s32_1x1', { shape: [1, 3, 8, 7], rules, build: (g, x) => conv(g, x, 3, 2, [1, 1], { strides: [3, 2] }, false) });
    await check('conv_s2_grp_dil', { shape: [2, 2, 9, 8], rules, build: (g, x) => conv(g, x, 2, 4, [3, 3], { strides: [2, 2], pads: [0, 2, 1, 0], dilations: [2, 2], group: 2 }) });
    await check('conv_s2_dw', { shape: [2, 4, 6, 6], rules, build: (g, x) => conv(g, x, 4, 4, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], group: 4 }) });
  });
}
test('strided Conv backward: ConvTranspose by default, polyphase Conv + DepthToSpace on request', () => {
  const mk = () => {
    const g = new GraphBuilder('s2', 13);
    const x = g.input('x', [null, 3, 8, 8]);
    g.output(g.flatten(conv(g, x, 3, 4, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }), 1, 'logits'));
    return g.build();
  };
  const ops = (rules?: Partial<RuleOptions>) => buildGradientGraph(mk(), { layer: 'x', logits: 'logits', rules }).model.graph!.node!.map((n) => n.opType);
  assert.ok(ops().includes('ConvTranspose') && !ops().includes('DepthToSpace'));
  const poly = ops({ stridedBackward: 'polyphase' });
  assert.ok(poly.includes('DepthToSpace') && !poly.includes('ConvTranspose'));
});
test('Conv stride 2 with unknown spatial size (dynamic Slice)', () =>
  check('conv_dyn', { shape: [1, 3, 7, 8], declared: [null, 3, null, null], build: (g, x) => conv(g, x, 3, 4, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }) }));
test('Conv with auto_pad SAME_UPPER', () =>
  check('conv_same', {
    shape: [1, 2, 7, 6],
    build: (g, x) => {
      const w = g.initializer('w', rand(5, 3 * 2 * 9), [3, 2, 3, 3]);
      return g.node('Conv', [x, w], 1, { auto_pad: 'SAME_UPPER', strides: [2, 2], kernel_shape: [3, 3] })[0];
    },
  }));

// --- Normalisation and activations -------------------------------------------------------------------------------
test('BatchNormalization (inference)', () =>
  check('bn', {
    shape: [2, 3, 3, 3],
    build: (g, x) => {
      const p = (s: number, off = 0) => g.initializer(g.fresh('bn'), Float32Array.from(rand(s, 3), (v) => v + off), [3]);
      return g.batchNorm(x, p(1, 1), p(2), p(3), p(4, 1.2), 1e-3);
    },
  }));
test('Relu and LeakyRelu', async () => {
  await check('relu', { shape: [2, 3, 4], build: (g, x) => g.relu(x) });
  await check('leaky', { shape: [2, 3, 4], build: (g, x) => g.node('LeakyRelu', [x], 1, { alpha: { float: 0.1 } })[0] });
  await check('leaky_neg', { shape: [2, 3, 4], build: (g, x) => g.node('LeakyRelu', [x], 1, { alpha: { float: -0.3 } })[0] });
});
test('Clip: min/max inputs (opset 13), min only, opset 11', async () => {
  const away = (i: number, r: () => number) => [-1.1, -0.65, -0.3, 0.3, 0.65, 1.1, 0.15, -0.15][i % 8] + (r() - 0.5) * 0.05;
  await check('clip', { shape: [2, 12], values: away, build: (g, x) => g.clip(x, -0.5, 0.8) });
  await check('clip_min', { shape: [2, 12], values: away, build: (g, x) => g.clip(x, 0, undefined) });
  await check('clip_11', { shape: [2, 12], values: away, opset: 11, build: (g, x) => g.clip(x, -0.5, 0.8) });
});
test('Sigmoid, Tanh, HardSigmoid, HardSwish', async () => {
  await check('sigmoid', { shape: [2, 5], h: 1e-2, build: (g, x) => g.sigmoid(x) });
  await check('tanh', { shape: [2, 5], h: 1e-2, build: (g, x) => g.node('Tanh', [x])[0] });
  await check('hardsigmoid', { shape: [2, 8], values: (i) => [-4, -1, 0.5, 2, 4, -2.2, 1.4, 3][i % 8] + i * 0.01, build: (g, x) => g.node('HardSigmoid', [x], 1, { alpha: { float: 0.25 }, beta: { float: 0.4 } })[0] });
  await check('hardswish', { shape: [2, 8], values: (i) => [-4, -1, 0.5, 2, 4, -2.2, 1.4, 3.5][i % 8] + i * 0.01, opset: 14, build: (g, x) => g.node('HardSwish', [x])[0] });
});

// --- Elementwise arithmetic with broadcasting ----------------------------------------------------------------------
test('Add/Sub/Mul/Div with constants (broadcast)', async () => {
  const c3 = (g: GraphBuilder) => g.initializer(g.fresh('c'), Float32Array.from([0.7, -1.3, 2.1]), [3, 1, 1]);
  await check('add_c', { shape: [2, 3, 2, 2], build: (g, x) => g.add(x, c3(g)) });
  await check('sub_c', { shape: [2, 3, 2, 2], build: (g, x) => g.node('Sub', [c3(g), x])[0] });
  await check('mul_c', { shape: [2, 3, 2, 2], build: (g, x) => g.mul(c3(g), x) });
  await check('div_c', { shape: [2, 3, 2, 2], build: (g, x) => g.node('Div', [x, c3(g)])[0] });
  await check('div_by_x', { shape: [2, 3, 2, 2], h: 1e-2, build: (g, x) => g.node('Div', [c3(g), x])[0] });
});
test('Mul/Div/Sub where both operands depend on the input, one broadcast (SE-style gating)', async () => {
  await check('se_mul', { shape: [2, 3, 3, 3], h: 1e-2, build: (g, x) => g.mul(x, g.sigmoid(g.globalAveragePool(x))) });
  await check('se_div', {
    shape: [2, 3, 3, 3],
    h: 1e-2,
    build: (g, x) => g.node('Div', [x, g.add(g.sigmoid(g.globalAveragePool(x)), g.scalar('one', 1))])[0],
  });
  await check('sub_rank', {
    shape: [2, 3, 2, 2],
    serial: true,
    h: 1e-2,
    build: (g, x) => g.node('Sub', [g.node('ReduceMean', [x], 1, { axes: [0], keepdims: 0 })[0], g.mul(x, x)])[0],
  });
});
test('fan-out: a tensor used by several nodes sums its gradients (residual)', () =>
  check('fanout', { shape: [2, 2, 4, 4], build: (g, x) => g.add(g.relu(conv(g, x, 2, 2, [3, 3], { pads: [1, 1, 1, 1] })), g.mul(x, x)) }));

// --- Pooling and reductions ------------------------------------------------------------------------------------------
test('MaxPool at opset 16+ (ScatterElements reduction=add): overlapping windows, ceil_mode', async () => {
  await check('maxpool3_17', { shape: [2, 2, 7, 7], opset: 17, values: 'distinct', build: (g, x) => g.maxPool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) });
  await check('maxpool_ceil_16', { shape: [1, 2, 7, 6], opset: 16, values: 'distinct', build: (g, x) => g.maxPool(x, { kernel: [3, 2], strides: [2, 2], ceilMode: true }) });
  await check('maxpool_s1_17', { shape: [1, 2, 5, 5], opset: 17, values: 'distinct', build: (g, x) => g.maxPool(x, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }) });
});
test('MaxPool: overlapping 3×3/2 padded, 2×2/2, ceil_mode, dilation', async () => {
  await check('maxpool3', { shape: [2, 2, 7, 7], values: 'distinct', build: (g, x) => g.maxPool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) });
  await check('maxpool2', { shape: [2, 2, 4, 6], values: 'distinct', build: (g, x) => g.maxPool(x, { kernel: [2, 2], strides: [2, 2] }) });
  await check('maxpool_ceil', { shape: [1, 2, 7, 6], values: 'distinct', build: (g, x) => g.maxPool(x, { kernel: [3, 2], strides: [2, 2], ceilMode: true }) });
  await check('maxpool_s1', { shape: [1, 2, 5, 5], values: 'distinct', build: (g, x) => g.maxPool(x, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }) });
  await check('maxpool_dil', { shape: [1, 1, 7, 7], values: 'distinct', build: (g, x) => g.node('MaxPool', [x], 1, { kernel_shape: [2, 2], strides: [1, 2], dilations: [2, 2] })[0] });
});
test('AveragePool: count_include_pad 0/1, no pad, ceil_mode', async () => {
  await check('avg_nopad', { shape: [2, 2, 4, 6], build: (g, x) => g.averagePool(x, { kernel: [2, 2], strides: [2, 2] }) });
  await check('avg_pad_incl', { shape: [1, 2, 5, 5], build: (g, x) => g.averagePool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: true }) });
  await check('avg_pad_excl', { shape: [1, 2, 5, 5], build: (g, x) => g.averagePool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) });
  await check('avg_ceil', { shape: [1, 2, 7, 6], build: (g, x) => g.averagePool(x, { kernel: [3, 3], strides: [2, 2], ceilMode: true }) });
  await check('avg_ceil_pad_incl', { shape: [1, 2, 6, 7], build: (g, x) => g.averagePool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 0, 1, 1], ceilMode: true, countIncludePad: true }) });
  await check('avg_dyn', { shape: [1, 2, 5, 5], declared: [null, 2, null, null], build: (g, x) => g.averagePool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) });
});
test('GlobalAveragePool (static and dynamic spatial size)', async () => {
  await check('gap', { shape: [2, 3, 3, 4], build: (g, x) => g.globalAveragePool(x) });
  await check('gap_dyn', { shape: [2, 3, 3, 4], declared: [null, 3, null, null], build: (g, x) => g.globalAveragePool(x) });
});
test('ReduceMean / ReduceSum: axes attribute (opset 13) and input (opset 18), keepdims 0/1', async () => {
  await check('rmean_keep', { shape: [2, 3, 2, 2], build: (g, x) => g.node('ReduceMean', [x], 1, { axes: [2, 3], keepdims: 1 })[0] });
  await check('rmean_nokeep', { shape: [2, 3, 2, 2], build: (g, x) => g.node('ReduceMean', [x], 1, { axes: [-1, 2], keepdims: 0 })[0] });
  await check('rmean_18', { shape: [2, 3, 2, 2], opset: 18, build: (g, x) => g.node('ReduceMean', [x, g.int64('axes', [1])], 1, { keepdims: 0 })[0] });
  await check('rsum_13', { shape: [2, 3, 2, 2], build: (g, x) => g.node('ReduceSum', [x, g.int64('axes', [3])], 1, { keepdims: 1 })[0] });
  await check('rmean_dyn', { shape: [2, 3, 2, 2], declared: [null, 3, null, null], build: (g, x) => g.node('ReduceMean', [x], 1, { axes: [2, 3], keepdims: 1 })[0] });
});

// --- Shape ops -----------------------------------------------------------------------------------------------------
test('Flatten, Reshape, Transpose, Identity, Dropout, Squeeze/Unsqueeze', async () => {
  await check('reshape', { shape: [2, 3, 2, 2], build: (g, x) => g.reshape(x, [0, 2, -1]) });
  await check('transpose', { shape: [2, 3, 2, 4], build: (g, x) => g.transpose(x, [0, 3, 1, 2]) });
  await check('identity_dropout', { shape: [2, 3, 2], build: (g, x) => g.node('Dropout', [g.identity(x)], 1)[0] });
  await check('unsqueeze', { shape: [2, 3], build: (g, x) => g.node('Squeeze', [g.node('Unsqueeze', [x, g.int64('ax', [1])])[0], g.int64('ax2', [1])])[0] });
});
test('Reshape whose shape is computed from the activation (PyTorch x.view(x.size(0), -1))', () =>
  check('view', {
    shape: [2, 3, 2, 2],
    build: (g, x) => {
      const y = g.relu(x);
      const n = g.node('Gather', [g.node('Shape', [y])[0], g.initializer('zero', BigInt64Array.from([0n]), [])], 1, { axis: 0 })[0];
      const shp = g.concat([g.node('Unsqueeze', [n, g.int64('ax0', [0])])[0], g.int64('minus1', [-1])], 0);
      return g.node('Reshape', [g.mul(y, y), shp])[0];
    },
  }));
test('Concat (with a constant operand) and Split (one output unused, split as input)', async () => {
  await check('concat', {
    shape: [2, 2, 3],
    serial: true,
    build: (g, x) => g.concat([g.relu(x), g.initializer('k', rand(3, 2 * 1 * 3), [2, 1, 3]), x], 1),
  });
  await check('concat_dyn', { shape: [2, 2, 3], declared: [null, null, 3], build: (g, x) => g.concat([x, g.mul(x, x)], -1) });
  await check('split', {
    shape: [2, 5, 2],
    build: (g, x) => {
      const [a, , c] = g.node('Split', [x, g.int64('split', [2, 1, 2])], 3, { axis: 1 });
      return g.add(g.mul(a, a), c);
    },
  });
});
test('Gemm: transA/transB/alpha/beta, input as A or B; bias depending on the input', async () => {
  for (const transA of [false, true])
    for (const transB of [false, true]) {
      await check(`gemm_A_${transA}_${transB}`, {
        shape: transA ? [3, 4] : [4, 3],
        h: 1e-2,
        serial: true,
        build: (g, x) => {
          // x is A: [M,K] (or [K,M] transposed); B constant [K,N] (or [N,K]).
          const B = g.initializer(g.fresh('B'), rand(7, 3 * 5), transB ? [5, 3] : [3, 5]);
          const C = g.initializer(g.fresh('C'), rand(8, 5), [5]);
          return g.gemm(x, B, C, { transA, transB, alpha: 0.7, beta: 1.5 });
        },
      });
      await check(`gemm_B_${transA}_${transB}`, {
        shape: transB ? [2, 3] : [3, 2],
        h: 1e-2,
        serial: true,
        build: (g, x) => {
          const A = g.initializer(g.fresh('A'), rand(9, 4 * 3), transA ? [3, 4] : [4, 3]);
          return g.gemm(A, x, undefined, { transA, transB, alpha: 1.3 });
        },
      });
    }
  await check('gemm_C', { shape: [2, 3], h: 1e-2, serial: true, build: (g, x) => g.gemm(g.initializer('A2', rand(10, 2 * 4), [2, 4]), g.initializer('B2', rand(11, 4 * 3), [4, 3]), g.mul(x, x), { beta: 0.5 }) });
});
test('MatMul: 2-D, batched 3-D with a broadcast 2-D operand, both operands from the input', async () => {
  await check('matmul2', { shape: [2, 4], h: 1e-2, build: (g, x) => g.matMul(x, g.initializer('B', rand(12, 4 * 3), [4, 3])) });
  await check('matmul3', { shape: [2, 3, 4], h: 1e-2, build: (g, x) => g.matMul(x, g.initializer('B', rand(13, 4 * 2), [4, 2])) });
  await check('matmul_xx', { shape: [2, 3, 3], h: 1e-2, build: (g, x) => g.matMul(x, g.transpose(x, [0, 2, 1])) });
});
test('Softmax and Pad (extra rules)', async () => {
  await check('softmax', { shape: [2, 5], h: 1e-2, build: (g, x) => g.softmax(x, 1) });
  await check('pad', { shape: [1, 2, 3, 3], build: (g, x) => g.node('Pad', [x, g.int64('pads', [0, 0, 1, 2, 0, 0, 2, 0])], 1, { mode: 'constant' })[0] });
});

test('PyTorch-export-like MobileNetV3 block at opset 17: Constant nodes, HardSwish, SE gate, Dropout, Gemm', () =>
  check('mnv3', {
    shape: [2, 4, 6, 6],
    opset: 17,
    h: 1e-2,
    serial: false,
    build: (g, x) => {
      const cst = (name: string, v: number) => g.node('Constant', [], [name], { value: tensorProto('', [v], []) })[0];
      let y = conv(g, x, 4, 8, [1, 1]);
      y = g.node('HardSwish', [y], ['/features/hs/HardSwish_output_0'])[0];
      y = conv(g, y, 8, 8, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], group: 8 });
      y = g.clip(g.relu(y), undefined, undefined);
      // Squeeze-and-excitation: GAP → 1×1 conv → ReLU → 1×1 conv → HardSigmoid → Mul.
      const s1 = g.relu(conv(g, g.globalAveragePool(y), 8, 4, [1, 1]));
      const gate = g.node('HardSigmoid', [conv(g, s1, 4, 8, [1, 1])], 1, { alpha: { float: 1 / 6 }, beta: { float: 0.5 } })[0];
      y = g.mul(y, gate);
      const six = cst('/Constant_output_0', 6);
      const zero = cst('/Constant_1_output_0', 0);
      y = g.node('Clip', [g.node('Add', [y, cst('/Constant_2_output_0', 0.25)])[0], zero, six])[0];
      const f = g.flatten(g.globalAveragePool(y), 1);
      const d = g.node('Dropout', [f, cst('/ratio', 0.2)], 1)[0];
      return g.gemm(d, g.initializer('fc.weight', rand(77, 5 * 8), [5, 8]), g.initializer('fc.bias', rand(78, 5), [5]), { transB: true });
    },
  }));

// --- Graph-level behaviour -----------------------------------------------------------------------------------------
test('gradient at an intermediate layer, forward pruned past the logits, opset 17', async () => {
  const g = new GraphBuilder('mid', 17);
  const x = g.input('x', [null, 2, 4, 4]);
  const a = g.relu(conv(g, x, 2, 3, [3, 3], { pads: [1, 1, 1, 1] }), 'act');
  const logits = g.flatten(g.globalAveragePool(conv(g, a, 3, 4, [1, 1])), 1, 'logits');
  const probs = g.softmax(logits, 1, 'probs');
  g.output(probs);
  const model = g.build();
  const gg = buildGradientGraph(model, { layer: 'act', logits: 'logits' });
  assert.ok(!gg.model.graph!.node!.some((n) => n.opType === 'Softmax'), 'nodes after the logits are pruned');
  assert.equal(gg.outputs.activations, 'act');
  assert.equal(gg.outputs.logits, 'logits');
  const sess = await ort.InferenceSession.create(encodeModel(gg.model));
  const xv = makeValues(2 * 2 * 16, 'signed', 3);
  const w = Float32Array.from([1, 0, 0, 0, 0, 0, 1, 0]);
  const r = await sess.run({ x: new ort.Tensor('float32', xv, [2, 2, 4, 4]), [gg.inputs.weights]: new ort.Tensor('float32', w, [2, 4]) });
  const gd = r[gg.outputs.gradients].data as Float32Array;
  // d logit / d act = W2[c, :] / 16 at every position (1×1 conv then mean).
  const w2 = rand(4 * 1 + 3, (4 * 3 * 1 * 1) / 1);
  for (const [n, cls] of [[0, 0], [1, 2]] as const)
    for (let ch = 0; ch < 3; ch++)
      for (let p = 0; p < 16; p++) assert.ok(Math.abs(gd[(n * 3 + ch) * 16 + p] - w2[cls * 3 + ch] / 16) < 1e-6, `grad n${n} c${ch} p${p}`);
  await sess.release();
});

test('layer = logits: the gradient is the class weights', async () => {
  const g = new GraphBuilder('ll', 13);
  const x = g.input('x', [null, 3]);
  g.output(g.gemm(x, g.initializer('W', rand(1, 12), [4, 3]), undefined, { transB: true }, 'logits'));
  const gg = buildGradientGraph(g.build(), { layer: 'logits', logits: 'logits' });
  const sess = await ort.InferenceSession.create(encodeModel(gg.model));
  const w = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const r = await sess.run({ x: new ort.Tensor('float32', new Float32Array(6), [2, 3]), [gg.inputs.weights]: new ort.Tensor('float32', w, [2, 4]) });
  assert.deepEqual(Array.from(r[gg.outputs.gradients].data as Float32Array), Array.from(w));
  assert.deepEqual(r[gg.outputs.activations].dims, [2, 4]);
  await sess.release();
});

test('an op without a rule on the path → NoGradientRuleError naming op, node and layer', () => {
  const g = new GraphBuilder('err', 13);
  const x = g.input('x', [null, 4]);
  const y = g.node('Floor', [g.relu(x)], ['floored'], {}, 'my_floor_node')[0];
  g.output(g.identity(g.add(y, x), 'logits'));
  const model = g.build();
  assert.throws(
    () => buildGradientGraph(model, { layer: 'x', logits: 'logits' }),
    (e: unknown) => e instanceof NoGradientRuleError && /Floor/.test(e.message) && /my_floor_node/.test(e.message) && /'x'/.test(e.message),
  );
  // An op without a rule that is not on the path is fine: here Floor is upstream of the layer.
  const g2 = new GraphBuilder('ok', 13);
  const x2 = g2.input('x', [null, 4]);
  const f = g2.node('Floor', [x2], ['f'])[0];
  const l = g2.relu(f, 'layer');
  g2.output(g2.identity(g2.mul(l, l), 'logits'));
  assert.doesNotThrow(() => buildGradientGraph(g2.build(), { layer: 'layer', logits: 'logits' }));
  // Bad names.
  assert.throws(() => buildGradientGraph(model, { layer: 'nope', logits: 'logits' }), GradientGraphError);
  assert.throws(() => buildGradientGraph(g2.build(), { layer: 'layer', logits: 'f' }), /do not depend/);
});
