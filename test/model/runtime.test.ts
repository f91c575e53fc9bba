// Both runtimes on the three net styles (random weights, the same weights in ONNX and TF.js): predictions agree,
// taps and heads equal the full forward, gradients agree with finite differences and across runtimes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { NETS, randomBatch, type TestNet } from '../../src/model/testing/nets.ts';
import { closeModels, openModel, type Model, type Tensor } from '../../src/model/index.ts';
import { selectBackend } from '../../src/model/tfjs/backend.ts';
import { fileSaveHandler } from '../../src/model/tfjs/io.ts';

const dir = mkdtempSync(join(os.tmpdir(), 'xai-model-'));
after(async () => {
  await closeModels();
  rmSync(dir, { recursive: true, force: true });
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

interface Pair {
  net: TestNet;
  onnx: Model;
  tfjs: Model;
}

async function setup(kind: keyof typeof NETS, fold = false): Promise<Pair> {
  const { tf } = await selectBackend(process.env.XAI_TFJS_BACKEND ? undefined : 'wasm');
  const net = NETS[kind]({ foldBatchNorm: fold });
  const name = `${kind}${fold ? '-folded' : ''}`;
  writeFileSync(join(dir, `${name}.onnx`), net.onnx);
  await (await net.tfjs()).save(fileSaveHandler(tf.io, join(dir, name)));
  const onnx = await openModel({ path: `${name}.onnx`, layers: net.layers }, { root: dir });
  const tfjs = await openModel({ path: name, layers: net.tfjsLayers }, { root: dir });
  return { net, onnx, tfjs };
}

for (const kind of Object.keys(NETS) as (keyof typeof NETS)[]) {
  describe(`${kind}-style net`, () => {
    let p: Pair;
    const batch = randomBatch(4, [3, 32, 32], 11);
    before(async () => {
      p = await setup(kind);
    });

    test('ONNX and TF.js predictions agree within 1e-4', async () => {
      const a = await p.onnx.predict(batch);
      const b = await p.tfjs.predict(batch);
      assert.deepEqual(a.logits.shape, [4, 10]);
      assert.deepEqual(b.logits.shape, [4, 10]);
      assert.ok(maxDiff(a.logits.data, b.logits.data) < 1e-4, `logits differ by ${maxDiff(a.logits.data, b.logits.data)}`);
      assert.ok(maxDiff(a.probs.data, b.probs.data) < 1e-4);
      for (let i = 0; i < 4; i++) {
        const s = a.probs.data.subarray(i * 10, i * 10 + 10).reduce((x, y) => x + y, 0);
        assert.ok(Math.abs(s - 1) < 1e-5);
      }
      // Logits are not degenerate (the nets are random but not constant).
      assert.ok(new Set(Array.from(a.logits.data).map((v) => v.toFixed(3))).size > 20);
    });

    test('info: layers with NCHW shapes, aliases, labels, parameters', () => {
      for (const m of [p.onnx, p.tfjs]) {
        assert.equal(m.info.numClasses, 10);
        assert.equal(m.info.labels.length, 10);
        assert.deepEqual([m.info.input.channels, m.info.input.height, m.info.input.width], [3, 32, 32]);
        for (const alias of Object.keys(p.net.layers)) {
          const l = m.info.layers.find((x) => x.alias === alias);
          assert.ok(l, `${m.info.runtime}: alias ${alias} listed`);
          assert.equal(l.shape[0], 1);
        }
      }
      assert.equal(p.onnx.info.input.layout, 'NCHW');
      assert.equal(p.tfjs.info.input.layout, 'NHWC');
      assert.equal(p.onnx.info.parameters, p.net.parameters);
      assert.equal(p.tfjs.info.parameters, p.net.parameters);
      // Same alias → same NCHW shape on both runtimes.
      for (const alias of Object.keys(p.net.layers)) {
        const s1 = p.onnx.info.layers.find((x) => x.alias === alias)!.shape;
        const s2 = p.tfjs.info.layers.find((x) => x.alias === alias)!.shape;
        assert.deepEqual(s1, s2, alias);
      }
    });

    test('taps: one forward returns every layer; equal across runtimes and to the full forward', async () => {
      const aliases = Object.keys(p.net.layers);
      const full = await p.onnx.predict(batch);
      const a = await p.onnx.activations(batch, aliases);
      const b = await p.tfjs.activations(batch, aliases);
      for (const alias of aliases) {
        assert.deepEqual(a[alias].shape, b[alias].shape, alias);
        assert.equal(a[alias].shape[0], 4);
        assert.ok(maxDiff(a[alias].data, b[alias].data) < 1e-4, `${alias}: ${maxDiff(a[alias].data, b[alias].data)}`);
      }
      assert.equal(maxDiff(a.logits.data, full.logits.data), 0);
      // A single tap equals the same tap within a multi-tap session.
      const one = await p.onnx.activations(batch, [aliases[1]]);
      assert.equal(maxDiff(one[aliases[1]].data, a[aliases[1]].data), 0);
      // Tensor names work as well as aliases; 'input' is the batch itself.
      const byName = await p.onnx.activations(batch, [p.net.layers[aliases[0]], 'input']);
      assert.equal(maxDiff(byName[p.net.layers[aliases[0]]].data, a[aliases[0]].data), 0);
      assert.equal(byName.input.data, batch.data);
    });

    test('heads: forwardFrom(layer, activations(layer)) equals the full forward', async () => {
      const aliases = Object.keys(p.net.layers).filter((x) => x !== 'logits');
      for (const m of [p.onnx, p.tfjs]) {
        const full = await m.predict(batch);
        const acts = await m.activations(batch, aliases);
        for (const alias of aliases) {
          const y = await m.forwardFrom(alias, acts[alias]);
          assert.deepEqual(y.shape, [4, 10]);
          assert.ok(maxDiff(y.data, full.logits.data) < 1e-5, `${m.info.runtime} ${alias}: ${maxDiff(y.data, full.logits.data)}`);
        }
        // Heads are real: zeroing a channel changes the logits.
        const alias = aliases[aliases.length - 2];
        const t = acts[alias];
        const z: Tensor = { data: t.data.slice(), shape: t.shape };
        const per = t.shape.slice(2).reduce((x, y) => x * y, 1);
        for (let n = 0; n < 4; n++) z.data.fill(0, n * t.shape[1] * per, n * t.shape[1] * per + per);
        const y2 = await m.forwardFrom(alias, z);
        assert.ok(maxDiff(y2.data, full.logits.data) > 1e-4);
      }
    });

    test('gradients: ONNX (generated backward graph) and TF.js agree', async () => {
      const w = new Float32Array(4 * 10);
      for (let n = 0; n < 4; n++) w[n * 10 + ((n * 3) % 10)] = 1;
      w[5] = 0.5; // a non one-hot row
      const layers = Object.keys(p.net.layers).filter((x) => !(kind === 'vgg' && x === 'block1')); // tfjs: no gradients through dilated convs
      for (const layer of kind === 'vgg' ? layers : [...layers, 'input']) {
        const a = await p.onnx.gradients(batch, layer, w);
        const b = await p.tfjs.gradients(batch, layer, w);
        assert.deepEqual(a.gradients.shape, b.gradients.shape, layer);
        assert.deepEqual(a.activations.shape, a.gradients.shape);
        assert.ok(maxDiff(a.activations.data, b.activations.data) < 1e-4, layer);
        assert.ok(maxDiff(a.logits.data, b.logits.data) < 1e-4, layer);
        assert.ok(maxDiff(a.gradients.data, b.gradients.data) < 1e-4, `${layer}: ${maxDiff(a.gradients.data, b.gradients.data)}`);
        assert.ok(b.gradients.data.some((v) => v !== 0), `${layer}: gradient not all zero`);
      }
    });
  });
}

describe('TF.js gradients vs finite differences', () => {
  let p: Pair;
  before(async () => {
    p = await setup('resnet');
  });

  // Central differences in float64 accumulation of float32 logits; eps large enough for float32, small enough for
  // ReLU kinks to be rare; a coordinate whose ± perturbation crosses a kink is skipped by the consistency check.
  async function checkFd(layer: string, acts: Tensor, score: (t: Tensor) => Promise<number>, grad: Float32Array, coords: number[]) {
    const eps = 1e-2;
    let checked = 0;
    for (const i of coords) {
      const plus = { data: acts.data.slice(), shape: acts.shape };
      const minus = { data: acts.data.slice(), shape: acts.shape };
      const half = { data: acts.data.slice(), shape: acts.shape };
      plus.data[i] += eps;
      minus.data[i] -= eps;
      half.data[i] += eps / 2;
      const [sp, sm, s0, sh] = [await score(plus), await score(minus), await score(acts), await score(half)];
      const fd = (sp - sm) / (2 * eps);
      const fdHalf = (sh - s0) / (eps / 2);
      if (Math.abs(fd - fdHalf) > 1e-2 * Math.max(1, Math.abs(fd))) continue; // kink inside the interval
      checked++;
      assert.ok(Math.abs(fd - grad[i]) < 2e-3 + 1e-2 * Math.abs(fd), `${layer}[${i}]: finite difference ${fd} vs gradient ${grad[i]}`);
    }
    assert.ok(checked >= coords.length / 2, `${layer}: only ${checked} of ${coords.length} coordinates checked`);
  }

  for (const layer of ['layer1', 'layer2', 'stem', 'input']) {
    test(`d(weighted logits)/d(${layer})`, async () => {
      const batch = randomBatch(2, [3, 32, 32], 5);
      const w = new Float32Array(20);
      w[3] = 1;
      w[10 + 7] = 1;
      const g = await p.tfjs.gradients(batch, layer, w);
      const weighted = (l: Tensor) => l.data.reduce((s, v, i) => s + v * w[i], 0);
      const score = async (a: Tensor) => weighted(layer === 'input' ? (await p.tfjs.predict(a)).logits : await p.tfjs.forwardFrom(layer, a));
      const n = g.activations.data.length;
      const coords = Array.from({ length: 12 }, (_, k) => Math.floor(((k * 7919 + 13) % 997) / 997 * n));
      // Only coordinates with non-zero activation or gradient say something; include the largest gradients.
      const top = Array.from(g.gradients.data.keys()).sort((a, b) => Math.abs(g.gradients.data[b]) - Math.abs(g.gradients.data[a])).slice(0, 6);
      await checkFd(layer, g.activations, score, g.gradients.data, [...new Set([...top, ...coords])]);
    });
  }
});

describe('BatchNorm folded into convs', () => {
  test('a folded ONNX graph gives the TF.js (unfolded) predictions', async () => {
    const p = await setup('mobilenet', true);
    const batch = randomBatch(2, [3, 32, 32], 3);
    assert.ok(!p.net.model.graph!.node!.some((n) => n.opType === 'BatchNormalization'));
    const a = await p.onnx.predict(batch);
    const b = await p.tfjs.predict(batch);
    assert.ok(maxDiff(a.logits.data, b.logits.data) < 1e-4);
    const acts = await p.onnx.activations(batch, ['block2']);
    const y = await p.onnx.forwardFrom('block2', acts.block2);
    assert.ok(maxDiff(y.data, a.logits.data) < 1e-5);
  });
});

describe('batching', () => {
  test('batchSizeFor grows with the budget; a small memory budget splits batches with the same results', async () => {
    const { tf } = await selectBackend(process.env.XAI_TFJS_BACKEND ? undefined : 'wasm');
    void tf;
    const net = NETS.resnet();
    writeFileSync(join(dir, 'small-budget.onnx'), net.onnx);
    const big = await openModel({ path: 'small-budget.onnx', layers: net.layers }, { root: dir });
    const small = await openModel({ path: 'small-budget.onnx', layers: net.layers, memory_budget_mb: 0.05 }, { root: dir });
    assert.ok(big.batchSizeFor(2 ** 30) > big.batchSizeFor(2 ** 20));
    assert.ok(small.batchSizeFor(0.05 * 2 ** 20) < 8);
    const batch = randomBatch(9, [3, 32, 32], 1);
    const a = await big.predict(batch);
    const b = await small.predict(batch);
    assert.deepEqual(b.logits.shape, [9, 10]);
    assert.ok(maxDiff(a.logits.data, b.logits.data) < 1e-6);
    const ta = await small.activations(batch, ['layer1']);
    const tb = await big.activations(batch, ['layer1']);
    assert.ok(maxDiff(ta.layer1.data, tb.layer1.data) < 1e-6);
  });
});

describe('NHWC-input ONNX model (tf2onnx style: Transpose after the input)', () => {
  test('batches stay NCHW at the interface; same numbers as the NCHW graph', async () => {
    const { decodeModel, encodeModel, valueInfo, attribute } = await import('../../src/model/onnx/builder.ts');
    const net = NETS.resnet();
    const m = decodeModel(net.onnx);
    m.graph!.input![0] = valueInfo('input_nhwc', ['N', 32, 32, 3]) as never;
    m.graph!.node!.unshift({ opType: 'Transpose', input: ['input_nhwc'], output: ['input'], attribute: [attribute('perm', [0, 3, 1, 2])], name: 'to_nchw' } as never);
    writeFileSync(join(dir, 'nhwc.onnx'), encodeModel(m));
    writeFileSync(join(dir, 'nchw.onnx'), net.onnx);
    const a = await openModel({ path: 'nhwc.onnx', layers: net.layers }, { root: dir });
    const b = await openModel({ path: 'nchw.onnx', layers: net.layers }, { root: dir });
    assert.equal(a.info.input.layout, 'NHWC');
    assert.deepEqual([a.info.input.channels, a.info.input.height, a.info.input.width], [3, 32, 32]);
    assert.deepEqual(a.info.layers.find((l) => l.alias === 'layer1')!.shape, [1, 8, 8, 8]);
    const batch = randomBatch(2, [3, 32, 32], 8);
    assert.equal(maxDiff((await a.predict(batch)).logits.data, (await b.predict(batch)).logits.data), 0);
    const ta = await a.activations(batch, ['layer1', 'input']);
    const tb = await b.activations(batch, ['layer1']);
    assert.equal(maxDiff(ta.layer1.data, tb.layer1.data), 0);
    assert.equal(maxDiff(ta.input.data, batch.data), 0); // here 'input' is the graph's own tensor after the Transpose
    const w = new Float32Array(20).fill(0.1);
    const ga = await a.gradients(batch, 'input', w);
    const gb = await b.gradients(batch, 'input', w);
    assert.deepEqual(ga.gradients.shape, [2, 3, 32, 32]);
    assert.ok(maxDiff(ga.gradients.data, gb.gradients.data) < 1e-6);
    assert.ok(maxDiff(ga.activations.data, batch.data) < 1e-7);
    const y = await a.forwardFrom('layer1', ta.layer1);
    assert.ok(maxDiff(y.data, (await b.predict(batch)).logits.data) < 1e-5);
  });
});
