// The load-model stage in a pipeline (through the real CLI) and `xai inspect`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { resnetStyle } from '../../src/model/testing/nets.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repo, 'bin', 'xai.mjs');
const dir = mkdtempSync(join(os.tmpdir(), 'xai-model-stage-'));
const net = resnetStyle();

function write(rel: string, text: string | Uint8Array): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), text);
}
function xai(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, CI: '1' }, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  write('models/small.onnx', net.onnx);
  write('models/labels.txt', Array.from({ length: 10 }, (_, i) => `class ${i}`).join('\n') + '\n');
  write('models/labels3.txt', 'a\nb\nc\n');
  write('configs/models/small.yaml', 'path: models/small.onnx\nlabels: models/labels.txt\ninput:\n  size: 32\n  mean: [0.5, 0.5, 0.5]\n  std: [0.25, 0.25, 0.25]\nlayers:\n  layer1: layer1_out\n  layer2: layer2_out\n');
  write('configs/models/badlabels.yaml', 'path: models/small.onnx\nlabels: models/labels3.txt\n');
  const stage = JSON.stringify(join(repo, 'stages', 'load-model.ts'));
  write('pipelines/p.yaml', `name: p\nstages:\n  model:\n    uses: ${stage}\n    include: ../configs/models/small.yaml\n`);
  write('pipelines/badlabels.yaml', `name: badlabels\nstages:\n  model:\n    uses: ${stage}\n    params: { path: models/small.onnx, labels: models/labels3.txt }\n`);
  write('pipelines/missing.yaml', `name: missing\nstages:\n  model:\n    uses: ${stage}\n    params: { path: models/absent.onnx }\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('load-model: probe, layer and label tables, meta.config resolved, model file in the cache key', () => {
  const r = xai(['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(readFileSync(join(dir, 'artifacts/p/model/manifest.json'), 'utf8'));
  assert.equal(m.meta.config.path, 'models/small.onnx');
  assert.equal(m.meta.config.format, 'onnx');
  assert.deepEqual(m.meta.config.input.size, [32, 32]);
  assert.deepEqual(m.meta.config.input.mean, [0.5, 0.5, 0.5]);
  assert.equal(m.meta.config.labels, 'models/labels.txt');
  assert.deepEqual(m.meta.config.layers, { layer1: 'layer1_out', layer2: 'layer2_out' });
  assert.match(m.meta.backend, /onnxruntime-node/);
  assert.deepEqual(m.meta.suggested_layers, ['stem_relu', 'layer1', 'layer2']);
  assert.ok(Object.keys(m.reads).some((k: string) => k.includes('models/small.onnx')));
  const info = readFileSync(join(dir, 'artifacts/p/model/model-info.txt'), 'utf8');
  assert.match(info, /layer2_out\s+layer2\s+Relu\s+16×4×4\s+16 {2}◀ dissect/);
  const show = xai(['show', 'pipelines/p.yaml', 'model.labels', '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.equal(JSON.parse(show.stdout).data[9].label, 'class 9');
  // Cached on rerun; a changed model file changes the key.
  assert.match(xai(['run', 'pipelines/p.yaml']).stderr, /1 cached/);
  write('models/small.onnx', resnetStyle({ seed: 99 }).onnx);
  assert.match(xai(['run', 'pipelines/p.yaml']).stderr, /1 done/);
});

test('load-model: a missing model file is a config error (exit 2) naming the file', () => {
  const r = xai(['run', 'pipelines/missing.yaml']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /models\/absent\.onnx/);
});

test('load-model: a labels file with the wrong count stops the run before anything executes (exit 2)', () => {
  const r = xai(['run', 'pipelines/badlabels.yaml']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /pipelines\/badlabels\.yaml:\d+:\d+: stages\.model\.params\.labels: labels file models\/labels3\.txt has 3 labels but the model has 10 classes/);
});

test('xai inspect: config and file; bad labels exit 2 naming the file and the counts', () => {
  const r = xai(['inspect', 'configs/models/small.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /runtime\s+onnx/);
  assert.match(r.stdout, /input\s+3×32×32 RGB/);
  assert.match(r.stdout, /dissection\s+stem_relu, layer1, layer2/);
  assert.match(r.stdout, /parameters\s+5,794/);
  const j = xai(['inspect', 'models/small.onnx', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const info = JSON.parse(j.stdout);
  assert.equal(info.numClasses, 10);
  assert.equal(info.layers.find((l: { name: string }) => l.name === 'layer2_out').units, 16);
  const bad = xai(['inspect', 'configs/models/badlabels.yaml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /configs\/models\/badlabels\.yaml:2:\d+: labels: labels file models\/labels3\.txt has 3 labels but the model has 10 classes/);
});
