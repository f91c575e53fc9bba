// The template pipelines/resnet18-clip-dissect.yaml, unchanged, in a temp project with random-weight ResNet-18s
// (torch.onnx.export's tensor names, src/model/testing/nets.ts) in place of the user's ImageNet and Places365 models,
// the repo's model configs, a stand-in "CLIP" image encoder (mean colour → 4-d), ImageNet-label embeddings as .npy and
// a 6-image Broden probe set; top_k lowered with --set (the probe set has 6 images).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { resnet18, rng } from '../../src/model/testing/nets.ts';
import { encodePngSync } from '../../src/image/png.ts';
import { BrodenWriter } from '../../src/data/broden.ts';
import { GraphBuilder } from '../../src/model/onnx/builder.ts';
import { readArrowFile } from '../../src/arrow/io.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(os.tmpdir(), 'xai-clipdissect-template-'));
const write = (rel: string, data: string | Uint8Array) => {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), data);
};

/** numpy.save format 1.0 of a float32 C-order array. */
function npy(data: Float32Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  const h = Buffer.from(header + '\n', 'latin1');
  return Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]), h, Buffer.from(data.buffer)]);
}

before(() => {
  symlinkSync(join(repo, 'stages'), join(dir, 'stages'));
  for (const f of ['pipelines/resnet18-clip-dissect.yaml', 'configs/models/resnet18-imagenet.yaml', 'configs/models/resnet18-places365.yaml', 'configs/models/clip-vit-b16.yaml']) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(join(repo, f), join(dir, f));
  }
  write('models/resnet18-imagenet.onnx', resnet18({ seed: 1 }).onnx);
  write('models/resnet18-places365.onnx', resnet18({ seed: 2, numClasses: 365 }).onnx);
  const labels = ['Madagascar cat', 'vending machine', ...Array.from({ length: 998 }, (_, i) => `class ${i + 2}`)];
  write('models/imagenet-labels.txt', labels.join('\n') + '\n');
  write('models/places365-labels.txt', Array.from({ length: 365 }, (_, i) => `place ${i}`).join('\n') + '\n');
  const g = new GraphBuilder('clip');
  const x = g.input('input', [null, 3, 224, 224]);
  const w = g.initializer('proj', Float32Array.from([1, 0, 0, 0.5, 0, 1, 0, 0.5, 0, 0, 1, 0.5]), [3, 4]);
  g.matMul(g.flatten(g.globalAveragePool(x), 1), w, 'embedding');
  g.output('embedding', [null, 4]);
  write('models/clip-vit-b16-image.onnx', g.encode());
  const r = rng(5);
  write('models/imagenet-labels-clip-vit-b16.npy', npy(Float32Array.from({ length: 1000 * 4 }, () => r() - 0.3), [1000, 4]));
  const bw = new BrodenWriter(join(dir, 'data/broden1_224'), ['color'], [{ name: 'red', category: 'color' }]);
  for (let i = 0; i < 6; i++) {
    const rgb = Uint8Array.from({ length: 224 * 224 * 3 }, () => Math.floor(r() * 256));
    bw.add({ image: `img/${i}.png`, imageBytes: encodePngSync(rgb, 224, 224, 3), split: 'train', ih: 224, iw: 224, sh: 112, sw: 112, masks: { color: [new Uint16Array(112 * 112).fill(1)] } });
  }
  bw.finish();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('pipelines/resnet18-clip-dissect.yaml runs on ResNet-18 ONNX exports, a CLIP encoder ONNX and .npy label embeddings', () => {
  const set = ['imagenet', 'places365'].flatMap((m) => ['--set', `stages.${m}-descriptions.top_k=3`]);
  const r = spawnSync(process.execPath, [join(repo, 'bin', 'xai.mjs'), 'run', 'pipelines/resnet18-clip-dissect.yaml', ...set], { cwd: dir, env: { ...process.env, CI: '1' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const base = join(dir, 'artifacts/resnet18-clip-dissect');
  for (const m of ['imagenet', 'places365']) {
    const csv = readFileSync(join(base, `${m}-descriptions`, 'descriptions.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv[0], 'layer,unit,description,similarity');
    assert.equal(csv.length, 1 + 128 + 256 + 512);
    assert.deepEqual([...new Set(csv.slice(1).map((l) => l.split(',')[0]))], ['layer2', 'layer3', 'layer4']);
    for (const l of csv.slice(1)) assert.ok(labels().includes(l.split(',').slice(2, -1).join(',')), l);
  }
  const cmp = readArrowFile(join(base, 'imagenet-vs-places365', 'concepts.arrow'));
  assert.ok(cmp.numRows > 0);
  assert.match(readFileSync(join(base, 'report', 'index.html'), 'utf8'), /CLIP-Dissect: imagenet-descriptions/);
});

function labels(): string[] {
  return readFileSync(join(dir, 'models/imagenet-labels.txt'), 'utf8').split('\n').filter(Boolean);
}
