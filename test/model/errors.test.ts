// Bad models and configs: every error names the file and the mismatch, and is a ConfigError (exit 2).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { ConfigError } from '../../src/engine/errors.ts';
import { resnetStyle, randomBatch } from '../../src/model/testing/nets.ts';
import { closeModels, loadModelConfig, openModel } from '../../src/model/index.ts';
import { checkModelStatic } from '../../src/model/check.ts';
import { selectBackend } from '../../src/model/tfjs/backend.ts';
import { fileSaveHandler } from '../../src/model/tfjs/io.ts';

const root = mkdtempSync(join(os.tmpdir(), 'xai-model-err-'));
const net = resnetStyle();
before(async () => {
  mkdirSync(join(root, 'models'));
  mkdirSync(join(root, 'configs'));
  writeFileSync(join(root, 'models/net.onnx'), net.onnx);
  writeFileSync(join(root, 'models/labels10.txt'), Array.from({ length: 10 }, (_, i) => `label ${i}`).join('\n') + '\n\n');
  writeFileSync(join(root, 'models/labels7.txt'), Array.from({ length: 7 }, (_, i) => `label ${i}`).join('\n'));
  const { tf } = await selectBackend(process.env.XAI_TFJS_BACKEND ? undefined : 'wasm');
  await (await net.tfjs()).save(fileSaveHandler(tf.io, join(root, 'models/tfnet')));
});
after(async () => {
  await closeModels();
  rmSync(root, { recursive: true, force: true });
});

async function rejects(p: Promise<unknown>, ...parts: (string | RegExp)[]): Promise<ConfigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${(e as Error).stack}`);
    assert.equal(e.exitCode, 2);
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(e.message.includes(part), `message '${e.message}' lacks '${part}'`);
      else assert.match(e.message, part);
    }
    return e;
  }
  assert.fail('expected an error');
}

function config(name: string, yaml: string): string {
  const f = join(root, 'configs', `${name}.yaml`);
  writeFileSync(f, yaml);
  return f;
}

describe('bad models', () => {
  test('a config loads and opens; labels are read (trailing blank lines ignored)', async () => {
    const c = loadModelConfig(config('good', 'path: models/net.onnx\nlabels: models/labels10.txt\nlayers:\n  layer4: layer2_out\n'), { root });
    const m = await openModel(c, { root });
    assert.equal(m.info.labels[9], 'label 9');
    assert.equal(m.info.layers.find((l) => l.alias === 'layer4')?.name, 'layer2_out');
    const { logits } = await m.predict(randomBatch(1, [3, 32, 32]));
    assert.equal(logits.data.length, 10);
  });

  test('missing model file', async () => {
    const c = loadModelConfig(config('missing', 'path: models/nope.onnx\n'), { root });
    const e = await rejects(openModel(c, { root }), 'models/nope.onnx', 'not found');
    assert.equal(e.file, 'configs/missing.yaml');
    assert.equal(e.line, 1);
  });

  test('corrupt protobuf', async () => {
    const bytes = Buffer.from(net.onnx.subarray(0, 5000));
    writeFileSync(join(root, 'models/truncated.onnx'), bytes);
    await rejects(openModel({ path: 'models/truncated.onnx' }, { root }), 'models/truncated.onnx', 'corrupt protobuf');
    writeFileSync(join(root, 'models/garbage.onnx'), 'this is not a protobuf at all, just text\n');
    await rejects(openModel({ path: 'models/garbage.onnx' }, { root }), 'models/garbage.onnx', /corrupt protobuf|not a valid ONNX/);
  });

  test('input shape that does not match the config', async () => {
    const c = loadModelConfig(config('size', 'path: models/net.onnx\ninput:\n  size: 224\n'), { root });
    const e = await rejects(openModel(c, { root }), 'models/net.onnx', '224×224', '32×32');
    assert.equal(e.line, 3);
    await rejects(openModel({ path: 'models/net.onnx', input: { channels: 1 } }, { root }), 'channels 1', 'takes 3');
    await rejects(openModel({ path: 'models/tfnet', input: { size: [32, 48] } }, { root }), 'models/tfnet/model.json', '32×48', '32×32');
  });

  test('a layer alias that names no tensor', async () => {
    const c = loadModelConfig(config('alias', 'path: models/net.onnx\nlayers:\n  layer4: layer2_ot\n'), { root });
    const e = await rejects(openModel(c, { root }), "alias 'layer4'", "'layer2_ot'", 'models/net.onnx', "did you mean 'layer2_out'");
    assert.equal(e.line, 3);
    assert.equal(e.path, 'layers.layer4');
    await rejects(openModel({ path: 'models/tfnet', layers: { x: 'nolayer' } }, { root }), "alias 'x'", 'models/tfnet/model.json');
  });

  test('labels file with the wrong count, or missing', async () => {
    const c = loadModelConfig(config('labels', 'path: models/net.onnx\nlabels: models/labels7.txt\n'), { root });
    const e = await rejects(openModel(c, { root }), 'models/labels7.txt', '7 labels', '10 classes');
    assert.equal(e.line, 2);
    await rejects(openModel({ path: 'models/tfnet', labels: 'models/labels7.txt' }, { root }), 'models/labels7.txt', '7 labels', '10 classes');
    await rejects(openModel({ path: 'models/net.onnx', labels: 'models/none.txt' }, { root }), 'models/none.txt', 'not found');
  });

  test('TF.js: missing weight shard, corrupt model.json', async () => {
    mkdirSync(join(root, 'models/noshard'));
    writeFileSync(join(root, 'models/noshard/model.json'), readFileSync(join(root, 'models/tfnet/model.json')));
    await rejects(openModel({ path: 'models/noshard' }, { root }), 'models/noshard/model.json', 'weights.bin');
    mkdirSync(join(root, 'models/badjson'));
    writeFileSync(join(root, 'models/badjson/model.json'), '{"modelTopology": ');
    await rejects(openModel({ path: 'models/badjson/model.json', format: 'tfjs-layers' }, { root }), 'models/badjson/model.json');
  });

  test('config schema errors are located, with suggestions', async () => {
    let e = await rejects(Promise.resolve().then(() => loadModelConfig(config('typo', 'path: models/net.onnx\nlabel: x.txt\n'), { root })), "did you mean 'labels'");
    assert.equal(e.file, 'configs/typo.yaml');
    assert.equal(e.line, 2);
    e = await rejects(Promise.resolve().then(() => loadModelConfig(config('fmt', 'path: models/net.onnx\nformat: onx\n'), { root })), 'format', "did you mean 'onnx'");
    assert.equal(e.line, 2);
    await rejects(Promise.resolve().then(() => loadModelConfig(config('nopath', 'labels: a.txt\n'), { root })), "missing required key 'path'");
    await rejects(Promise.resolve().then(() => loadModelConfig('configs/absent.yaml', { root })), 'model config not found');
  });

  test('unknown layer names at call time suggest the nearest alias', async () => {
    const m = await openModel({ path: 'models/net.onnx', layers: { layer4: 'layer2_out' } }, { root });
    await rejects(m.activations(randomBatch(1, [3, 32, 32]), ['layer5']), "no layer or alias 'layer5'", "did you mean 'layer4'");
  });

  test('a head from a tensor inside a residual block is refused clearly', async () => {
    const m = await openModel({ path: 'models/net.onnx' }, { root });
    const acts = await m.activations(randomBatch(1, [3, 32, 32]), ['layer1.relu1']);
    await assert.rejects(m.forwardFrom('layer1.relu1', acts['layer1.relu1']), /does not cut the graph/);
    const t = await openModel({ path: 'models/tfnet' }, { root });
    const a2 = await t.activations(randomBatch(1, [3, 32, 32]), ['layer1.relu1']);
    await assert.rejects(t.forwardFrom('layer1.relu1', a2['layer1.relu1']), /does not cut the graph/);
  });

  test('TF.js backend requests: an unavailable backend or a bad XAI_TFJS_BACKEND is a config error', async () => {
    if (process.env.XAI_TFJS_BACKEND) return; // the environment overrides the config
    await rejects(openModel({ path: 'models/tfnet', backend: 'tfjs-node' }, { root }), "TF.js backend 'tfjs-node' is not available");
    process.env.XAI_TFJS_BACKEND = 'webgpu';
    try {
      await rejects(openModel({ path: 'models/tfnet', name: 'env' }, { root }), "XAI_TFJS_BACKEND='webgpu'", 'wasm');
    } finally {
      delete process.env.XAI_TFJS_BACKEND;
    }
  });

  test('the shipped configs/models/*.yaml validate', async () => {
    const { readdirSync } = await import('node:fs');
    const repoRoot = join(import.meta.dirname, '..', '..');
    const files = readdirSync(join(repoRoot, 'configs/models')).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 2);
    for (const f of files) {
      const c = loadModelConfig(join('configs/models', f), { root: repoRoot });
      assert.ok(c.path, f);
    }
  });

  test('a batch of the wrong shape', async () => {
    const m = await openModel({ path: 'models/net.onnx' }, { root });
    await assert.rejects(m.predict(randomBatch(1, [3, 16, 16])), /expected an NCHW batch \[N, 3, 32, 32\], got \[1, 3, 16, 16\]/);
  });
});

describe('static checks (no runtime; load-model check())', () => {
  const check = (c: Parameters<typeof checkModelStatic>[0]) => Promise.resolve().then(() => checkModelStatic(c, root));
  test('a good config passes', async () => {
    await check({ path: 'models/net.onnx', labels: 'models/labels10.txt', input: { size: 32 }, layers: { l: 'layer2_out' } });
    await check({ path: 'models/tfnet', labels: 'models/labels10.txt', input: { size: 32 }, layers: { l: 'layer2_out' } });
  });
  test('each bad model is caught', async () => {
    await rejects(check({ path: 'models/nope.onnx' }), 'models/nope.onnx', 'not found');
    await rejects(check({ path: 'models/truncated.onnx' }), 'models/truncated.onnx', 'corrupt protobuf');
    await rejects(check({ path: 'models/net.onnx', input: { size: [32, 40] } }), '32×40', 'models/net.onnx', '32×32');
    await rejects(check({ path: 'models/net.onnx', layers: { l: 'nothing' } }), "alias 'l'", "'nothing'", 'models/net.onnx');
    await rejects(check({ path: 'models/net.onnx', labels: 'models/labels7.txt' }), 'models/labels7.txt', '7 labels', '10 classes');
    await rejects(check({ path: 'models/net.onnx', labels: 'models/none.txt' }), 'models/none.txt', 'not found');
    await rejects(check({ path: 'models/tfnet', layers: { l: 'nothing' } }), "alias 'l'", 'models/tfnet/model.json');
    await rejects(check({ path: 'models/tfnet', input: { size: 64 } }), '64×64', 'models/tfnet/model.json');
    await rejects(check({ path: 'models/noshard' }), 'weights.bin');
  });
});

describe('execution provider', () => {
  const cudaInstalled = (() => {
    try {
      const dir = join(process.cwd(), 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
      return readFileSync(join(dir, 'libonnxruntime_providers_cuda.so')).length > 0;
    } catch {
      return false;
    }
  })();
  test('cuda without the CUDA EP install: a ConfigError that says how to install it', { skip: cudaInstalled ? 'CUDA EP installed here' : false }, async () => {
    await rejects(openModel({ path: 'models/net.onnx', execution_provider: 'cuda' }, { root, fresh: true }), 'execution_provider', 'ONNXRUNTIME_NODE_INSTALL=cuda12');
  });
});
