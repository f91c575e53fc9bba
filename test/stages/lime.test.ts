// Stage `lime` through the real CLI on a tiny ONNX classifier (32² input, 1×1 conv → GAP → Gemm) and a few synthetic
// "shapes" images with ground-truth masks:
// - the seed's parameter block (configs/lime/seed.yaml) validates and runs as is;
// - seeded determinism: two runs in separate projects give identical tables (timings aside); predicting in batches of
//   50 instead of lime's 10 gives identical tables; random_state changes them;
// - num_samples: auto reports the samples used (stable checkpoint or cap);
// - bad params are ConfigErrors located in the pipeline file (exit 2);
// - outputs: tables consistent with each other, masks = get_image_and_mask of the weights, overlay PNGs;
// - find_boundaries(mode='outer') on scikit-image's own docstring example (the overlays' mark_boundaries).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../src/model/onnx/builder.ts';
import { readArrowFile } from '../../src/arrow/io.ts';
import { decodeImage } from '../../src/image/io.ts';
import { findBoundariesOuter } from '../../src/explain/lime.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repo, 'bin', 'xai.mjs');
const S = 32;
const uses = (kind: string) => JSON.stringify(join(repo, 'stages', `${kind}.ts`));
const dirs: string[] = [];

function buildModel(): Uint8Array {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', [null, 3, S, S]);
  // 4 channels: r, g, b and r − b (1×1 conv), ReLU, GAP, then 3 classes
  const w = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, -1]);
  const feat = g.relu(g.conv(x, g.initializer('w', w, [4, 3, 1, 1]), g.initializer('b', new Float32Array(4), [4]), {}, 'conv'), 'feat');
  const flat = g.flatten(g.globalAveragePool(feat, 'gap'), 1, 'flat');
  const M = Float32Array.from([4, 0, -2, 3, /**/ 0, 4, 0, 0, /**/ -1, 0, 4, -3]);
  g.output(g.gemm(flat, g.initializer('fc_w', M, [3, 4]), g.initializer('fc_b', Float32Array.from([0, 0.5, 0]), [3]), { transB: true }, 'logits'), [null, 3]);
  return g.encode();
}

function project(pipeline: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'xai-lime-stage-'));
  dirs.push(dir);
  const w = (rel: string, data: string | Uint8Array) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), data);
  };
  w('models/tiny.onnx', buildModel());
  w('models/labels.txt', 'red\ngreen\nblue\n');
  w('configs/lime/seed.yaml', readFileSync(join(repo, 'configs/lime/seed.yaml'), 'utf8'));
  w('pipelines/p.yaml', pipeline);
  return dir;
}

/** The test pipeline: images (default: `count` synthetic shapes; or the given stage body), the tiny model, lime. */
const base = (lime: string, count = 3, images = `uses: ${uses('synth-dataset')}\n    params: { count: ${count}, size: ${S}, seed: 5, maxObjects: 1 }`) => `name: p
stages:
  images:
    ${images}
  model:
    uses: ${uses('load-model')}
    params: { path: models/tiny.onnx, labels: models/labels.txt, input: { size: ${S}, mean: [0.5], std: [0.25] } }
  lime:
    uses: ${uses('lime')}
    inputs: { model: model, images: images }
${lime}`;

function xai(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, CI: '1' }, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
}

type Row = Record<string, unknown>;
function tables(dir: string, stage = 'lime'): Record<string, Row[]> {
  const m = JSON.parse(readFileSync(join(dir, `artifacts/p/${stage}/manifest.json`), 'utf8'));
  const out: Record<string, Row[]> = {};
  for (const [name, t] of Object.entries(m.tables as Record<string, { file: string }>)) {
    const tab = readArrowFile(join(dir, `artifacts/p/${stage}`, t.file));
    const rows: Row[] = [];
    for (let i = 0; i < tab.numRows; i++) {
      const r: Row = {};
      for (const f of tab.schema.fields) {
        const v = tab.getChild(f.name)!.get(i);
        r[f.name] = v && typeof v === 'object' && 'toArray' in v ? Array.from((v as { toArray(): ArrayLike<number> }).toArray()) : v;
      }
      rows.push(r);
    }
    out[name] = rows;
  }
  return out;
}
/** The tables' files, byte for byte (results hold no timings: they are reproducible as files). */
const bytes = (dir: string) => {
  const m = JSON.parse(readFileSync(join(dir, 'artifacts/p/lime/manifest.json'), 'utf8'));
  return Object.fromEntries(Object.values(m.tables as Record<string, { file: string }>).map((t) => [t.file, createHash('sha256').update(readFileSync(join(dir, 'artifacts/p/lime', t.file))).digest('hex')]));
};
const finished = (dir: string) => JSON.parse(readFileSync(join(dir, 'artifacts/p/lime/manifest.json'), 'utf8')).timings.finished;
const meta = (dir: string, stage = 'lime') => JSON.parse(readFileSync(join(dir, `artifacts/p/${stage}/manifest.json`), 'utf8')).meta;

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("the seed's parameter block (configs/lime/seed.yaml) validates and runs as is", () => {
  const dir = project(base('    include: configs/lime/seed.yaml\n', 2));
  const v = xai(dir, ['validate', 'pipelines/p.yaml']);
  assert.equal(v.code, 0, v.out);
  const r = xai(dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.out);
  const t = tables(dir);
  assert.equal(t.explanations.length, 2, 'top_labels 1 → one row per image');
  for (const e of t.explanations) {
    assert.equal(e.samples, 1000);
    assert.equal(e.stopped, 'fixed');
    assert.equal(e.rank, 0);
    assert.ok((e.random_seed as number) >= 0 && (e.random_seed as number) < 1000);
    assert.ok(typeof e.score === 'number' && Number.isFinite(e.score));
  }
  assert.match(meta(dir).backend, /onnxruntime/);
});

const detParams = `    params:
      top_labels: 2
      num_samples: 120
      random_state: 3
      hide_color: null
      mask: { positive_only: false, num_features: 3 }
      segmentation_fn: { name: quickshift, kernel_size: 1, max_dist: 6 }
`;

test('seeded determinism: two runs give identical tables; predict batches of 50 = lime batches of 10; random_state matters', () => {
  const dir = project(base(detParams));
  const run = (...args: string[]) => {
    const r = xai(dir, ['run', 'pipelines/p.yaml', ...args]);
    assert.equal(r.code, 0, r.out);
    return { t: tables(dir), meta: meta(dir) };
  };
  const a = run();
  const aBytes = bytes(dir);
  const aFinished = finished(dir);
  assert.deepEqual(Object.keys(a.t).sort(), ['explanations', 'explanations_errors', 'segments', 'segments_errors', 'weights']);
  const a2 = run('--force', 'lime'); // recomputed from scratch
  assert.notEqual(finished(dir), aFinished, 'really recomputed');
  assert.deepEqual(a2.t, a.t, 'same params, two runs');
  assert.deepEqual(bytes(dir), aBytes, 'byte-identical tables');
  const b = run('--set', 'stages.lime.predict_batch_size=null');
  assert.equal(a.meta.predict_batch_size, 50);
  assert.equal(b.meta.predict_batch_size, 10);
  assert.deepEqual(b.t, a.t, 'predict_batch_size 50 vs 10 (lime batch_size)');
  const c = run('--set', 'stages.lime.random_state=4');
  assert.notDeepEqual(c.t.explanations, a.t.explanations);
});

test('worker threads: --workers 2 gives the tables of --workers 1 byte for byte (segments and explanations on the pool)', () => {
  const dir = project(base(detParams));
  const r1 = xai(dir, ['run', 'pipelines/p.yaml', '--workers', '1']);
  assert.equal(r1.code, 0, r1.out);
  const one = bytes(dir);
  const r2 = xai(dir, ['run', 'pipelines/p.yaml', '--workers', '2', '--force', 'lime']);
  assert.equal(r2.code, 0, r2.out);
  assert.deepEqual(bytes(dir), one);
  const overlays = tables(dir).explanations.map((e) => e.overlay as string);
  assert.equal(overlays.length, 6, '3 images × top_labels 2');
  for (const o of overlays) assert.ok(existsSync(join(dir, 'artifacts/p/lime', o)), `overlay ${o}, written by the main thread`);
});

test('outputs: segments, explanations, weights and masks agree; overlays are PNGs at the input size', async () => {
  const dir = project(base(detParams));
  assert.equal(xai(dir, ['run', 'pipelines/p.yaml']).code, 0);
  const t = tables(dir);
  assert.equal(t.segments.length, 3);
  assert.equal(t.explanations.length, 6, '3 images × top_labels 2');
  for (const s of t.segments) {
    const seg = s.segments as number[];
    assert.ok((s.n_segments as number) >= 10, `quickshift(1, 6) on a 32² shapes image: ${s.n_segments} segments`);
    assert.equal(seg.length, S * S);
    assert.equal(Math.max(...seg) + 1, s.n_segments, 'ids 0..n−1');
    assert.equal(new Set(seg).size, s.n_segments);
  }
  for (const e of t.explanations) {
    const seg = t.segments.find((s) => s.id === e.id)!.segments as number[];
    const segs = e.local_exp_segments as number[], ws = e.local_exp_weights as number[];
    assert.equal(segs.length, e.n_segments, 'num_features 100000 → every superpixel');
    for (let k = 1; k < ws.length; k++) assert.ok(Math.abs(ws[k - 1]) >= Math.abs(ws[k]), 'sorted by |w|');
    // mask = get_image_and_mask(positive_only=False, num_features=3): ±1 on the top-3 superpixels by |w|
    const want = new Map(segs.slice(0, 3).map((s, k) => [s, ws[k] < 0 ? -1 : 1]));
    const mask = e.mask as number[];
    for (let p = 0; p < S * S; p++) assert.equal(mask[p], want.get(seg[p]) ?? 0);
    assert.equal(e.mask_pixels, mask.filter((v) => v > 0).length);
    // the long weights table holds the same (segment, weight) list
    const w = t.weights.filter((r) => r.id === e.id && r.label === e.label);
    assert.deepEqual(w.map((r) => r.segment), segs);
    assert.deepEqual(w.map((r) => r.weight), ws);
    for (const r of w) assert.equal(r.pixels, seg.filter((v) => v === r.segment).length);
    assert.ok(typeof e.gt_iou === 'number' && typeof e.gt_iou_chance === 'number', 'synthetic shapes carry GT masks');
    assert.ok((e.prob as number) > 0 && (e.prob as number) < 1);
    const png = join(dir, 'artifacts/p/lime', e.overlay as string);
    assert.ok(existsSync(png), `overlay ${e.overlay}`);
    const img = await decodeImage(readFileSync(png));
    assert.deepEqual([img.width, img.height], [S, S]);
  }
  // ranks: labels of one image in descending probability
  for (const id of new Set(t.explanations.map((e) => e.id))) {
    const rows = t.explanations.filter((e) => e.id === id);
    assert.deepEqual(rows.map((r) => r.rank), [0, 1]);
    assert.ok((rows[0].prob as number) >= (rows[1].prob as number));
  }
});

test("num_samples: auto through the stage: stops at a stable checkpoint or the cap, reports the samples used", () => {
  const params = `    params:
      top_labels: 1
      num_samples: auto
      auto: { max_samples: 1000, k: 2 }
      random_state: 3
      segmentation_fn: { name: quickshift, kernel_size: 1, max_dist: 6 }
      mask: { num_features: 3 }
      overlay: { enabled: false }
`;
  const dir = project(base(params));
  const r = xai(dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.out);
  const t = tables(dir);
  for (const e of t.explanations) {
    assert.ok(e.stopped === 'stable' || e.stopped === 'cap', String(e.stopped));
    if (e.stopped === 'cap') assert.equal(e.samples, 1000);
    else assert.ok((e.samples as number) < 1000 && (e.samples as number) >= 100, `samples ${e.samples}`);
    assert.equal(e.overlay, null);
  }
  // measured (default rule 'mask'): all 3 images stop early (150, 400 and 150 samples)
  assert.ok(t.explanations.some((e) => e.stopped === 'stable'), 'at least one image stops early');
  assert.equal(meta(dir).summary.images, 3);
});

test('bad params are ConfigErrors located in the pipeline (exit 2)', () => {
  // [params, expected error (after `<file>:<line>:<col>: stages.lime<i>.params.`)]
  const cases: [string, RegExp][] = [
    ['{ distance_metric: cosin }', /^distance_metric: unknown distance_metric 'cosin'.*did you mean 'cosine'/],
    ['{ distance_metric: correlation }', /^distance_metric: distance_metric 'correlation' is undefined/],
    ['{ segmentation_fn: { name: quickshft } }', /^segmentation_fn\.name: unknown segmentation algorithm "quickshft".*did you mean 'quickshift'/],
    ['{ segmentation_fn: { name: slic, n_segment: 50 } }', /^segmentation_fn\.n_segment: 'n_segment' is not a parameter of slic.*did you mean 'n_segments'/],
    ['{ segmentation_fn: { name: quickshift, kernel_size: -1 } }', /^segmentation_fn: quickshift: kernel_size should be >= 1/],
    ['{ num_samples: many }', /^num_samples: num_samples must be an integer ≥ 1 or 'auto', got 'many'/],
    ['{ num_samples: 0 }', /^num_samples: must be >= 1/],
    ['{ num_sample: 10 }', /^num_sample: unknown key.*did you mean 'num_samples'/],
    ['{ mask: { positive_only: true, negative_only: true } }', /^mask\.negative_only: positive_only and negative_only cannot be true/],
    ['{ top_labels: null, labels: null }', /^labels: labels is null and top_labels is null/],
    ['{ kernel_width: 0 }', /^kernel_width: /],
    ['{ model_regressor: { alpha: -1 } }', /^model_regressor\.alpha: /],
    ['{ hide_color: [1, 2] }', /^hide_color: /],
  ];
  // one pipeline with one lime stage per bad block: validation reports them all in one pass
  const extra = cases.map(([params], i) => `  lime${i}:\n    uses: ${uses('lime')}\n    inputs: { model: model, images: images }\n    params: ${params}\n`).join('');
  const dir = project(base('    params: { num_samples: 10 }\n') + extra);
  const r = xai(dir, ['validate', 'pipelines/p.yaml']);
  assert.equal(r.code, 2, r.out);
  const lines = r.out.split('\n');
  cases.forEach(([params, re], i) => {
    const mine = lines.filter((l) => new RegExp(`stages\\.lime${i}\\.`).test(l));
    assert.ok(mine.length >= 1, `${params}: no error reported\n${r.out}`);
    const m = /^(?:error: )?pipelines\/p\.yaml:(\d+):\d+: stages\.lime\d+\.params\.(.*)$/.exec(mine[0]);
    assert.ok(m, `${params}: not located: ${mine[0]}`);
    assert.match(m![2], re, params);
  });
  assert.ok(!/stages\.lime\./.test(r.out), 'the valid stage has no error');
  // a label outside the model's classes: known only once the model is open → ConfigError when the stage runs
  const dir2 = project(base('    params: { top_labels: null, labels: [7], num_samples: 20 }\n'));
  const r2 = xai(dir2, ['run', 'pipelines/p.yaml']);
  assert.notEqual(r2.code, 0);
  assert.match(r2.out, /labels\[0\].*class index 7 is outside 0\.\.2/s);
});

test("find_boundaries(mode='outer') on scikit-image's docstring example", () => {
  const L = [
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 5, 5, 5, 0, 0],
    [0, 0, 1, 1, 1, 5, 5, 5, 0, 0],
    [0, 0, 1, 1, 1, 5, 5, 5, 0, 0],
    [0, 0, 1, 1, 1, 5, 5, 5, 0, 0],
    [0, 0, 0, 0, 0, 5, 5, 5, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  ];
  const want = [
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 1, 1, 0, 0, 1, 0],
    [0, 1, 0, 0, 1, 1, 0, 0, 1, 0],
    [0, 1, 0, 0, 1, 1, 0, 0, 1, 0],
    [0, 1, 0, 0, 1, 1, 0, 0, 1, 0],
    [0, 0, 1, 1, 1, 1, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 1, 1, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  ];
  assert.deepEqual(Array.from(findBoundariesOuter(L.flat(), 9, 10)), want.flat());
});

test("per-image seeds: an image's rows are the same whether it is explained alone or among 16, at another index", () => {
  const dir = project('');
  const mk = spawnSync(process.execPath, [bin, 'make-dataset', 'shapes', '--out', 'data/all', '--count', '16', '--size', String(S), '--seed', '5'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  assert.equal(mk.status, 0, mk.stderr);
  const one = 'shapes/000009.png';
  mkdirSync(join(dir, 'data/one/shapes'), { recursive: true });
  writeFileSync(join(dir, 'data/one', one), readFileSync(join(dir, 'data/all/images', one)));
  const pipe = (root: string) => base(detParams, 0, `uses: ${uses('dataset')}\n    params: { root: ${root}, images: ['shapes/[0-9][0-9][0-9][0-9][0-9][0-9].png'], labels: { from: none } }`);
  const rowsOf = (root: string) => {
    writeFileSync(join(dir, 'pipelines/p.yaml'), pipe(root));
    const r = xai(dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 0, r.out);
    const t = tables(dir);
    const pick = (rows: Row[]) => rows.filter((x) => x.id === one).map(({ index, ...rest }) => ({ ...rest, at: index }));
    return { ex: pick(t.explanations), seg: pick(t.segments), n: t.segments.length, seeds: new Set(t.explanations.map((x) => x.random_state)).size };
  };
  const among = rowsOf('data/all/images');
  const alone = rowsOf('data/one');
  assert.equal(among.n, 16);
  assert.equal(alone.n, 1);
  assert.equal(among.ex[0].at, 9);
  assert.equal(alone.ex[0].at, 0);
  const strip = (rows: Row[]) => rows.map(({ at, ...rest }) => rest);
  assert.equal(among.ex.length, 2);
  assert.deepEqual(strip(alone.ex), strip(among.ex));
  assert.deepEqual(strip(alone.seg), strip(among.seg));
  // every image has its own sampling seed (lime's RandomState would continue across images instead)
  assert.equal(among.seeds, 16);
});
