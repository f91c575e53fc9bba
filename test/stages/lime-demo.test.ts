// Stage `lime` on the embedded demo model (models/demo, configs/models/demo.yaml), through the CLI, on 6 held-out
// synthetic shapes images (seed 2, never trained on) with ground-truth masks of the main object:
// lime's default mask (get_image_and_mask: top-5 positive superpixels) overlaps the object much better than chance.
// Measured (2026-11-27, 6 images, 200 samples, hide_color 128): mean IoU 0.498 vs 0.112 for a random mask of the same
// area; 8 images × 300 samples: 0.52 vs 0.12; 20 images × 1000 samples: 0.51 vs 0.13.
// hide_color 128 (not the seed's 0): the demo's objects are flat and often near-black, so hiding a superpixel with
// black — or with its own mean colour (hide_color null) — leaves the object unchanged and LIME cannot see it
// (measured on 20 images × 1000 samples: IoU 0.08 with hide_color 0, 0.19 with null, vs chance 0.15 / 0.13).
// Skipped (with a message) when the demo model is not present.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { readArrowFile } from '../../src/arrow/io.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repo, 'bin', 'xai.mjs');
const cfg = join(repo, 'configs/models/demo.yaml');
function modelFile(): string | undefined {
  if (!existsSync(cfg)) return undefined;
  const p = (parse(readFileSync(cfg, 'utf8')) as { path?: string }).path;
  return p && existsSync(resolve(repo, p)) ? resolve(repo, p) : undefined;
}
const missing = !modelFile() ? 'demo model not present (configs/models/demo.yaml, models/demo)' : false;
const uses = (kind: string) => JSON.stringify(join(repo, 'stages', `${kind}.ts`));
let dir = '';
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('demo model: the LIME mask overlaps the ground-truth object far better than a random mask of the same area', { skip: missing }, () => {
  dir = mkdtempSync(join(os.tmpdir(), 'xai-lime-demo-'));
  const doc = parse(readFileSync(cfg, 'utf8')) as Record<string, unknown>;
  doc.path = resolve(repo, doc.path as string);
  if (doc.labels) doc.labels = resolve(repo, doc.labels as string);
  const w = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  w('configs/demo.yaml', stringify(doc));
  w('configs/seed.yaml', readFileSync(join(repo, 'configs/lime/seed.yaml'), 'utf8'));
  w('configs/shapes-eval.yaml', readFileSync(join(repo, 'configs/datasets/shapes-eval.yaml'), 'utf8'));
  w(
    'pipelines/p.yaml',
    `name: p
stages:
  heldout:
    uses: ${uses('synth-dataset')}
    include: configs/shapes-eval.yaml
    params: { count: 6 }
  model:
    uses: ${uses('load-model')}
    include: configs/demo.yaml
  lime:
    uses: ${uses('lime')}
    inputs: { model: model, images: heldout }
    include: configs/seed.yaml
    params: { hide_color: 128, num_samples: 200, random_state: 0, overlay: { enabled: false } }
`,
  );
  const r = spawnSync(process.execPath, [bin, 'run', 'pipelines/p.yaml'], { cwd: dir, env: { ...process.env, CI: '1' }, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const m = JSON.parse(readFileSync(join(dir, 'artifacts/p/lime/manifest.json'), 'utf8'));
  const t = readArrowFile(join(dir, 'artifacts/p/lime', m.tables.explanations.file));
  assert.equal(t.numRows, 6);
  const iou = Array.from({ length: t.numRows }, (_, i) => t.getChild('gt_iou')!.get(i) as number);
  const chance = Array.from({ length: t.numRows }, (_, i) => t.getChild('gt_iou_chance')!.get(i) as number);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const mi = mean(iou), mc = mean(chance);
  console.log(`# demo LIME mask IoU vs GT: ${mi.toFixed(3)} (random mask of the same area: ${mc.toFixed(3)}); per image ${iou.map((x) => x.toFixed(2)).join(' ')}`);
  // measured 0.379 with per-image seeds (0.498 when every image shared one stream): 200 samples over 6 images vary
  assert.ok(mi >= 0.3, `mean IoU ${mi.toFixed(3)} (measured 0.379)`);
  assert.ok(mi >= 3 * mc, `mean IoU ${mi.toFixed(3)} vs chance ${mc.toFixed(3)}`);
  assert.ok(iou.filter((x, i) => x > chance[i]).length >= 5, 'better than chance on at least 5 of 6 images');
  // the predicted class is the dataset's class (the demo model is 99.7% accurate on held-out images)
  const agree = Array.from({ length: t.numRows }, (_, i) => t.getChild('label')!.get(i) === t.getChild('dataset_label')!.get(i)).filter(Boolean).length;
  assert.ok(agree >= 5, `${agree}/6 top labels equal the dataset label`);
  assert.equal(m.meta.summary.mean_gt_iou.toFixed(2), mi.toFixed(2));
  assert.match(m.meta.backend, /onnxruntime/);
});
