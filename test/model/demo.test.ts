// The embedded demo model (models/demo, configs/models/demo*.yaml): accuracy on a freshly generated held-out set
// through both runtimes, and ONNX ↔ TF.js agreement of logits and of the dissection/CAM layers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateShapes } from '../../src/data/synth/shapes.ts';
import { loadImages, openDataset } from '../../src/data/index.ts';
import type { DatasetItem } from '../../src/data/index.ts';
import { closeModels, loadModelConfig, openModel, type Model, type Tensor } from '../../src/model/index.ts';

const root = process.cwd();
// Training used seeds 1 (train) and 2 (held-out during training); this test draws a third, unseen set.
const TEST_SEED = 3;
const COUNT = 200;
const STAGES: Record<string, number[]> = { stem: [1, 16, 64, 64], layer1: [1, 32, 32, 32], layer2: [1, 64, 16, 16], layer3: [1, 128, 8, 8] };

let dir = '';
let items: readonly DatasetItem[] = [];
let classNames: readonly string[] = [];
let onnx: Model;
let tfjs: Model;
let batch: Tensor;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xai-demo-model-'));
  const res = await generateShapes(join(dir, 'shapes'), { count: COUNT, size: 128, seed: TEST_SEED });
  const ds = await openDataset(res.ref);
  items = ds.items;
  classNames = ds.classNames;
  onnx = await openModel(loadModelConfig('configs/models/demo.yaml', { root }), { root, fresh: true });
  tfjs = await openModel(loadModelConfig('configs/models/demo-tfjs.yaml', { root }), { root, fresh: true });
  batch = await loadImages(items, onnx.info.input);
});

after(async () => {
  await onnx?.dispose();
  await tfjs?.dispose();
  await closeModels();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function slice(t: Tensor, from: number, to: number): Tensor {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return { data: t.data.subarray(from * per, to * per), shape: [to - from, ...t.shape.slice(1)] };
}

async function accuracy(model: Model): Promise<{ acc: number; logits: Float32Array }> {
  const { logits } = await model.predict(batch);
  const k = model.info.numClasses;
  let correct = 0;
  for (let i = 0; i < items.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits.data[i * k + c] > logits.data[i * k + best]) best = c;
    if (best === items[i].label) correct++;
  }
  return { acc: correct / items.length, logits: logits.data };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test('demo model: both configs open the same network (classes, input, layer aliases)', async () => {
  const labels = (await readFile('models/demo/labels.txt', 'utf8')).trim().split('\n');
  assert.deepEqual(labels, [...classNames], 'labels.txt follows the generator class order');
  for (const m of [onnx, tfjs]) {
    assert.deepEqual(m.info.labels, labels);
    assert.equal(m.info.input.height, 128);
    assert.equal(m.info.input.width, 128);
    for (const [alias, shape] of Object.entries(STAGES)) {
      const l = m.info.layers.find((x) => x.alias === alias);
      assert.ok(l, `${m.info.runtime}: alias ${alias}`);
      assert.deepEqual(l.shape, shape, `${m.info.runtime}: ${alias} shape`);
      assert.equal(l.name, alias, 'stage outputs carry their alias as tensor / layer name');
    }
  }
  assert.equal(onnx.info.runtime, 'onnx');
  assert.equal(tfjs.info.runtime, 'tfjs');
  assert.deepEqual(tfjs.info.input.mean, onnx.info.input.mean);
  assert.deepEqual(tfjs.info.input.std, onnx.info.input.std);
  assert.equal(tfjs.info.parameters, onnx.info.parameters);
  assert.ok(items.every((it) => it.label !== undefined && it.maskPath), 'generated items carry a label and a GT mask');
});

test(`demo model: >= 90% accuracy on ${COUNT} held-out images (seed ${TEST_SEED}) through ONNX and TF.js; logits agree within 1e-4`, async () => {
  const o = await accuracy(onnx);
  const t = await accuracy(tfjs);
  console.log(`held-out accuracy: onnx ${o.acc.toFixed(3)}, tfjs ${t.acc.toFixed(3)}`);
  assert.ok(o.acc >= 0.9, `ONNX accuracy ${o.acc}`);
  assert.ok(t.acc >= 0.9, `TF.js accuracy ${t.acc}`);
  const d = maxDiff(o.logits, t.logits);
  assert.ok(d < 1e-4, `max |Δlogit| ${d}`);
});

test('demo model: ONNX and TF.js stage activations agree (dissection / CAM layers)', async () => {
  const b = slice(batch, 0, 8);
  const names = Object.keys(STAGES);
  const ao = await onnx.activations(b, names);
  const at = await tfjs.activations(b, names);
  for (const n of names) {
    assert.deepEqual(ao[n].shape, [8, ...STAGES[n].slice(1)]);
    assert.deepEqual(at[n].shape, ao[n].shape);
    let mx = 0;
    for (const v of ao[n].data) mx = Math.max(mx, Math.abs(v));
    assert.ok(mx > 0, `${n} is not all zero`);
    const d = maxDiff(ao[n].data, at[n].data);
    assert.ok(d < 1e-4 * Math.max(1, mx), `${n}: max |Δ| ${d} (max |a| ${mx})`);
  }
});
