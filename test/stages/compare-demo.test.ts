// Integration on the real pieces: the demo model (models/demo), the real synth-dataset, cam, lime, compare and
// scoreboard stages, and a 2-configuration LIME sweep — small (3 held-out images, 60 LIME samples) to stay fast.
// Checks that compare/scoreboard read the cam and lime stages' actual tables and that the sweep reuses the CAMs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repo, xai } from '../engine/helpers.ts';
import { readArrowFile, tableToJsonRows } from '../../src/arrow/io.ts';

const dir = mkdtempSync(join(tmpdir(), 'xai-compare-demo-'));
after(() => rmSync(dir, { recursive: true, force: true }));
for (const d of ['stages', 'models', 'configs']) symlinkSync(join(repo, d), join(dir, d), 'dir');
mkdirSync(join(dir, 'pipelines'));
writeFileSync(
  join(dir, 'pipelines/mini.yaml'),
  `name: mini
stages:
  heldout:
    uses: synth-dataset
    include: configs/datasets/shapes-eval.yaml
    params: { count: 3 }
  model:
    uses: load-model
    include: configs/models/demo.yaml
  cams:
    uses: cam
    inputs: { model: model, images: heldout }
    params: { methods: [gradcam, eigencam], layers: [layer3], overlay: { enabled: false } }
  lime:
    uses: lime
    inputs: { model: model, images: heldout }
    include: configs/lime/seed.yaml
    params: { num_samples: 60, hide_color: 128, random_state: 0, overlay: { enabled: false } }
  compare:
    uses: compare
    inputs: { cams: cams, lime: lime, images: heldout }
  board:
    uses: scoreboard
    inputs: { lime: lime, compare: compare }
sweep:
  grid:
    stages.lime.num_samples: [40, 60]
`,
);
const rows = (rel: string) => tableToJsonRows(readArrowFile(join(dir, rel))) as Record<string, any>[];

test('demo model: cam + lime → compare + scoreboard, then a LIME sweep reusing the CAMs', { skip: !existsSync(join(repo, 'models/demo/model.onnx')) && 'no demo model' }, () => {
  const r = xai(dir, ['run', 'pipelines/mini.yaml']);
  assert.equal(r.code, 0, r.stderr);
  const per = rows('artifacts/mini/compare/per_image.arrow');
  assert.equal(per.length, 6); // 3 images × 2 CAMs
  for (const x of per) {
    assert.ok(x.iou >= 0 && x.iou <= 1);
    assert.equal(x.lime_label, x.cam_target); // LIME's top label = the CAM's top1
    assert.equal(x.gt_pixels > 0, true); // the held-out images have ground-truth masks
    assert.ok(x.cam_relevance_mass >= 0 && x.cam_relevance_mass <= 1);
    assert.equal(x.cam_pixels, x.lime_pixels); // same-count
  }
  assert.deepEqual(per.filter((x) => x.method === 'gradcam').map((x) => x.rank).sort(), [1, 2, 3]);
  const lime = rows('artifacts/mini/lime/explanations.arrow');
  const sb = rows('artifacts/mini/board/scoreboard.arrow')[0];
  assert.equal(sb.against, 'gt');
  assert.equal(sb.n_images, 3);
  // avg_iou = mean of the lime stage's own gt_iou (same masks, same IoU definition); the cost column = LIME's samples.
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  assert.ok(Math.abs(sb.avg_iou - mean(lime.map((x) => x.gt_iou))) < 1e-4, `${sb.avg_iou} vs ${mean(lime.map((x) => x.gt_iou))}`);
  assert.equal(sb.forwards_per_image, 60);
  // the lime stage's time per image lives in its manifest, measured with nothing else computing beside it
  const lt = JSON.parse(readFileSync(join(dir, 'artifacts/mini/lime/manifest.json'), 'utf8')).timings;
  assert.equal(lt.alone, true);
  assert.deepEqual([lt.items.segments.n, lt.items.explanations.n], [3, 3]);
  assert.ok(lt.items.explanations.phases.perturbation_prediction > 0 && lt.items.explanations.phases.fit >= 0);
  assert.equal(JSON.parse(sb.params).num_samples, 60);

  const s = xai(dir, ['sweep', 'pipelines/mini.yaml']);
  assert.equal(s.code, 0, s.stderr);
  const board = rows('artifacts/sweeps/mini/latest/scoreboard.arrow');
  assert.deepEqual(board.map((x) => x['lime.num_samples']), [40, 60]);
  assert.ok(board.every((x) => x.status === 'ok' && x.n_images === 3));
  assert.equal(board[1].avg_iou, sb.avg_iou); // num_samples 60 = the run above, from the cache
  const recs = board.map((x) => JSON.parse(readFileSync(join(dir, `artifacts/runs/mini/${x.run_id}.json`), 'utf8')));
  assert.deepEqual(recs.map((x: any) => [x.stages.cams.status, x.stages.lime.status]), [['cached', 'done'], ['cached', 'cached']]);
});
