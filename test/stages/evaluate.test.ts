// Stage `evaluate` through the real CLI on an ONNX model whose scores are known in closed form:
//   x [3,4,4] → GlobalAveragePool → Gemm(M, b): logit_c = Σ_ch M[c,ch]·mean(x_ch) + b_c
// with fixture CAM maps (fake-cam) on 4×4 images. The deletion / insertion curves are derived here by hand: deleting
// a set S of pixels (zero baseline, model-input space) leaves mean(x_ch) = Σ_{p∉S} x_ch[p] / 16; insertion starts
// from the blurred image (RISE's σ = 5 Gaussian: on a 4×4 image nearly the channel mean) — checked through the
// monotone end points. ROAD is checked for shape and for combined = (LeRF − MoRF)/2 (its imputation is tested in
// test/algo/evaluate.test.ts). Bad inputs: located ConfigErrors, exit 2.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { xai, repo } from '../engine/helpers.ts';
import { compareProject, writePng } from './compare-helpers.ts';
import { readArrowFile, tableToJsonRows } from '../../src/arrow/io.ts';
import { GraphBuilder } from '../../src/model/onnx/builder.ts';

const M = [[2, -1, 0.5], [-1, 1.5, 1], [0.5, 0.5, -2]]; // [K=3, C=3]
const B = [0.1, -0.2, 0.3];
const rgb = Uint8Array.from({ length: 48 }, (_, i) => (i * 37 + 11) % 256); // HWC
const x = (c: number, p: number) => rgb[p * 3 + c] / 255; // the model input (scale 1/255, mean 0, std 1)
const CAM = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.5, 0.5, 0.45, 0.35, 0.05, 0.15, 0.25, 0.0];
const TARGET = 1;

function model(): Uint8Array {
  const g = new GraphBuilder('linear');
  const inp = g.input('x', [null, 3, 4, 4]);
  const gap = g.flatten(g.globalAveragePool(inp, 'gap'), 1, 'flat');
  const logits = g.gemm(gap, g.initializer('w', Float32Array.from(M.flat()), [3, 3]), g.initializer('b', Float32Array.from(B), [3]), { transB: true }, 'logits');
  g.output(logits, [null, 3]);
  return g.encode();
}

const prob = (means: number[]) => {
  const l = M.map((row, c) => row.reduce((s, m, ch) => s + m * means[ch], B[c]));
  const mx = Math.max(...l);
  const e = l.map((v) => Math.exp(v - mx));
  return e[TARGET] / e.reduce((s, v) => s + v, 0);
};

const PIPE = (evalParams: string, inputs = '{ model: model, images: images, cams: cams }') => `name: p
stages:
  images:
    uses: dataset
    params: { root: data, labels: { from: none } }
  model:
    uses: load-model
    params: { path: models/linear.onnx, input: { size: 4 } }
  cams:
    uses: fake-cam
    params:
      maps:
        - { image: a.png, index: 0, method: gradcam, layer: l, target: ${TARGET}, cam: ${JSON.stringify(CAM)} }
  ev:
    uses: evaluate
    inputs: ${inputs}
    params: ${evalParams}
`;

const p = compareProject();
after(() => p.cleanup());
for (const kind of ['load-model', 'evaluate', 'report']) p.write(`stages/${kind}.ts`, `export { default } from ${JSON.stringify(join(repo, 'stages', `${kind}.ts`))};\n`);
mkdirSync(join(p.dir, 'data'), { recursive: true });
mkdirSync(join(p.dir, 'models'), { recursive: true });
writeFileSync(join(p.dir, 'models/linear.onnx'), model());
const ready = writePng(join(p.dir, 'data/a.png'), rgb, 4, 4, 3);

function run(evalParams: string) {
  p.write('pipelines/p.yaml', PIPE(evalParams));
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

const rowsOf = (table: string) => tableToJsonRows(readArrowFile(join(p.dir, 'artifacts/p/ev', `${table}.arrow`))) as Record<string, unknown>[];

test('deletion curve (zero baseline) equals the hand derivation on a linear model; AUC by the trapezoid rule', async () => {
  await ready;
  run('{ steps: 4, baseline: zero, road: { percentiles: [25, 50, 75], noise: 0 } }');
  const [row] = rowsOf('per_image');
  // order: CAM descending, ties row-major (0.5 at 8 and 9 → 8 first)
  const order = CAM.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
  const expected = [0, 4, 8, 12, 16].map((k) => {
    const gone = new Set(order.slice(0, k));
    return prob([0, 1, 2].map((c) => Array.from({ length: 16 }, (_, q) => (gone.has(q) ? 0 : x(c, q))).reduce((s, v) => s + v, 0) / 16));
  });
  const curve = row.deletion_curve as number[];
  curve.forEach((v, k) => assert.ok(Math.abs(v - expected[k]) < 1e-5, `deletion[${k}] ${v} vs ${expected[k]}`));
  const auc = (expected[0] / 2 + expected[1] + expected[2] + expected[3] + expected[4] / 2) / 4;
  assert.ok(Math.abs((row.deletion_auc as number) - auc) < 1e-5);
  assert.equal(row.explanation, 'gradcam@l');
  assert.equal(row.target, TARGET);
  assert.ok(Math.abs((row.probability as number) - expected[0]) < 1e-5);
  // insertion ends at the unperturbed image
  const ins = row.insertion_curve as number[];
  assert.equal(ins.length, 5);
  assert.ok(Math.abs(ins[4] - expected[0]) < 1e-6);
  // ROAD: one value per percentile, means and the combined score
  const morf = row.road_morf_curve as number[], lerf = row.road_lerf_curve as number[];
  assert.equal(morf.length, 3);
  assert.ok(Math.abs((row.road_morf as number) - morf.reduce((s, v) => s + v, 0) / 3) < 1e-9);
  assert.ok(Math.abs((row.road_combined as number) - ((row.road_lerf as number) - (row.road_morf as number)) / 2) < 1e-12);
  assert.equal(lerf.length, 3);
  const summary = rowsOf('summary');
  assert.deepEqual(summary.map((s) => s.metric), ['deletion_auc', 'insertion_auc', 'road_morf', 'road_lerf', 'road_combined']);
  assert.ok(Math.abs((summary[0].mean as number) - auc) < 1e-5);
});

test('only the asked metrics: the others are null', async () => {
  await ready;
  run('{ metrics: [road], road: { percentiles: [50] } }');
  const [row] = rowsOf('per_image');
  assert.equal(row.deletion_auc, null);
  assert.equal(row.insertion_curve, null);
  assert.equal(typeof row.road_combined, 'number');
});

test('bad params and inputs: located errors, exit 2', async () => {
  await ready;
  // validation errors exit 2 before anything runs; errors found once the inputs are read fail the stage (exit 1)
  const bad = (params: string, re: RegExp, inputs?: string, code = 2) => {
    p.write('pipelines/p.yaml', PIPE(params, inputs));
    const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, code, r.stderr + r.stdout);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  };
  bad('{ steps: 0 }', /steps/);
  bad('{ baseline: grey }', /baseline/);
  bad('{ road: { percentiles: [50, 50] } }', /percentile is listed twice/);
  bad('{ road: { percentiles: [100] } }', /percentiles/);
  bad('{ methods: [eigencam] }', /stages\.ev\.params\.methods: no CAM of stage 'cams' matches/, undefined, 1);
  bad('{}', /at least one explanation input/, '{ model: model, images: images }', 1);
  bad('{}', /input 'cams' \(stage 'images', kind dataset\) has no table 'cams'/, '{ model: model, images: images, cams: images }', 1);
});

test("scoreboard with an evaluate input: LIME's faithfulness means join the board (table and meta)", async () => {
  await ready;
  const rows4 = Array.from({ length: 16 }, (_, i) => Math.floor(i / 4)); // superpixel = row
  const mask = Array.from({ length: 16 }, (_, i) => (i < 4 ? 1 : 0));
  p.write('pipelines/p.yaml', `${PIPE('{ steps: 4, road: { percentiles: [50], noise: 0 } }', '{ model: model, images: images, cams: cams, lime: lime }')}
  lime:
    uses: fake-lime
    params:
      images:
        - { id: a.png, index: 0, width: 4, height: 4, segments: ${JSON.stringify(rows4)}, total_ms: 100,
            labels: [{ label: ${TARGET}, mask: ${JSON.stringify(mask)}, seg_ids: [0, 2], weights: [1, 0.5] }] }
  cmp:
    uses: compare
    inputs: { cams: cams, lime: lime }
  board:
    uses: scoreboard
    inputs: { lime: lime, compare: cmp, evaluate: ev }
    params: { against: cam }
`);
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const lime = rowsOf('per_image').find((x) => x.explanation === 'lime')!;
  // LIME's map: row 0 weight 1, row 2 weight 0.5, rows 1 and 3 zero → deletion order rows 0, 2, then 1, 3
  assert.equal(lime.target, TARGET);
  const board = tableToJsonRows(readArrowFile(join(p.dir, 'artifacts/p/board/scoreboard.arrow')))[0] as Record<string, number>;
  const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
  assert.equal(board.avg_deletion_auc, r4(lime.deletion_auc as number));
  assert.equal(board.avg_insertion_auc, r4(lime.insertion_auc as number));
  assert.equal(board.avg_road_combined, r4(lime.road_combined as number));
  // the deletion curve of LIME's map by hand (zero baseline): rows 0 and 2 go first (4 pixels per step)
  const order = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15];
  const expected = [0, 4, 8, 12, 16].map((k) => {
    const gone = new Set(order.slice(0, k));
    return prob([0, 1, 2].map((c) => Array.from({ length: 16 }, (_, q) => (gone.has(q) ? 0 : x(c, q))).reduce((s, v) => s + v, 0) / 16));
  });
  (lime.deletion_curve as number[]).forEach((v, k) => assert.ok(Math.abs(v - expected[k]) < 1e-5, `lime deletion[${k}]`));
});

test('report: a faithfulness section with the summary and the mean deletion / insertion curves', async () => {
  await ready;
  p.write('pipelines/p.yaml', `${PIPE('{ steps: 4, metrics: [deletion, insertion] }')}
  report:
    uses: report
    inputs: { evaluate: ev }
`);
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const html = readFileSync(join(p.dir, 'artifacts/p/report/index.html'), 'utf8');
  assert.match(html, /id="evaluate-ev"/);
  assert.match(html, /Faithfulness: ev/);
  assert.match(html, /gradcam@l/);
  for (const c of ['deletion_curve', 'insertion_curve']) {
    const svg = readFileSync(join(p.dir, 'artifacts/p/report', html.match(new RegExp(`src="([^"]*evaluate-ev-${c}[^"]*)"`))![1]), 'utf8');
    assert.match(svg, /<polyline points="[^"]+"/);
  }
});
