// TF.js randomisation for the sanity check (src/model/tfjs/randomise.ts): the weighted layers of a graph model in
// reverse topological order whatever the node order in the file (with their BiasAdd biases), and a randomised copy
// whose tensors have the original's population std while the untouched weights keep their bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { readTfjsWeights, tfjsWeightedLayers, writeRandomisedTfjs } from '../../src/model/tfjs/randomise.ts';

test('graph model: weighted nodes nearest the logits first (topological, not file order), BiasAdd biases attached; randomised copy keeps scale', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'xai-tfjs-rand-'));
  try {
    // file order deliberately not topological: the MatMul is listed before the conv it depends on
    const nodes = [
      { name: 'logits', op: 'BiasAdd', input: ['fc', 'b2'] },
      { name: 'fc', op: 'MatMul', input: ['pool', 'w2'] },
      { name: 'pool', op: 'Mean', input: ['relu1', 'axes'] },
      { name: 'relu1', op: 'Relu', input: ['conv1_bias'] },
      { name: 'conv1_bias', op: 'BiasAdd', input: ['conv1', 'b1'] },
      { name: 'conv1', op: 'Conv2D', input: ['input', 'w1'] },
      { name: 'input', op: 'Placeholder' },
      ...['w1', 'b1', 'w2', 'b2', 'axes'].map((name) => ({ name, op: 'Const' })),
    ];
    const weights = [
      { name: 'w1', shape: [2, 2, 1, 3], dtype: 'float32' },
      { name: 'flag', shape: [1], dtype: 'bool' }, // a 1-byte weight: the ones after it sit at unaligned offsets
      { name: 'b1', shape: [3], dtype: 'float32' },
      { name: 'w2', shape: [3, 2], dtype: 'float32' },
      { name: 'b2', shape: [2], dtype: 'float32' },
      { name: 'axes', shape: [2], dtype: 'int32' },
    ];
    const vals = { w1: Array.from({ length: 12 }, (_, i) => i - 5.5), b1: [1, 2, 3], w2: [1, -1, 2, -2, 3, -3], b2: [0.5, -0.5] };
    const f32 = (a: number[]) => Buffer.from(new Float32Array(a).buffer);
    const bin = Buffer.concat([f32(vals.w1), Buffer.from([1]), f32(vals.b1), f32(vals.w2), f32(vals.b2), Buffer.from(new Int32Array([1, 2]).buffer)]);
    writeFileSync(join(dir, 'weights.bin'), bin);
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: nodes }, weightsManifest: [{ paths: ['weights.bin'], weights }] }));
    const w = readTfjsWeights(join(dir, 'model.json'), 'model.json');
    const layers = tfjsWeightedLayers(w);
    assert.deepEqual(layers, [
      { name: 'fc', opType: 'MatMul', tensors: ['w2', 'b2'] },
      { name: 'conv1', opType: 'Conv2D', tensors: ['w1', 'b1'] },
    ]);
    const out = mkdtempSync(join(os.tmpdir(), 'xai-tfjs-rand-out-'));
    try {
      let k = 0;
      const path = writeRandomisedTfjs(w, layers.slice(0, 1), () => () => (k++ % 2 ? 1 : -1), out); // draws ±1: std 1
      const got = readFileSync(join(out, 'weights.bin'));
      assert.equal(JSON.parse(readFileSync(path, 'utf8')).weightsManifest[0].paths[0], 'weights.bin');
      // untouched: w1, flag, b1, axes (bytes 0..64 and the last 8)
      assert.deepEqual(got.subarray(0, 61), bin.subarray(0, 61));
      assert.deepEqual(got.subarray(got.length - 8), bin.subarray(bin.length - 8));
      const at = (o: number, n: number) => Array.from({ length: n }, (_, i) => got.readFloatLE(o + 4 * i));
      const sd = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + (x - a.reduce((t, y) => t + y, 0) / a.length) ** 2, 0) / a.length);
      // w2 = ±σ(w2) alternating, b2 = ±σ(b2): σ computed by hand from the values above
      assert.deepEqual(at(61, 6).map((x) => Math.round(x * 1e5) / 1e5), [-1, 1, -1, 1, -1, 1].map((s) => Math.round(s * sd(vals.w2) * 1e5) / 1e5));
      assert.deepEqual(at(85, 2).map((x) => Math.round(x * 1e5) / 1e5), [-0.5, 0.5]);
      assert.deepEqual(readFileSync(join(dir, 'weights.bin')), bin, 'the source is not written');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
