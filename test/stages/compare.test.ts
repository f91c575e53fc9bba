// The compare and scoreboard stages on hand cases (4×4 images, fixture CAM and LIME stages, a folder dataset with one
// ground-truth mask): IoU of the binarised CAM with the LIME mask under each binarisation rule, pointing game and
// relevance mass against the ground truth, ranking, summary, chart; scoreboard contents.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { xai } from '../engine/helpers.ts';
import { compareProject, writePng } from './compare-helpers.ts';
import { readArrowFile, tableToJsonRows } from '../../src/arrow/io.ts';

// Image a.png: ground truth = top-left 2×2 {0,1,4,5}.
const GT_A = [0, 1, 4, 5];
// CAM of a.png: top-4 pixels = {0,1,4,5}; argmax pixel 0; positive mass 3.0 inside the GT of 3.1.
const CAM_A = [0.9, 0.8, 0.1, 0, 0.7, 0.6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
// CAM of b.png: top-2 = {15, 14}.
const CAM_B = Array.from({ length: 16 }, (_, i) => (i === 15 ? 1 : i === 14 ? 0.5 : 0));
const EIGEN_A = Array.from({ length: 16 }, (_, i) => (i >= 12 ? 1 - (i - 12) * 0.1 : 0)); // bottom row
const EIGEN_B = CAM_B;
const rows4 = Array.from({ length: 16 }, (_, i) => Math.floor(i / 4)); // superpixel = row
const ind = (px: number[]) => Array.from({ length: 16 }, (_, i) => (px.includes(i) ? 1 : 0));

const PIPE = (compareParams: string, scoreParams = '{}') => `name: p
stages:
  images:
    uses: dataset
    params: { root: data, labels: { from: none }, masks: { pattern: '{path}_gt.png' } }
  cams:
    uses: fake-cam
    params:
      maps:
        - { image: a.png, index: 0, method: gradcam, layer: layer3, target: 3, cam: ${JSON.stringify(CAM_A)} }
        - { image: b.png, index: 1, method: gradcam, layer: layer3, target: 5, cam: ${JSON.stringify(CAM_B)} }
        - { image: a.png, index: 0, method: eigencam, layer: layer3, target: 3, cam: ${JSON.stringify(EIGEN_A)} }
        - { image: b.png, index: 1, method: eigencam, layer: layer3, target: 5, cam: ${JSON.stringify(EIGEN_B)} }
  lime:
    uses: fake-lime
    params:
      images:
        - id: a.png
          index: 0
          width: 4
          height: 4
          segments: ${JSON.stringify(rows4)}
          total_ms: 200
          labels:
            - { label: 7, mask: ${JSON.stringify(ind([12, 13, 14, 15]))}, seg_ids: [3], weights: [1] }
            - { label: 3, mask: ${JSON.stringify(ind([0, 1, 2, 3]))}, seg_ids: [0, 1], weights: [2, 1] }
        - id: b.png
          index: 1
          width: 4
          height: 4
          segments: ${JSON.stringify(rows4)}
          total_ms: 400
          labels:
            - { label: 5, mask: ${JSON.stringify(ind([14, 15]))}, seg_ids: [3], weights: [1] }
  cmp:
    uses: compare
    inputs: { cams: cams, lime: lime, images: images }
    params: ${compareParams}
  board:
    uses: scoreboard
    inputs: { lime: lime, compare: cmp }
    params: ${scoreParams}
`;

const p = compareProject();
after(() => p.cleanup());
mkdirSync(join(p.dir, 'data'), { recursive: true });
const ready = (async () => {
  const rgb = new Uint8Array(16 * 3).fill(128);
  await writePng(join(p.dir, 'data/a.png'), rgb, 4, 4, 3);
  await writePng(join(p.dir, 'data/b.png'), rgb, 4, 4, 3);
  await writePng(join(p.dir, 'data/a_gt.png'), Uint8Array.from(ind(GT_A), (v) => v * 255), 4, 4, 1);
})();

function run(compareParams: string, scoreParams?: string) {
  p.write('pipelines/p.yaml', PIPE(compareParams, scoreParams));
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.stderr);
  return r;
}
const table = (stage: string, name: string) => tableToJsonRows(readArrowFile(join(p.dir, 'artifacts/p', stage, `${name}.arrow`))) as Record<string, any>[];
const row = (rows: Record<string, any>[], image: string, method: string | null) => rows.find((r) => r.image === image && r.method === method)!;
const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} ≠ ${b}`);

test('same-count (default): CAM vs LIME IoU, vs ground truth (IoU, pointing, relevance mass), ranking, summary, chart', async () => {
  await ready;
  const r = run('{}');
  const rows = table('cmp', 'per_image');
  assert.equal(rows.length, 4);
  const a = row(rows, 'a.png', 'gradcam');
  // LIME explanation of the CAM's target class 3 (LIME's rank 1), not its top label 7.
  assert.equal(a.lime_label, 3);
  assert.equal(a.lime_label_matches, true);
  assert.match(a.rule, /^same-count/);
  assert.equal(a.cam_pixels, 4); // as many as the LIME mask
  close(a.iou, 2 / 6, 'CAM {0,1,4,5} vs LIME {0,1,2,3}');
  assert.equal(a.gt_pixels, 4);
  close(a.cam_gt_iou, 1);
  assert.equal(a.cam_pointing, true);
  close(a.cam_relevance_mass, 3.0 / 3.1);
  close(a.lime_gt_iou, 2 / 6);
  assert.equal(a.lime_pointing, true); // superpixel 0 (weight 2) holds the argmax: pixel 0
  close(a.lime_relevance_mass, (2 + 2 + 1 + 1) / (4 * 2 + 4 * 1));
  assert.equal(a.n_segments, 4);
  const b = row(rows, 'b.png', 'gradcam');
  close(b.iou, 1);
  assert.equal(b.cam_pixels, 2);
  assert.equal(b.gt_pixels, null); // no mask for b.png
  assert.equal(b.cam_gt_iou, null);
  assert.equal(b.lime_pointing, null);
  // Ranking within each CAM: b agrees best.
  assert.equal(b.rank, 1);
  assert.equal(a.rank, 2);
  const ea = row(rows, 'a.png', 'eigencam');
  close(ea.iou, 0); // bottom row vs top row
  assert.equal(ea.cam_pointing, false);
  close(ea.cam_relevance_mass, 0);

  const sum = table('cmp', 'summary');
  const s = sum.find((x) => x.a === 'gradcam@layer3' && x.b === 'lime' && x.metric === 'iou')!;
  assert.equal(s.n, 2);
  close(s.mean, (1 / 3 + 1) / 2);
  close(s.median, (1 / 3 + 1) / 2);
  close(s.std, 1 / 3);
  close(s.min, 1 / 3);
  close(s.max, 1);
  assert.equal(s.best, 'b.png');
  assert.equal(s.worst, 'a.png');
  assert.match(s.rule, /^same-count/);
  const pg = sum.find((x) => x.a === 'eigencam@layer3' && x.b === 'gt' && x.metric === 'pointing')!;
  assert.equal(pg.n, 1);
  assert.equal(pg.mean, 0);
  const lg = sum.find((x) => x.a === 'lime' && x.b === 'gt' && x.metric === 'relevance_mass')!;
  close(lg.mean, 0.5);

  const m = p.json('artifacts/p/cmp/manifest.json');
  assert.equal(m.meta.extremes['gradcam@layer3'].best.image, 'b.png');
  assert.equal(m.meta.extremes['gradcam@layer3'].worst.image, 'a.png');
  assert.equal(m.meta.binarize.rule, 'same-count');
  const svg = readFileSync(join(p.dir, 'artifacts/p/cmp/charts/iou_gradcam_layer3.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /b: 1<\/title>/); // bar titles: label: value
  assert.ok(existsSync(join(p.dir, 'artifacts/p/cmp/charts/iou_eigencam_layer3.svg')));
  assert.match(r.stderr, /highest IoU 1 b\.png/);
  // `xai run` ends with where each output is.
  assert.match(r.stderr, /^outputs:$/m);
  assert.match(r.stderr, /^  cmp +artifacts\/p\/cmp\/  per_image\.arrow \(4 rows\), summary\.arrow \(\d+ rows\), charts\/ \(2 svg\)$/m);
  assert.match(r.stderr, /^  board +artifacts\/p\/board\/  scoreboard\.arrow \(1 rows\), scoreboard\.json$/m);

  // Scoreboard (auto): b.png has no ground truth and a CAM is given → every image against gradcam (no mixing):
  // a.png: LIME label 3 {0,1,2,3} vs CAM {0,1,4,5} = 2/6; b.png: 1.
  const sb = table('board', 'scoreboard')[0];
  close(sb.avg_iou, Math.round(((2 / 6 + 1) / 2) * 1e4) / 1e4);
  assert.equal(sb.n_images, 2);
  assert.equal(sb.against, 'cam:gradcam@layer3');
  assert.equal(sb.n_gt, 0);
  assert.equal(sb.n_cam, 2);
  assert.equal(sb.forwards_per_image, 1000); // fake-lime's samples = its num_samples
  assert.equal('avg_time' in sb, false, 'timings are not results');
  const params = JSON.parse(sb.params);
  assert.equal(params.num_samples, 1000);
  assert.equal(params.overlay, undefined); // omitted: display-only
  const j = p.json('artifacts/p/board/scoreboard.json');
  assert.deepEqual(Object.keys(j), ['avg_iou', 'n_images', 'forwards_per_image', 'params']);
  assert.equal(j.avg_iou, sb.avg_iou);
  // avg_time: the lime stage's item times (fake-lime reports 200 and 400 ms: timer.set) → 0.3 s per image, joined
  // where the board is shown; the lime stage computed alone (the scoreboard's input is timed).
  const show = xai(p.dir, ['show', 'pipelines/p.yaml', 'board']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /board: avg_iou 0\.6667 \(against cam:gradcam@layer3\), avg_time 0\.3 s\/image \(lime's timings, computed alone\), 1000 forwards\/image, 2 images/);
  const lm = p.json('artifacts/p/lime/manifest.json');
  assert.equal(lm.timings.alone, true);
  assert.equal(lm.timings.beside, undefined);
  assert.deepEqual([lm.timings.items.explanations.n, lm.timings.items.explanations.mean_ms], [2, 300]);

  // mixed only when asked for, and labelled: a.png against its ground truth (LIME label 3 vs {0,1,4,5}: 2/6), b.png
  // against the CAM (1).
  run('{}', '{ against: mixed }');
  const mx = table('board', 'scoreboard')[0];
  assert.equal(mx.against, 'mixed');
  assert.deepEqual([mx.n_gt, mx.n_cam, mx.n_images], [1, 1, 2]);
  close(mx.avg_iou, Math.round(((2 / 6 + 1) / 2) * 1e4) / 1e4);
});

test('binarisation rules through the stage: top-percent, threshold, otsu; lime_label top; methods filter', async () => {
  await ready;
  run('{ binarize: { rule: threshold, value: 0.65 }, methods: [Grad-CAM] }'); // spelled as the cam stage accepts it
  let rows = table('cmp', 'per_image');
  assert.equal(rows.length, 2);
  let a = row(rows, 'a.png', 'gradcam');
  assert.equal(a.rule, 'threshold cam >= 0.65');
  assert.equal(a.cam_pixels, 3); // {0, 1, 4}
  close(a.iou, 2 / 5);
  close(a.cam_gt_iou, 3 / 4);
  let b = row(rows, 'b.png', 'gradcam');
  close(b.iou, 1 / 2); // {15} vs {14, 15}

  run('{ binarize: { rule: top-percent, percent: 25 }, methods: [gradcam] }');
  rows = table('cmp', 'per_image');
  a = row(rows, 'a.png', 'gradcam');
  assert.match(a.rule, /^top-percent 25%/);
  assert.equal(a.cam_pixels, 4);
  close(a.iou, 2 / 6);
  b = row(rows, 'b.png', 'gradcam');
  assert.equal(b.cam_pixels, 4); // 25 % of 16 whatever the LIME mask's size: {15, 14, then ties by lower index 0, 1}
  close(b.iou, 2 / 4);

  run('{ binarize: { rule: otsu }, methods: [gradcam] }');
  rows = table('cmp', 'per_image');
  a = row(rows, 'a.png', 'gradcam');
  assert.match(a.rule, /^otsu/);
  assert.equal(a.cam_pixels, 4); // {0.6 .. 0.9} above Otsu's threshold
  close(a.iou, 2 / 6);
  close(a.cam_gt_iou, 1);

  run('{ lime_label: top, methods: [gradcam] }');
  rows = table('cmp', 'per_image');
  a = row(rows, 'a.png', 'gradcam');
  assert.equal(a.lime_label, 7);
  assert.equal(a.lime_label_matches, false);
  close(a.iou, 0); // CAM {0,1,4,5} vs LIME label 7's bottom row
  const m = p.json('artifacts/p/cmp/manifest.json');
  assert.deepEqual(m.meta.cams, ['gradcam@layer3']);
});

test('scoreboard: against gt / cam, chosen method; unknown method is a located error', async () => {
  await ready;
  run('{}', '{ against: cam, method: eigencam }');
  let sb = table('board', 'scoreboard')[0];
  assert.equal(sb.against, 'cam:eigencam@layer3');
  close(sb.avg_iou, (0 + 1) / 2);
  assert.equal(sb.n_images, 2);
  run('{}', '{ against: gt }');
  sb = table('board', 'scoreboard')[0];
  assert.equal(sb.against, 'gt');
  assert.equal(sb.n_images, 1);
  close(sb.avg_iou, Math.round((1 / 3) * 1e4) / 1e4);
  p.write('pipelines/p.yaml', PIPE('{}', '{ method: scorecam }'));
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /board.*no CAM 'scorecam'/s);
  assert.match(r.stderr, /gradcam@layer3, eigencam@layer3/);
});

test('compare without CAMs: LIME vs ground truth only', async () => {
  await ready;
  const text = PIPE('{}').replace('inputs: { cams: cams, lime: lime, images: images }', 'inputs: { lime: lime, images: images }');
  p.write('pipelines/p.yaml', text);
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.stderr);
  const rows = table('cmp', 'per_image');
  assert.equal(rows.length, 2);
  const a = row(rows, 'a.png', null);
  assert.equal(a.lime_label, 7); // top label
  close(a.lime_gt_iou, 0);
  assert.ok(existsSync(join(p.dir, 'artifacts/p/cmp/charts/lime_gt_iou.svg')));
  const sb = table('board', 'scoreboard')[0];
  assert.equal(sb.against, 'gt');
  assert.equal(sb.n_images, 1);
});
