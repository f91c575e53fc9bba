// ONNX → TF.js converter (src/model/convert): the converted model computes what onnxruntime computes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { convertOnnxFileToTfjs, convertOnnxModel } from '../../src/model/convert/onnx-to-tfjs.ts';
import { decodeOnnx, encodeOnnx, renameValues, scopeRenames } from '../../src/model/convert/onnx-graph.ts';
import { NETS, randomBatch } from '../../src/model/testing/nets.ts';
import { GraphBuilder } from '../../src/model/onnx/builder.ts';

await tf.setBackend('cpu');

async function ortLogits(bytes: Uint8Array, input: string, batch: { data: Float32Array; shape: number[] }): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const r = await s.run({ [input]: new ort.Tensor('float32', batch.data, batch.shape) });
  const out = r[s.outputNames[0]].data as Float32Array;
  await s.release();
  return out;
}

function tfjsLogits(model: tf.LayersModel, batch: { data: Float32Array; shape: number[] }): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(batch.data, batch.shape).transpose([0, 2, 3, 1])) as tf.Tensor).dataSync() as Float32Array);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

for (const [name, make] of Object.entries(NETS)) {
  for (const fold of [false, true]) {
    test(`converter: ${name}-style net${fold ? ' (BN folded)' : ''} gives onnxruntime's logits`, async () => {
      const net = make({ foldBatchNorm: fold });
      const { model, layerNames } = convertOnnxModel(decodeOnnx(net.onnx), `${name}.onnx`);
      const batch = randomBatch(3, net.input, 11);
      const want = await ortLogits(net.onnx, net.inputName, batch);
      const got = tfjsLogits(model, batch);
      assert.ok(maxDiff(want, got) < 1e-4, `max |Δ| ${maxDiff(want, got)}`);
      // Aliased points of the network are tfjs layers named after the ONNX values.
      for (const onnxName of Object.values(net.layers)) {
        if (onnxName in layerNames) assert.ok(model.getLayer(layerNames[onnxName]), onnxName);
      }
      model.dispose();
    });
  }
}

test('converter: files round-trip through tf.loadLayersModel; scope renaming; clear errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xai-convert-'));
  try {
    // A graph named like torch.onnx.export names values, with a stride-2 conv on an even input (TF 'same' would differ).
    const g = new GraphBuilder('scoped');
    const x = g.input('input', [null, 2, 8, 8]);
    const r = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 0.5);
    const w = g.initializer('stem.conv1.weight', r(4 * 2 * 9), [4, 2, 3, 3]);
    const c = g.conv(x, w, undefined, { strides: [2, 2], pads: [1, 1, 1, 1] }, '/stem/conv1/Conv_output_0');
    const y = g.relu(c, '/stem/relu1/Relu_output_0');
    const p = g.globalAveragePool(y, '/pool/GlobalAveragePool_output_0');
    const f = g.flatten(p, 1, '/Flatten_output_0');
    const fw = g.initializer('fc.weight', r(3 * 4), [3, 4]);
    const fb = g.initializer('fc.bias', r(3), [3]);
    g.output(g.gemm(f, fw, fb, { transB: true }, 'logits'));
    const m = decodeOnnx(g.encode());
    const ren = scopeRenames(m);
    assert.deepEqual(ren, { '/stem/conv1/Conv_output_0': 'stem.conv1', '/stem/relu1/Relu_output_0': 'stem.relu1', '/pool/GlobalAveragePool_output_0': 'pool', '/Flatten_output_0': 'flatten' });
    renameValues(m, ren);
    renameValues(m, { 'stem.relu1': 'stem' });
    assert.throws(() => renameValues(m, { nope: 'x' }), /no node output named 'nope'/);
    assert.throws(() => renameValues(m, { stem: 'pool' }), /already a value name/);
    const onnxPath = join(dir, 'm.onnx');
    await writeFile(onnxPath, encodeOnnx(m));
    const res = await convertOnnxFileToTfjs(onnxPath, join(dir, 'tfjs'));
    assert.equal(res.layerNames.stem, 'stem');
    const json = JSON.parse(await readFile(res.modelJson, 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    const bin = await readFile(res.weightsFile);
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) }),
    );
    assert.ok(loaded.getLayer('stem') && loaded.getLayer('stem.conv1'));
    assert.deepEqual(loaded.getLayer('stem').outputShape, [null, 4, 4, 4]);
    const batch = randomBatch(2, [2, 8, 8], 5);
    const d = maxDiff(await ortLogits(encodeOnnx(m), 'input', batch), tfjsLogits(loaded, batch));
    assert.ok(d < 1e-5, `max |Δ| ${d}`);
    loaded.dispose();

    // Unsupported op / training-mode BN → errors naming the node.
    const g2 = new GraphBuilder('bad');
    const x2 = g2.input('input', [null, 1, 4, 4]);
    g2.output(g2.node('Tanh', [x2], ['weird'])[0]);
    assert.throws(() => convertOnnxModel(decodeOnnx(g2.encode()), 'bad.onnx'), /bad\.onnx: node .*\(Tanh\): op Tanh is not supported/);
    assert.throws(() => decodeOnnx(new Uint8Array([1, 2, 3, 4, 5]), 'junk.onnx'), /junk\.onnx/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
