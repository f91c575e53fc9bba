// A TF.js graph model (GraphDef JSON + weights, as tensorflowjs_converter writes them), built here: load, predict,
// taps, heads and gradients, checked against the same computation in plain tf ops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { closeModels, openModel, type Model } from '../../src/model/index.ts';
import { selectBackend, type TF } from '../../src/model/tfjs/backend.ts';
import { randomBatch, rng } from '../../src/model/testing/nets.ts';

const dir = mkdtempSync(join(os.tmpdir(), 'xai-graph-model-'));
let tf: TF;
let model: Model;
const r = rng(42);
const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
const w1 = rand(3 * 3 * 3 * 4, 0.5);
const b1 = rand(4, 0.1);
const w2 = rand(4 * 5, 0.5);
const b2 = rand(5, 0.1);

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dt = { type: 'DT_FLOAT' };
const constNode = (name: string, dtype = 'DT_FLOAT') => ({ name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype } } } });

before(async () => {
  ({ tf } = await selectBackend(process.env.XAI_TFJS_BACKEND ? undefined : 'wasm'));
  const nodes = [
    { name: 'input', op: 'Placeholder', attr: { dtype: dt, shape: { shape: { dim: [{ size: '-1' }, { size: '8' }, { size: '8' }, { size: '3' }] } } } },
    constNode('w1'),
    constNode('b1'),
    constNode('w2'),
    constNode('b2'),
    constNode('axes', 'DT_INT32'),
    { name: 'conv1', op: 'Conv2D', input: ['input', 'w1'], attr: { T: dt, strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, dilations: { list: { i: ['1', '1', '1', '1'] } } } },
    { name: 'conv1_bias', op: 'BiasAdd', input: ['conv1', 'b1'], attr: { T: dt, data_format: { s: b64('NHWC') } } },
    { name: 'relu1', op: 'Relu', input: ['conv1_bias'], attr: { T: dt } },
    { name: 'pool', op: 'Mean', input: ['relu1', 'axes'], attr: { T: dt, keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } } },
    { name: 'fc', op: 'MatMul', input: ['pool', 'w2'], attr: { T: dt, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'logits', op: 'BiasAdd', input: ['fc', 'b2'], attr: { T: dt, data_format: { s: b64('NHWC') } } },
  ];
  const weights = [
    { name: 'w1', shape: [3, 3, 3, 4], dtype: 'float32' },
    { name: 'b1', shape: [4], dtype: 'float32' },
    { name: 'w2', shape: [4, 5], dtype: 'float32' },
    { name: 'b2', shape: [5], dtype: 'float32' },
    { name: 'axes', shape: [2], dtype: 'int32' },
  ];
  const bin = Buffer.concat([w1, b1, w2, b2].map((a) => Buffer.from(a.buffer)).concat([Buffer.from(new Int32Array([1, 2]).buffer)]));
  mkdirSync(join(dir, 'g'));
  writeFileSync(join(dir, 'g/model.json'), JSON.stringify({ format: 'graph-model', generatedBy: 'test', convertedBy: 'test', modelTopology: { node: nodes, library: {}, versions: {} }, weightsManifest: [{ paths: ['weights.bin'], weights }] }));
  writeFileSync(join(dir, 'g/weights.bin'), bin);
  model = await openModel({ path: 'g', layers: { features: 'relu1' } }, { root: dir });
});
after(async () => {
  await closeModels();
  rmSync(dir, { recursive: true, force: true });
});

function reference(xNchw: Float32Array, n: number) {
  return tf.tidy(() => {
    const x = tf.transpose(tf.tensor4d(xNchw, [n, 3, 8, 8]), [0, 2, 3, 1]) as never;
    const relu = tf.relu(tf.add(tf.conv2d(x, tf.tensor4d(w1, [3, 3, 3, 4]), 1, 'same'), tf.tensor1d(b1)));
    const logits = tf.add(tf.matMul(tf.mean(relu, [1, 2]) as never, tf.tensor2d(w2, [4, 5])), tf.tensor1d(b2));
    return { relu: tf.transpose(relu, [0, 3, 1, 2]).dataSync() as Float32Array, logits: logits.dataSync() as Float32Array };
  });
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

test('graph model: format inferred, layers listed, predictions and taps equal plain tf ops', async () => {
  assert.equal(model.info.runtime, 'tfjs');
  assert.equal(model.info.numClasses, 5);
  assert.equal(model.info.parameters, w1.length + b1.length + w2.length + b2.length);
  assert.deepEqual(model.info.layers.find((l) => l.alias === 'features')?.shape, [1, 4, 8, 8]);
  const batch = randomBatch(3, [3, 8, 8], 9);
  const ref = reference(batch.data, 3);
  const { logits } = await model.predict(batch);
  assert.ok(maxDiff(logits.data, ref.logits) < 1e-5);
  const acts = await model.activations(batch, ['features', 'logits']);
  assert.ok(maxDiff(acts.features.data, ref.relu) < 1e-5);
  const head = await model.forwardFrom('features', acts.features);
  assert.ok(maxDiff(head.data, ref.logits) < 1e-5);
});

test('graph model: gradients w.r.t. a layer and the input agree with finite differences', async () => {
  const batch = randomBatch(2, [3, 8, 8], 4);
  const w = new Float32Array(10);
  w[1] = 1;
  w[5 + 3] = 1;
  const score = (l: Float32Array) => l.reduce((s, v, i) => s + v * w[i], 0);
  for (const layer of ['features', 'input']) {
    const g = await model.gradients(batch, layer, w);
    assert.deepEqual(g.gradients.shape, layer === 'input' ? [2, 3, 8, 8] : [2, 4, 8, 8]);
    const eps = 1e-2;
    let checked = 0;
    for (let k = 0; k < 10; k++) {
      const i = Math.floor((k * 0.097 + 0.01) * g.activations.data.length);
      const plus = g.activations.data.slice();
      const minus = g.activations.data.slice();
      plus[i] += eps;
      minus[i] -= eps;
      const run = async (d: Float32Array) => score((layer === 'input' ? (await model.predict({ data: d, shape: g.activations.shape })).logits : await model.forwardFrom(layer, { data: d, shape: g.activations.shape })).data);
      const fd = ((await run(plus)) - (await run(minus))) / (2 * eps);
      if (layer === 'features' && g.activations.data[i] < eps) continue; // ReLU kink nearby
      checked++;
      assert.ok(Math.abs(fd - g.gradients.data[i]) < 1e-3, `${layer}[${i}]: fd ${fd} vs ${g.gradients.data[i]}`);
    }
    assert.ok(checked >= 4);
  }
});
