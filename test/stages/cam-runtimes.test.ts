// The cam stage's batch computation (src/explain/cam.ts) on the same random-weight ResNet-style net in both
// runtimes (ONNX on onnxruntime-node, TF.js layers on wasm): all eight methods give the same maps, targets, scores
// and probabilities — gradient methods through Model.gradients, Ablation-CAM through forwardFrom, Score-CAM through
// predict, EigenCAM through activations. (The demo-model version of this check is in cam-demo.test.ts.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { resnetStyle, rng } from '../../src/model/testing/nets.ts';
import { closeModels, openModel } from '../../src/model/index.ts';
import { selectBackend } from '../../src/model/tfjs/backend.ts';
import { fileSaveHandler } from '../../src/model/tfjs/io.ts';
import { encodePng } from '../../src/image/io.ts';
import { computeCams } from '../../src/explain/cam.ts';

const dir = mkdtempSync(join(os.tmpdir(), 'xai-cam-runtimes-'));
after(async () => {
  await closeModels();
  rmSync(dir, { recursive: true, force: true });
});

test('ONNX and TF.js give the same CAMs for every method (ResNet-style net, 32²)', async () => {
  const { tf } = await selectBackend(process.env.XAI_TFJS_BACKEND ? undefined : 'wasm');
  const net = resnetStyle({ seed: 5 });
  writeFileSync(join(dir, 'net.onnx'), net.onnx);
  await (await net.tfjs()).save(fileSaveHandler(tf.io, join(dir, 'net')));
  const input = { size: 32, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
  const onnx = await openModel({ path: 'net.onnx', input, layers: net.layers }, { root: dir });
  const tfjs = await openModel({ path: 'net', input, layers: net.tfjsLayers }, { root: dir });
  const r = rng(9);
  const items = Array.from({ length: 3 }, (_, i) => {
    const path = join(dir, `img${i}.png`);
    writeFileSync(path, encodePng(Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.floor(r() * 256)), 32, 32, 3));
    return { id: `img${i}.png`, path };
  });
  const methods = ['gradcam', 'gradcam++', 'xgradcam', 'hirescam', 'layercam', 'eigencam', 'ablationcam', 'scorecam'];
  const run = async (model: typeof onnx) =>
    (
      await computeCams({
        model,
        items,
        indices: [0, 1, 2],
        methods: methods as never,
        layerSets: [['layer2'], ['layer1', 'layer2']],
        targets: ['top1', 4, 'top1'],
        eigenSmooth: false,
        ablation: { batchSize: 5, value: 'library' },
        scoreBatchSize: 6,
        overlay: { enabled: false, imageWeight: 0.5 },
        loadOpts: {},
        writeFile: async () => {},
        timing: {},
        counts: { forwards: 0, gradientCalls: 0, headRows: 0, maskedForwards: 0 },
      })
    ).flat() as Record<string, any>[];
  const a = await run(onnx);
  const b = await run(tfjs);
  assert.equal(a.length, 3 * methods.length * 2);
  const worst: Record<string, number> = {};
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    assert.deepEqual([y.image, y.method, y.layer, y.target], [x.image, x.method, x.layer, x.target]);
    assert.ok(Math.abs(x.score - y.score) < 1e-4 * (1 + Math.abs(x.score)));
    assert.ok(Math.abs(x.probability - y.probability) < 1e-4);
    let d = 0;
    for (let p = 0; p < x.cam.length; p++) d = Math.max(d, Math.abs(x.cam[p] - y.cam[p]));
    worst[x.method] = Math.max(worst[x.method] ?? 0, d);
  }
  assert.equal(a[8 * 2].target, 4); // image 1's given target
  for (const [m, d] of Object.entries(worst)) assert.ok(d < 1e-3, `${m}: ONNX vs TF.js max |Δcam| ${d}`);
});

test('OnnxModel.gradientsTop1 = gradients for the one-hot of each row\'s argmax, in one pass', async () => {
  const { argmaxTargets, oneHotWeights } = await import('../../src/algo/cam/index.ts');
  const { randomBatch } = await import('../../src/model/testing/nets.ts');
  const net = resnetStyle({ seed: 1 });
  writeFileSync(join(dir, 'top1.onnx'), net.onnx);
  const m = await openModel({ path: 'top1.onnx', layers: net.layers }, { root: dir });
  assert.ok(m.gradientsTop1, 'the ONNX runtime provides gradientsTop1');
  const x = randomBatch(8, [3, 32, 32], 2);
  const per = 3 * 32 * 32;
  for (let i = 0; i < 8; i++) for (let j = 0; j < per; j++) x.data[i * per + j] = x.data[i * per + j] * (1 + i) + (i - 4); // varied top-1 (0 and 6)
  const targets = argmaxTargets((await m.predict(x)).logits);
  assert.ok(new Set(targets).size > 1, 'test batch should have several top-1 classes');
  for (const layer of ['layer2', 'layer1']) {
    const a = await m.gradientsTop1!(x, layer);
    const b = await m.gradients(x, layer, oneHotWeights(targets, m.info.numClasses));
    assert.deepEqual(a.targets, targets);
    assert.deepEqual(a.logits.shape, b.logits.shape);
    for (const k of ['activations', 'gradients', 'logits'] as const) {
      let d = 0;
      for (let i = 0; i < a[k].data.length; i++) d = Math.max(d, Math.abs(a[k].data[i] - b[k].data[i]));
      assert.ok(d <= 1e-6 * (1 + Math.max(...b[k].data.map(Math.abs))), `${layer} ${k}: max |Δ| ${d}`);
    }
  }
});
