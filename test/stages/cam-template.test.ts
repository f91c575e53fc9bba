// The template pipelines/resnet18-cam.yaml, unchanged, in a temp project with a random-weight ResNet-18 exported with
// torch.onnx.export's tensor names (src/model/testing/nets.ts) in place of the user's model, the repo's
// configs/models/resnet18-imagenet.yaml, and a small ImageNet-style folder (synset class folders, non-square images).
// Score-CAM (512 full forwards per image at layer4) is left out with --set to keep the test fast.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { resnet18, rng } from '../../src/model/testing/nets.ts';
import { encodePng } from '../../src/image/io.ts';
import { readArrowFile } from '../../src/arrow/io.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(os.tmpdir(), 'xai-cam-template-'));

function write(rel: string, data: string | Uint8Array): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), data);
}

before(() => {
  symlinkSync(join(repo, 'stages'), join(dir, 'stages'));
  mkdirSync(join(dir, 'pipelines'));
  mkdirSync(join(dir, 'configs/models'), { recursive: true });
  copyFileSync(join(repo, 'pipelines/resnet18-cam.yaml'), join(dir, 'pipelines/resnet18-cam.yaml'));
  copyFileSync(join(repo, 'configs/models/resnet18-imagenet.yaml'), join(dir, 'configs/models/resnet18-imagenet.yaml'));
  write('models/resnet18-imagenet.onnx', resnet18().onnx);
  write('models/imagenet-labels.txt', ['tench, Tinca tinca', 'goldfish, Carassius auratus', ...Array.from({ length: 998 }, (_, i) => `class ${i + 2}`)].join('\n') + '\n');
  const r = rng(3);
  const img = (w: number, h: number) => encodePng(Uint8Array.from({ length: w * h * 3 }, () => Math.floor(r() * 256)), w, h, 3);
  write('data/imagenet-samples/n01440764_tench/a.png', img(300, 200));
  write('data/imagenet-samples/n01443537_goldfish/b.png', img(180, 260));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('pipelines/resnet18-cam.yaml runs on an ONNX ResNet-18 with torchvision names and an image folder', () => {
  const bin = join(repo, 'bin', 'xai.mjs');
  const r = spawnSync(process.execPath, [bin, 'run', 'pipelines/resnet18-cam.yaml', '--set', 'stages.cams.methods=[gradcam,ablationcam]'], {
    cwd: dir,
    env: { ...process.env, CI: '1' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const base = join(dir, 'artifacts/resnet18-cam/cams');
  const m = JSON.parse(readFileSync(join(base, 'manifest.json'), 'utf8'));
  assert.match(m.meta.backend, /onnxruntime-node/);
  assert.deepEqual(m.meta.layers, ['layer4']);
  assert.deepEqual(m.meta.input_size, [224, 224]);
  const t = readArrowFile(join(base, m.tables.cams.file));
  assert.equal(t.numRows, 4);
  const rows = Array.from({ length: t.numRows }, (_, i) => Object.fromEntries(t.schema.fields.map((f) => [f.name, t.getChild(f.name)!.get(i)])));
  assert.deepEqual(rows.map((x) => [x.image, x.method]), [
    ['n01440764_tench/a.png', 'gradcam'],
    ['n01440764_tench/a.png', 'ablationcam'],
    ['n01443537_goldfish/b.png', 'gradcam'],
    ['n01443537_goldfish/b.png', 'ablationcam'],
  ]);
  for (const x of rows) {
    assert.equal(x.cam.length, 224 * 224);
    assert.equal(x.label, x.image.includes('tench') ? 'tench' : 'goldfish');
    assert.ok(x.probability > 0 && x.probability <= 1);
    assert.ok(existsSync(join(base, x.overlay)), x.overlay);
  }
});
