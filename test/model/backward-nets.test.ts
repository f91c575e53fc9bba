// Generated backward graphs on ResNet-/VGG-/MobileNetV2-style nets: gradients at several layers (and the input
// image) equal tfjs autodiff on the same weights (cpu backend; NHWC → NCHW) and agree with finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { buildGradientGraph, buildHeadGraph } from '../../src/model/onnx/backward/index.ts';
import { NETS, randomBatch, type TestNet } from '../../src/model/testing/nets.ts';
import { decodeModel, encodeModel } from '../../src/model/onnx/builder.ts';

const N = 2;

function classWeights(n: number, k: number): Float32Array {
  const w = new Float32Array(n * k);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(1.3 * i + 0.4);
  return w;
}

async function onnxGradient(net: TestNet, layer: string, batch: { data: Float32Array; shape: number[] }, w: Float32Array) {
  // Decoded from bytes, as the product loads models (int64 fields arrive as Long objects).
  const gg = buildGradientGraph(decodeModel(encodeModel(net.model)), { layer, logits: net.outputName });
  const sess = await ort.InferenceSession.create(encodeModel(gg.model));
  const r = await sess.run({
    [gg.inputs.image]: new ort.Tensor('float32', batch.data, batch.shape),
    [gg.inputs.weights]: new ort.Tensor('float32', w, [N, net.numClasses]),
  });
  await sess.release();
  const t = (k: string) => ({ data: r[k].data as Float32Array, dims: r[k].dims as number[] });
  return { act: t(gg.outputs.activations), grad: t(gg.outputs.gradients), logits: t(gg.outputs.logits) };
}

/** tfjs: gradient of Σ w·logits w.r.t. a layer's output, running the layers eagerly with that output substituted. */
async function tfjsGradient(net: TestNet, tfLayer: string | null, batch: { data: Float32Array; shape: number[] }, w: Float32Array) {
  const model = await net.tfjs();
  const [n, c, h, wd] = batch.shape;
  const x = tf.transpose(tf.tensor4d(batch.data, [n, c, h, wd]), [0, 2, 3, 1]);
  const run = (override: tf.Tensor | null): { out: tf.Tensor; at: tf.Tensor | null } => {
    const vals = new Map<string, tf.Tensor>();
    let at: tf.Tensor | null = null;
    for (const layer of model.layers) {
      let y: tf.Tensor;
      if (layer.getClassName() === 'InputLayer') y = x;
      else {
        const ins = (layer.inboundNodes[0].inboundLayers as { name: string }[]).map((l) => vals.get(l.name)!);
        y = layer.apply(ins.length === 1 ? ins[0] : ins) as tf.Tensor;
      }
      if (layer.name === tfLayer) {
        at = y;
        if (override) y = override;
      }
      vals.set(layer.name, y);
    }
    return { out: vals.get(model.layers[model.layers.length - 1].name)!, at };
  };
  const wt = tf.tensor2d(w, [n, net.numClasses]);
  const f = (a: tf.Tensor) => tf.sum(tf.mul(run(tfLayer ? a : null).out, wt));
  const start = tfLayer ? run(null).at! : x;
  const gFn = tfLayer ? tf.grad(f) : tf.grad((xi: tf.Tensor) => {
    const vals = xi;
    return tf.sum(tf.mul(model.apply(vals) as tf.Tensor, wt));
  });
  let g = gFn(start);
  if (g.rank === 4) g = tf.transpose(g, [0, 3, 1, 2]);
  else if (g.rank === 3) g = tf.transpose(tf.expandDims(g, 0), [0, 3, 1, 2]);
  const data = (await g.data()) as Float32Array;
  return { data, shape: g.shape };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

await tf.setBackend('cpu');

const CASES: Record<keyof typeof NETS, string[]> = {
  resnet: ['layer1', 'layer2', 'avgpool', 'logits', 'input'],
  // tfjs has no gradient for its dilated conv (features.5), so layers before it are checked by finite differences.
  vgg: ['block2', 'block3_conv', 'block3', 'fc1', 'logits'],
  mobilenet: ['stem', 'block1', 'b2.dw', 'block2', 'last', 'input'],
};
const FD_CASES: Record<keyof typeof NETS, string[]> = {
  resnet: ['stem', 'layer1', 'layer2', 'avgpool', 'input'],
  vgg: ['block1', 'block2', 'block3_conv', 'fc1', 'input'],
  mobilenet: ['stem', 'block1', 'b2.dw', 'last', 'input'],
};

for (const [kind, aliases] of Object.entries(CASES) as [keyof typeof NETS, string[]][]) {
  for (const fold of [false, true]) {
    test(`${kind}-style net${fold ? ' (BN folded)' : ''}: gradients equal tfjs autodiff`, async () => {
      const net = NETS[kind]({ foldBatchNorm: fold });
      const batch = randomBatch(N, net.input, 11);
      const w = classWeights(N, net.numClasses);
      for (const alias of aliases) {
        const layer = alias === 'input' ? net.inputName : net.layers[alias];
        const o = await onnxGradient(net, layer, batch, w);
        const t = await tfjsGradient(net, alias === 'input' ? null : net.tfjsLayers[alias], batch, w);
        assert.equal(o.grad.data.length, t.data.length, `${alias}: size`);
        const rel = maxRelDiff(o.grad.data, t.data);
        assert.ok(rel < 1e-4, `${kind} ${alias}: max relative difference ${rel.toExponential(2)} vs tfjs`);
        assert.ok(o.grad.data.some((v) => v !== 0), `${alias}: gradient is not all zero`);
      }
    });
  }
}

test('gradients agree with central finite differences through the head', async () => {
  for (const [kind, aliases] of Object.entries(FD_CASES) as [keyof typeof NETS, string[]][]) {
    const net = NETS[kind]({});
    const batch = randomBatch(N, net.input, 5);
    const w = classWeights(N, net.numClasses);
    for (const alias of aliases) {
      const layer = alias === 'input' ? net.inputName : net.layers[alias];
      const o = await onnxGradient(net, layer, batch, w);
      const head = buildHeadGraph(net.model, { layer, logits: net.outputName });
      const hs = await ort.InferenceSession.create(encodeModel(head.model));
      const a = o.act.data;
      // Perturb only entries away from 0 (ReLU kinks / max-pool ties) along a fixed direction.
      const v = a.map((t, i) => (Math.abs(t) > 1e-2 ? Math.cos(0.7 * i) : 0));
      const f = async (h: number) => {
        const feeds: Record<string, ort.Tensor> = { [layer]: new ort.Tensor('float32', a.map((t, i) => t + h * v[i]), o.act.dims) };
        if (head.inputs.length > 1) feeds[head.inputs[1]] = new ort.Tensor('float32', batch.data, batch.shape);
        const out = (await hs.run(feeds))[net.outputName].data as Float32Array;
        let s = 0;
        for (let i = 0; i < out.length; i++) s += out[i] * w[i];
        return s;
      };
      const h = 2e-3;
      const fd = ((await f(h)) - (await f(-h))) / (2 * h);
      let an = 0;
      let scale = 0;
      for (let i = 0; i < v.length; i++) {
        an += o.grad.data[i] * v[i];
        scale += Math.abs(o.grad.data[i] * v[i]);
      }
      await hs.release();
      assert.ok(Math.abs(fd - an) <= 5e-3 * scale + 1e-4, `${kind} ${alias}: finite difference ${fd} vs analytic ${an} (scale ${scale})`);
    }
  }
});

test('opset 17 (as recent PyTorch exports) gives the same gradients as opset 13', async () => {
  for (const kind of ['resnet', 'mobilenet'] as const) {
    const net = NETS[kind]({});
    const batch = randomBatch(N, net.input, 9);
    const w = classWeights(N, net.numClasses);
    const net17: TestNet = { ...net, model: { ...net.model, opsetImport: [{ domain: '', version: 17 }] } };
    for (const layer of [net.inputName, Object.values(net.layers)[1]]) {
      const a = await onnxGradient(net, layer, batch, w);
      const b = await onnxGradient(net17, layer, batch, w);
      // Max-pool scatter-add (opset ≥ 16) sums overlapping windows in another order: equal up to rounding.
      const rel = maxRelDiff(b.grad.data, a.grad.data);
      assert.ok(rel < 1e-6, `${kind} ${layer}: ${rel}`);
    }
  }
});
