// Stages `sanity-check` and `lime-stability` through the CLI on the embedded demo model (models/demo):
// - sanity-check: EigenCAM at layer3 (gradient-free) is exactly unchanged when only the logits layer (/fc/Gemm, after
//   layer3) is randomised and changes once layer3's own conv is; one row per image × explanation × step; the same on
//   the demo's TF.js conversion (its Dense logits layer, then layer3's conv), the model files untouched;
// - lime-stability: K = 3 runs per image; the first run is the lime stage's own (seed random_state + 0), so the
//   pairwise measures lie in their ranges and R²'s spread is consistent with its range.
// Skipped when the demo model is absent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { xai, repo, project } from '../engine/helpers.ts';
import { readArrowFile, tableToJsonRows } from '../../src/arrow/io.ts';

const missing = !existsSync(join(repo, 'models/demo/model.onnx')) || !existsSync(join(repo, 'models/demo/tfjs/model.json')) ? 'demo model not present' : false;
const p = project();
after(() => p.cleanup());
for (const kind of ['synth-dataset', 'load-model', 'cam', 'lime', 'sanity-check', 'lime-stability']) p.write(`stages/${kind}.ts`, `export { default } from ${JSON.stringify(join(repo, 'stages', `${kind}.ts`))};\n`);

const model = (tfjs: boolean) =>
  `{ path: ${join(repo, tfjs ? 'models/demo/tfjs/model.json' : 'models/demo/model.onnx')}, labels: ${join(repo, 'models/demo/labels.txt')}, input: { size: 128, mean: [0.572, 0.526, 0.49], std: [0.294, 0.201, 0.257] }, layers: { layer3: layer3 }, threads: 1 }`;
const PIPE = (tfjs = false) => `name: ${tfjs ? 'q' : 'p'}
stages:
  images:
    uses: synth-dataset
    params: { count: 2, size: 128, seed: 2, valFraction: 1, maxObjects: 3 }
  model:
    uses: load-model
    params: ${model(tfjs)}
  cams:
    uses: cam
    inputs: { model: model, images: images }
    params: { methods: [eigencam, gradcam], layers: [layer3], overlay: { enabled: false } }
  sanity:
    uses: sanity-check
    inputs: { model: model, images: images, cams: cams }
    params: { steps: 2 }
${tfjs ? '' : `  lime:
    uses: lime
    inputs: { model: model, images: images }
    params: { num_samples: 120, top_labels: 1, random_state: 0, overlay: { enabled: false } }
  stability:
    uses: lime-stability
    inputs: { model: model, images: images, lime: lime }
    params: { seeds: 3 }
`}`;
const rowsOf = (stage: string, table: string) => tableToJsonRows(readArrowFile(join(p.dir, 'artifacts/p', stage, `${table}.arrow`))) as Record<string, unknown>[];

test('sanity-check: EigenCAM after-layer randomisation leaves the map, before-layer changes it; lime-stability rows', { skip: missing }, () => {
  p.write('pipelines/p.yaml', PIPE());
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const rows = rowsOf('sanity', 'per_image');
  assert.equal(rows.length, 2 * 2 * 2, 'images × explanations × steps');
  for (const row of rows) {
    if (row.explanation !== 'eigencam@layer3') continue;
    if (row.step === 1) {
      assert.equal(row.randomised, '/fc/Gemm');
      assert.deepEqual([row.spearman_abs, row.spearman, row.ssim], [1, 1, 1], 'the logits layer comes after layer3');
    } else {
      assert.equal(row.randomised, '/layer3/conv2/Conv');
      assert.ok((row.spearman as number) < 0.95, `layer3's conv randomised: ρ ${row.spearman}`);
    }
  }
  const summary = rowsOf('sanity', 'summary');
  assert.equal(summary.length, 2 * 2 * 3, 'explanations × steps × metrics');
  const st = rowsOf('stability', 'per_image');
  assert.equal(st.length, 2);
  for (const s of st) {
    assert.equal(s.seeds, 3);
    assert.equal(s.samples, 120);
    assert.ok((s.jaccard as number) >= 0 && (s.jaccard as number) <= 1, `jaccard ${s.jaccard}`);
    assert.ok((s.kendall_topk as number) >= -1 && (s.kendall_topk as number) <= 1, `kendall ${s.kendall_topk}`);
    assert.ok((s.r2_std as number) >= 0 && (s.r2_std as number) <= (s.r2_range as number) / 2 + 1e-12, 'a population std is at most half the range');
  }
  assert.deepEqual(rowsOf('stability', 'summary').map((x) => x.metric), ['jaccard', 'kendall_topk', 'r2_std', 'r2_range', 'samples']);
});

test('sanity-check on the TF.js conversion of the demo model: the same cascade (layer for layer), EigenCAM unchanged by the logits layer, changed by layer3\'s conv; the model files untouched', { skip: missing }, () => {
  const files = ['model.json', 'weights.bin'].map((f) => join(repo, 'models/demo/tfjs', f));
  const before = files.map((f) => readFileSync(f));
  p.write('pipelines/q.yaml', PIPE(true));
  const r = xai(p.dir, ['run', 'pipelines/q.yaml']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const rows = tableToJsonRows(readArrowFile(join(p.dir, 'artifacts/q/sanity/per_image.arrow'))) as Record<string, unknown>[];
  assert.equal(rows.length, 2 * 2 * 2, 'images × explanations × steps');
  for (const row of rows) {
    if (row.explanation !== 'eigencam@layer3') continue;
    // the converter keeps the ONNX layers: the logits Dense layer, then layer3's second conv
    if (row.step === 1) {
      assert.equal(row.randomised, 'logits');
      assert.deepEqual([row.spearman_abs, row.spearman, row.ssim], [1, 1, 1], 'the logits layer comes after layer3');
    } else {
      assert.equal(row.randomised, 'layer3.conv2');
      assert.ok((row.spearman as number) < 0.95, `layer3's conv randomised: ρ ${row.spearman}`);
    }
  }
  files.forEach((f, i) => assert.deepEqual(readFileSync(f), before[i], `${f} unchanged`));
});
