// The randomisation sanity check (src/explain/sanity.ts, src/model/onnx/randomise.ts) on a seeded ResNet-style test
// net: weighted layers from the logits down; randomised tensors keep each tensor's scale and leave the rest of the
// model alone; and the property that makes the check meaningful — randomising layers AFTER a CAM's target layer leaves
// a gradient-free CAM (EigenCAM) exactly unchanged, while randomising a layer before it changes the map; Grad-CAM,
// which reads the head's gradients, changes as soon as the logits layer is randomised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { resnetStyle, rng } from '../../src/model/testing/nets.ts';
import { randomisedModel, weightedLayers } from '../../src/model/onnx/randomise.ts';
import { decodeModel } from '../../src/model/onnx/builder.ts';
import { cascade, similarity } from '../../src/explain/sanity.ts';
import { computeCams } from '../../src/explain/cam.ts';
import { openModel, closeModels } from '../../src/model/index.ts';

const floats = (t: { rawData?: Uint8Array | null; floatData?: number[] | null }) =>
  t.rawData?.length ? new Float32Array(t.rawData.buffer.slice(t.rawData.byteOffset, t.rawData.byteOffset + t.rawData.byteLength)) : Float32Array.from(t.floatData ?? []);
const std = (v: Float32Array) => {
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
};

test('weighted layers run from the logits down; randomising keeps each tensor\'s std and touches nothing else', () => {
  const net = resnetStyle({ input: [3, 32, 32] });
  const layers = weightedLayers(net.model);
  assert.equal(layers[0].opType, 'Gemm', 'the logits layer comes first');
  assert.equal(layers.at(-1)!.tensors[0], net.model.graph!.node!.find((n) => n.opType === 'Conv')!.input![1], 'the first conv comes last');
  const before = new Map(net.model.graph!.initializer!.map((t) => [t.name!, Float32Array.from(floats(t))]));
  const bytes = randomisedModel(net.model, layers.slice(0, 2), (name) => {
    const g = rng(name.length);
    return () => Math.sqrt(-2 * Math.log(Math.max(g(), 1e-12))) * Math.cos(2 * Math.PI * g());
  }, 'net.onnx');
  const after = new Map(decodeModel(bytes).graph!.initializer!.map((t) => [t.name!, floats(t)]));
  const changed = new Set(layers.slice(0, 2).flatMap((l) => l.tensors));
  for (const [name, v] of before) {
    const w = after.get(name)!;
    assert.equal(w.length, v.length, name);
    if (!changed.has(name)) assert.deepEqual(w, v, `${name} is not randomised`);
    else if (v.length >= 64) {
      assert.notDeepEqual(w, v, `${name} is randomised`);
      assert.ok(Math.abs(std(w) / std(v) - 1) < 0.35, `${name}: std ${std(w)} vs ${std(v)}`);
    }
  }
  // the decoded input model is not modified
  for (const t of net.model.graph!.initializer!) assert.deepEqual(floats(t), before.get(t.name!), `${t.name} in the source proto`);
});

test('similarity: identical maps give 1, a reversed ranking −1', () => {
  const a = Float32Array.from({ length: 64 }, (_, i) => i / 63);
  assert.deepEqual(similarity(a, a, 8, 8), { spearman_abs: 1, spearman: 1, ssim: 1 });
  assert.equal(similarity(a, a.map((x) => 1 - x), 8, 8).spearman, -1);
  assert.equal(similarity(a, new Float32Array(64), 8, 8).spearman, null, 'a constant map has no rank correlation');
});

test('cascade: EigenCAM at layer1 is unchanged while only later layers are randomised, and changes once a layer before it is', async () => {
  const net = resnetStyle({ input: [3, 32, 32] });
  const dir = mkdtempSync(join(os.tmpdir(), 'xai-sanity-test-'));
  try {
    writeFileSync(join(dir, 'net.onnx'), net.onnx);
    const config = { path: 'net.onnx', input: { size: 32 }, layers: net.layers, threads: 1 };
    const model = await openModel(config, { root: dir, fresh: true });
    const r = rng(3);
    const pixels = [0, 1].map(() => ({ width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.floor(r() * 256)) }));
    const items = [{ id: 'a.png', path: join(dir, 'a.png') }, { id: 'b.png', path: join(dir, 'b.png') }];
    const cam = { methods: ['eigencam', 'gradcam'] as const, layerSets: [['layer1']], target: 'logit' as const, eigenSmooth: false, ablation: { batchSize: 8, value: 'library' as const }, scoreBatchSize: 8, loadOpts: {} };
    const orig = await computeCams({
      ...cam, methods: [...cam.methods], model, items, indices: [0, 1], targets: [2, 5], pixels, overlay: { enabled: false, imageWeight: 0.5 },
      writeFile: async () => {}, timing: {}, counts: { forwards: 0, gradientCalls: 0, headRows: 0, maskedForwards: 0 },
    });
    await model.dispose();
    const originals = orig.flat().map((x) => ({ image: x.image as string, method: x.method as string, layer: x.layer as string, target: x.target as number, map: x.cam as Float32Array }));
    const layers = weightedLayers(net.model).map((l) => l.name);
    const steps: string[] = [];
    const rows = await cascade({
      config, root: dir, seed: 0, items, indices: [0, 1], originals, pixels, cam: { ...cam, methods: [...cam.methods] }, batchSize: 2,
      onStep: (s, name) => steps.push(`${s}:${name}`),
    });
    assert.deepEqual(steps, layers.map((l, i) => `${i + 1}:${l}`), 'one step per weighted layer, from the logits down');
    // layer1's output is computed by conv1, layer1.conv1 and layer1.conv2: the last three weighted layers.
    const afterLayer1 = layers.length - 3;
    for (const row of rows) {
      const { step, explanation } = row as { step: number; explanation: string };
      if (explanation === 'eigencam@layer1') {
        if (step <= afterLayer1) assert.deepEqual([row.spearman, row.ssim], [1, 1], `eigencam unchanged at step ${step}`);
        else assert.ok((row.spearman as number) < 0.99, `eigencam changed at step ${step}: ρ ${row.spearman}`);
      } else if (step === 1) {
        assert.ok((row.ssim as number) < 0.99, `gradcam changes with the logits layer: SSIM ${row.ssim}`);
      }
    }
    assert.equal(rows.length, layers.length * 2 * 2);
  } finally {
    await closeModels();
    rmSync(dir, { recursive: true, force: true });
  }
});
