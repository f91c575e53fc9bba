// Stage `cam` through the real CLI on an ONNX model built so that every CAM is known in closed form:
//   x [3,16,16] → Conv 4×4 stride 4 (4 channels) = `feat` [4,4,4] → AveragePool 2×2 = `pool` [4,2,2]
//   → GlobalAveragePool → Flatten → Gemm(M, b): logit_c = Σ_k M[c,k]·mean(A_k) + b_c  (mean(pool_k) = mean(A_k)).
// So d logit_c / dA_k = M[c,k] / 16 everywhere (feat) and M[c,k] / 4 (pool): every gradient method's weights follow by
// hand; zero-ablating channel k removes exactly M[c,k]·mean(A_k); Score-CAM's masked logits come from a JS forward.
// The expected raw maps are computed here from a JS forward of the same weights, then post-processed with
// src/algo/cam's postprocessCam/aggregateLayers (ReLU, min-max, cv2 resize; tested in test/algo/cam.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../src/model/onnx/builder.ts';
import { encodePng, encodeJpeg, decodeImage } from '../../src/image/io.ts';
import { readArrowFile } from '../../src/arrow/io.ts';
import { aggregateLayers, eigenCam, postprocessCam, showCamOnImage } from '../../src/algo/cam/index.ts';
import { resizeAlignCorners } from '../../src/algo/resize.ts';
import { camLayerColumns, camSchema } from '../../src/explain/cam.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repo, 'bin', 'xai.mjs');
const dir = mkdtempSync(join(os.tmpdir(), 'xai-cam-stage-'));
const S = 16; // input side
const C = 4; // feat channels
const K = 3; // classes
const NIMG = 4;
const MEAN = 0.5;
const STD = 0.25;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const r = rng(11);
const convW = Float32Array.from({ length: C * 3 * 4 * 4 }, () => (r() - 0.5) * 0.4);
const convB = Float32Array.from({ length: C }, () => (r() - 0.5) * 0.2);
const M = Float32Array.from([1.5, -0.8, 0.6, 0.3, -0.4, 1.2, 0.9, -0.7, 0.8, 0.5, -1.1, 1.0]); // [K, C]
const B = Float32Array.from([3, 2.5, 2]);
const pixels: Uint8Array[] = Array.from({ length: NIMG }, () => Uint8Array.from({ length: S * S * 3 }, () => Math.floor(r() * 256)));

function buildModel(withSoftmax = false): Uint8Array {
  const g = new GraphBuilder('known');
  const x = g.input('x', [null, 3, S, S]);
  const w = g.initializer('conv_w', convW, [C, 3, 4, 4]);
  const b = g.initializer('conv_b', convB, [C]);
  const feat = g.conv(x, w, b, { strides: [4, 4], kernelShape: [4, 4] }, 'feat');
  const pool = g.averagePool(feat, { kernel: [2, 2], strides: [2, 2] }, 'pool');
  const gap = g.globalAveragePool(pool, 'gap');
  const flat = g.flatten(gap, 1, 'flat');
  const logits = g.gemm(flat, g.initializer('fc_w', M, [K, C]), g.initializer('fc_b', B, [K]), { transB: true }, 'logits');
  g.output(withSoftmax ? g.softmax(logits, -1, 'probs') : logits, [null, K]);
  return g.encode();
}

/** Normalised CHW input of image i, as the model sees it. */
function input(i: number): Float32Array {
  const x = new Float32Array(3 * S * S);
  for (let p = 0; p < S * S; p++) for (let ch = 0; ch < 3; ch++) x[ch * S * S + p] = (pixels[i][3 * p + ch] / 255 - MEAN) / STD;
  return x;
}
function featOf(x: Float32Array): Float32Array {
  const a = new Float32Array(C * 16);
  for (let k = 0; k < C; k++)
    for (let oy = 0; oy < 4; oy++)
      for (let ox = 0; ox < 4; ox++) {
        let s = convB[k];
        for (let ch = 0; ch < 3; ch++)
          for (let ky = 0; ky < 4; ky++)
            for (let kx = 0; kx < 4; kx++) s += convW[((k * 3 + ch) * 4 + ky) * 4 + kx] * x[ch * S * S + (oy * 4 + ky) * S + ox * 4 + kx];
        a[k * 16 + oy * 4 + ox] = s;
      }
  return a;
}
function poolOf(a: Float32Array): Float32Array {
  const p = new Float32Array(C * 4);
  for (let k = 0; k < C; k++)
    for (let py = 0; py < 2; py++)
      for (let px = 0; px < 2; px++) {
        let s = 0;
        for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) s += a[k * 16 + (py * 2 + dy) * 4 + px * 2 + dx];
        p[k * 4 + py * 2 + px] = s / 4;
      }
  return p;
}
const chanMean = (a: Float32Array, k: number, hw: number) => a.subarray(k * hw, (k + 1) * hw).reduce((s, v) => s + v, 0) / hw;
function logitsOf(x: Float32Array): number[] {
  const a = featOf(x);
  return Array.from({ length: K }, (_, c) => B[c] + Array.from({ length: C }, (_, k) => M[c * C + k] * chanMean(a, k, 16)).reduce((s, v) => s + v, 0));
}
const sumW = (a: Float32Array, hw: number, w: number[]) => {
  const out = new Float32Array(hw);
  for (let k = 0; k < C; k++) for (let i = 0; i < hw; i++) out[i] += w[k] * a[k * hw + i];
  return out;
};
const argmax = (v: number[]) => v.reduce((bi, x, i) => (x > v[bi] ? i : bi), 0);

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, msg: string): void {
  assert.equal(actual.length, expected.length, `${msg}: length`);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) ((worst = d), (at = i));
  }
  assert.ok(worst <= tol, `${msg}: max |Δ| ${worst} at ${at} (${actual[at]} vs ${expected[at]})`);
}

function write(rel: string, data: string | Uint8Array): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), data);
}
function xai(args: string[]) {
  const res = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, CI: '1' }, encoding: 'utf8' });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}
const uses = (kind: string) => JSON.stringify(join(repo, 'stages', `${kind}.ts`));

before(async () => {
  write('models/known.onnx', buildModel());
  write('models/known-softmax.onnx', buildModel(true)); // the same network exported with its softmax
  // two images that differ only by extension (their overlays must not collide)
  write('images2/a.png', encodePng(pixels[0], S, S, 3));
  write('images2/a.jpg', await encodeJpeg({ data: pixels[1], height: S, width: S }, 95));
  write('models/labels.txt', 'a\nb\nc\n');
  for (let i = 0; i < NIMG; i++) write(`images/img${i}.png`, encodePng(pixels[i], S, S, 3));
  write(
    'pipelines/p.yaml',
    `name: p
stages:
  images:
    uses: ${uses('dataset')}
    params: { root: images, labels: { from: none } }
  model:
    uses: ${uses('load-model')}
    params: { path: models/known.onnx, labels: models/labels.txt, input: { size: ${S}, mean: [${MEAN}], std: [${STD}] }, layers: { feat: feat, pool: pool } }
  all:
    uses: ${uses('cam')}
    inputs: { model: model, images: images }
    params:
      methods: [GradCAM, gradcam++, XGradCAM, hirescam, layer-cam, eigencam, AblationCAM, scorecam]
      layers: [feat]
      batch_size: 3
      ablation: { value: zero, batch_size: 3 }
      score: { batch_size: 3 }
  multi:
    uses: ${uses('cam')}
    inputs: { model: model, images: images }
    params:
      methods: [gradcam, ablationcam]
      layers: [feat, pool]
      target: b
      targets: { img1.png: 0 }
      overlay: { enabled: false }
  separate:
    uses: ${uses('cam')}
    inputs: { model: model, images: images }
    params: { methods: [gradcam], layers: [feat, pool], combine: separate, target: 2, overlay: { image_weight: 0.3 } }
  topk:
    uses: ${uses('cam')}
    inputs: { model: model, images: images }
    params: { methods: [gradcam, EigenGradCAM, ablationcam], layers: [feat], target: { top_k: 2, score: softmax }, ablation: { value: zero } }
  smodel:
    uses: ${uses('load-model')}
    params: { path: models/known-softmax.onnx, labels: models/labels.txt, input: { size: ${S}, mean: [${MEAN}], std: [${STD}] }, layers: { feat: feat } }
  smodel_logits:
    uses: ${uses('load-model')}
    params: { path: models/known-softmax.onnx, output_type: logits, input: { size: ${S}, mean: [${MEAN}], std: [${STD}] }, layers: { feat: feat } }
  ptop:
    uses: ${uses('cam')}
    inputs: { model: smodel, images: images }
    params: { methods: [gradcam], layers: [feat], target: { top_k: 2, score: softmax }, overlay: { enabled: false } }
  pforced:
    uses: ${uses('cam')}
    inputs: { model: smodel_logits, images: images }
    params: { methods: [gradcam], layers: [feat], overlay: { enabled: false } }
  images2:
    uses: ${uses('dataset')}
    params: { root: images2, labels: { from: none } }
  collide:
    uses: ${uses('cam')}
    inputs: { model: model, images: images2 }
    params: { methods: [gradcam], layers: [feat] }
`,
  );
  // small pipelines that fail: the dataset, a load-model stage with `model` params, then the cam stage's params
  const failing = (name: string, model: string, cams: string) =>
    write(
      `pipelines/${name}.yaml`,
      `name: ${name}
stages:
  images:
    uses: ${uses('dataset')}
    params: { root: images, labels: { from: none } }
  model:
    uses: ${uses('load-model')}
    params: { path: models/known.onnx${model} }
  cams:
    uses: ${uses('cam')}
    inputs: { model: model, images: images }
    params: ${cams}
`,
    );
  failing('bad', '', '{ methods: [gradcam, scorekam] }');
  failing('badtarget', ', labels: models/labels.txt, layers: { feat: feat }', '{ methods: [gradcam], target: { class: zebra, score: softmax } }');
  failing('badlayer', ', layers: { feat: feat }', '{ methods: [gradcam], layers: [feet] }');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function table(stage: string) {
  const m = JSON.parse(readFileSync(join(dir, `artifacts/p/${stage}/manifest.json`), 'utf8'));
  const t = readArrowFile(join(dir, `artifacts/p/${stage}`, m.tables.cams.file));
  const rows: Record<string, any>[] = [];
  for (let i = 0; i < t.numRows; i++) {
    const o: Record<string, any> = {};
    for (const f of t.schema.fields) o[f.name] = t.getChild(f.name)!.get(i);
    o.cam = Float32Array.from(o.cam.toArray());
    rows.push(o);
  }
  return { rows, meta: m.meta };
}

test('cam stage: every method equals its closed form on a model built for it (ONNX, through the CLI)', () => {
  const res = xai(['run', 'pipelines/p.yaml']);
  assert.equal(res.code, 0, res.stderr);
  const { rows, meta } = table('all');
  assert.equal(rows.length, NIMG * 8);
  assert.match(meta.backend, /onnxruntime-node/);
  assert.deepEqual(meta.methods, ['gradcam', 'gradcam++', 'xgradcam', 'hirescam', 'layercam', 'eigencam', 'ablationcam', 'scorecam']);
  for (let i = 0; i < NIMG; i++) {
    const x = input(i);
    const A = featOf(x);
    const lg = logitsOf(x);
    const c = argmax(lg);
    const sorted = [...lg].sort((p, q) => q - p);
    assert.ok(sorted[0] - sorted[1] > 1e-3, 'test images must have a clear top-1');
    const g = Array.from({ length: C }, (_, k) => M[c * C + k] / 16); // d logit_c / dA_k, constant over positions
    const sumA = Array.from({ length: C }, (_, k) => chanMean(A, k, 16) * 16);
    // channel weights of the methods that have them (get_cam_weights); the others are element-wise maps
    const weights: Record<string, number[]> = {
      gradcam: g,
      // α = g²/(2g² + ΣA·g³ + 1e-6) at every position; w = Σ_ij α·ReLU(g) = 16·α·ReLU(g)
      'gradcam++': g.map((gk, k) => (16 * gk * gk * Math.max(gk, 0)) / (2 * gk * gk + sumA[k] * gk ** 3 + 1e-6)),
      xgradcam: g.map((gk, k) => (gk * sumA[k]) / (sumA[k] + 1e-7)),
      // zero-ablating channel k lowers logit_c by exactly M[c,k]·mean(A_k)
      ablationcam: g.map((_, k) => (M[c * C + k] * chanMean(A, k, 16)) / lg[c]),
    };
    const raw: Record<string, Float32Array> = {
      gradcam: sumW(A, 16, weights.gradcam),
      'gradcam++': sumW(A, 16, weights['gradcam++']),
      xgradcam: sumW(A, 16, weights.xgradcam),
      hirescam: sumW(A, 16, g),
      layercam: sumW(A, 16, g.map((gk) => Math.max(gk, 0))),
      eigencam: eigenCam({ data: A, shape: [1, C, 4, 4] }),
      ablationcam: sumW(A, 16, weights.ablationcam),
    };
    // Score-CAM: masks = align-corners upsampled channels, min-max normalised, times the normalised input; softmax.
    const up = resizeAlignCorners(A, C, 4, 4, S, S);
    const s = Array.from({ length: C }, (_, k) => {
      const u = up.subarray(k * S * S, (k + 1) * S * S);
      const mn = Math.min(...u);
      const mx = Math.max(...u);
      const xm = new Float32Array(3 * S * S);
      for (let ch = 0; ch < 3; ch++) for (let p = 0; p < S * S; p++) xm[ch * S * S + p] = x[ch * S * S + p] * ((u[p] - mn) / (mx - mn + 1e-8));
      return logitsOf(xm)[c];
    });
    const z = s.reduce((acc, v) => acc + Math.exp(v - Math.max(...s)), 0);
    weights.scorecam = s.map((v) => Math.exp(v - Math.max(...s)) / z);
    raw.scorecam = sumW(A, 16, weights.scorecam);

    for (const [method, rm] of Object.entries(raw)) {
      const row = rows.find((o) => o.image === `img${i}.png` && o.method === method)!;
      assert.ok(row, `row ${method} img${i}`);
      assert.equal(row.target, c);
      assert.equal(row.target_name, 'abc'[c]);
      assert.equal(row.layer, 'feat');
      assert.ok(Math.abs(row.score - lg[c]) < 1e-4, `score ${row.score} vs ${lg[c]}`);
      const e = lg.map((v) => Math.exp(v - sorted[0]));
      assert.ok(Math.abs(row.probability - e[c] / e.reduce((p, q) => p + q, 0)) < 1e-5);
      const expected = aggregateLayers([postprocessCam(rm, 1, 4, 4, S, S)], 1, S, S);
      close(row.cam, expected, 2e-4, `${method} img${i}`);
      // the layer's raw map before scale_cam_image (np.maximum(cam, 0)) and the channel weights, at their own scale
      const scale = Math.max(...rm.map(Math.abs));
      close(row.cam_raw_feat.toArray().map((v: number) => v / scale), rm.map((v) => Math.max(v, 0) / scale), 2e-4, `${method} img${i} cam_raw_feat`);
      if (weights[method]) {
        const ws = Math.max(...weights[method].map(Math.abs));
        close(row.weights_feat.toArray().map((v: number) => v / ws), weights[method].map((v) => v / ws), 2e-4, `${method} img${i} weights_feat`);
      } else assert.equal(row.weights_feat, null, `${method}: no channel weights`);
      assert.equal(row.height, S);
      assert.equal(row.in_mask, null);
      const peak = row.peak_y * S + row.peak_x;
      assert.equal(row.cam[peak], Math.max(...row.cam));
    }
  }
  // Overlays: show_cam_on_image of the table's cam over the image.
  const row = rows.find((o) => o.image === 'img2.png' && o.method === 'scorecam')!;
  assert.equal(row.overlay, 'overlays/scorecam/feat/img2.png.png');
  return decodeImage(readFileSync(join(dir, 'artifacts/p/all', row.overlay))).then((png) => {
    assert.deepEqual([png.width, png.height], [S, S]);
    assert.deepEqual(Buffer.from(png.data), Buffer.from(showCamOnImage(pixels[2], S, S, row.cam, 0.5)));
  });
});

test('cam stage: --workers 2 (two batches on two worker threads) gives the table and model calls of --workers 1, byte for byte', () => {
  const run = (workers: string) => {
    const res = xai(['run', 'pipelines/p.yaml', '--workers', workers, '--force', 'all']);
    assert.equal(res.code, 0, res.stderr);
    const m = JSON.parse(readFileSync(join(dir, 'artifacts/p/all/manifest.json'), 'utf8'));
    return { bytes: readFileSync(join(dir, 'artifacts/p/all', m.tables.cams.file)), calls: m.meta.model_calls };
  };
  const one = run('1');
  const two = run('2');
  assert.ok(one.bytes.equals(two.bytes), 'identical cams.arrow');
  assert.deepEqual(two.calls, one.calls);
  assert.equal(one.calls.images, NIMG);
});

test('cam stage: several layers → mean of normalised cams; library ablation; targets by name and per image; separate layers', () => {
  const { rows, meta } = table('multi');
  assert.equal(rows.length, NIMG * 2);
  assert.deepEqual(meta.layers, ['feat+pool']);
  for (let i = 0; i < NIMG; i++) {
    const x = input(i);
    const A = featOf(x);
    const P = poolOf(A);
    const lg = logitsOf(x);
    const c = i === 1 ? 0 : 1; // target 'b', img1 overridden to class 0
    const gc = aggregateLayers(
      [
        postprocessCam(sumW(A, 16, Array.from({ length: C }, (_, k) => M[c * C + k] / 16)), 1, 4, 4, S, S),
        postprocessCam(sumW(P, 4, Array.from({ length: C }, (_, k) => M[c * C + k] / 4)), 1, 2, 2, S, S),
      ],
      1, S, S,
    );
    // library ablation: activations' min ≠ 0 → row r of a batch gets min − (r+1)·1e7 (running float32 min); C < 32 rows
    const lib = (a: Float32Array, hw: number) => {
      let v = Math.min(...a);
      return Array.from({ length: C }, (_, k) => {
        v = Math.fround(v - 1e7);
        return (M[c * C + k] * (chanMean(a, k, hw) - v)) / lg[c];
      });
    };
    const ab = aggregateLayers([postprocessCam(sumW(A, 16, lib(A, 16)), 1, 4, 4, S, S), postprocessCam(sumW(P, 4, lib(P, 4)), 1, 2, 2, S, S)], 1, S, S);
    const get = (m: string) => rows.find((o) => o.image === `img${i}.png` && o.method === m)!;
    assert.equal(get('gradcam').target, c);
    assert.equal(get('gradcam').layer, 'feat+pool');
    assert.equal(get('gradcam').overlay, null);
    close(get('gradcam').cam, gc, 2e-4, `gradcam feat+pool img${i}`);
    close(get('ablationcam').cam, ab, 2e-3, `ablationcam library feat+pool img${i}`);
    // a combined set: both layers' weights in the row (Grad-CAM: the mean gradient, M[c,k] / (h·w))
    close(get('gradcam').weights_feat.toArray(), Array.from({ length: C }, (_, k) => M[c * C + k] / 16), 1e-5, `weights_feat img${i}`);
    close(get('gradcam').weights_pool.toArray(), Array.from({ length: C }, (_, k) => M[c * C + k] / 4), 1e-5, `weights_pool img${i}`);
    assert.equal(get('gradcam').cam_raw_pool.toArray().length, 4);
  }
  const sep = table('separate').rows;
  assert.equal(sep.length, NIMG * 2);
  // separate sets: a row holds only its own layer's raw map and weights
  assert.deepEqual(sep.slice(0, 2).map((o) => [o.cam_raw_feat?.toArray().length ?? null, o.cam_raw_pool?.toArray().length ?? null, o.weights_pool === null]), [
    [16, null, true],
    [null, 4, false],
  ]);
  assert.deepEqual(sep.slice(0, 2).map((o) => [o.layer, o.target, o.overlay]), [
    ['feat', 2, 'overlays/gradcam/feat/img0.png.png'],
    ['pool', 2, 'overlays/gradcam/pool/img0.png.png'],
  ]);
  assert.ok(existsSync(join(dir, 'artifacts/p/separate/overlays/gradcam/pool/img3.png.png')));
});

test('cam stage: top-k targets with the softmax score (ClassifierOutputSoftmaxTarget): one map per class, closed forms', () => {
  const { rows } = table('topk');
  assert.equal(rows.length, NIMG * 2 * 3);
  for (let i = 0; i < NIMG; i++) {
    const A = featOf(input(i));
    const lg = logitsOf(input(i));
    const sm = (z: number[]) => {
      const e = z.map((v) => Math.exp(v - Math.max(...z)));
      const s = e.reduce((p, q) => p + q, 0);
      return e.map((v) => v / s);
    };
    const p = sm(lg);
    const order = p.map((_, c) => c).sort((x, y) => p[y] - p[x]);
    for (const [rank, c] of order.slice(0, 2).entries()) {
      // ∂p_c/∂A_k = p_c·(M[c,k] − Σ_j p_j M[j,k]) / 16 at every position
      const g = Array.from({ length: C }, (_, k) => (p[c] * (M[c * C + k] - p.reduce((s, pj, j) => s + pj * M[j * C + k], 0))) / 16);
      // zero-ablating channel k subtracts M[j,k]·mean(A_k) from every logit j
      const ab = Array.from({ length: C }, (_, k) => (p[c] - sm(lg.map((v, j) => v - M[j * C + k] * chanMean(A, k, 16)))[c]) / p[c]);
      const gA = new Float32Array(C * 16);
      for (let k = 0; k < C; k++) for (let q = 0; q < 16; q++) gA[k * 16 + q] = g[k] * A[k * 16 + q];
      const expected: Record<string, Float32Array> = {
        gradcam: sumW(A, 16, g),
        eigengradcam: eigenCam({ data: gA, shape: [1, C, 4, 4] }), // EigenGradCAM = the 2-D projection of g ⊙ A
        ablationcam: sumW(A, 16, ab),
      };
      for (const [m, raw] of Object.entries(expected)) {
        const row = rows.find((o) => o.image === `img${i}.png` && o.method === m && o.target === c)!;
        assert.ok(row, `${m} img${i} class ${c} (rank ${rank})`);
        assert.ok(Math.abs(row.probability - p[c]) < 1e-5);
        assert.equal(row.overlay, `overlays/${m}/feat/img${i}.png~class${c}.png`);
        close(row.cam, aggregateLayers([postprocessCam(raw, 1, 4, 4, S, S)], 1, S, S), 2e-3, `${m} img${i} class ${c}`);
      }
    }
  }
});

test('a model exported with its softmax: load-model detects probabilities; the softmax target and the probability column use them as they are', () => {
  const meta = (stage: string) => JSON.parse(readFileSync(join(dir, `artifacts/p/${stage}/manifest.json`), 'utf8')).meta;
  assert.equal(meta('model').output_type, 'logits');
  assert.equal(meta('smodel').output_type, 'probabilities');
  assert.equal(meta('smodel').config.output_type, 'probabilities');
  assert.equal(meta('smodel_logits').output_type, 'logits'); // the config key overrides the detection
  const ref = table('topk').rows.filter((o) => o.method === 'gradcam');
  const got = table('ptop').rows;
  assert.equal(got.length, ref.length);
  for (const r of ref) {
    const g = got.find((o) => o.image === r.image && o.target === r.target)!;
    assert.ok(g, `${r.image} class ${r.target}`);
    assert.ok(Math.abs(g.probability - r.probability) < 1e-6, 'probability = the output, not its softmax');
    assert.ok(Math.abs(g.score - r.probability) < 1e-6, 'score = the output');
    close(g.cam, r.cam, 2e-3, `${r.image} class ${r.target}`);
  }
  // forced 'logits': the runtime squashes the probabilities again (what the detection avoids)
  for (const o of table('pforced').rows) {
    const p = logitsOf(input(Number(o.image.slice(3, 4))));
    const e = p.map((v) => Math.exp(v - Math.max(...p)));
    const probs = e.map((v) => v / e.reduce((a, b) => a + b, 0));
    const sq = probs.map((v) => Math.exp(v));
    assert.ok(Math.abs(o.probability - sq[o.target] / sq.reduce((a, b) => a + b, 0)) < 1e-5);
  }
});

test('cam stage: overlay files are unique per item (a.png and a.jpg)', () => {
  const { rows } = table('collide');
  assert.deepEqual(rows.map((o) => [o.image, o.overlay]).sort(), [
    ['a.jpg', 'overlays/gradcam/feat/a.jpg.png'],
    ['a.png', 'overlays/gradcam/feat/a.png.png'],
  ]);
  for (const o of rows) assert.ok(existsSync(join(dir, 'artifacts/p/collide', o.overlay)));
});

test('overlayName: extension kept; a sanitised id gets its dataset index; the class per top-k map', async () => {
  const { overlayName } = await import('../../src/explain/cam.ts');
  assert.equal(overlayName('gradcam++', 'layer3+layer4', 'dir/a.png', 0), 'overlays/gradcam++/layer3+layer4/dir/a.png.png');
  assert.notEqual(overlayName('gradcam', 'l', 'a b.png', 1), overlayName('gradcam', 'l', 'a_b.png', 2));
  assert.equal(overlayName('gradcam', 'l', 'a b.png', 1), 'overlays/gradcam/l/a_b.png~1.png');
  assert.equal(overlayName('gradcam', 'l', 'a.png', 3, 7), 'overlays/gradcam/l/a.png~class7.png');
});

test('cam stage: a target class not among the model labels is an error naming target.class', () => {
  const res = xai(['run', 'pipelines/badtarget.yaml']);
  assert.notEqual(res.code, 0, res.stderr); // known only once the model's labels are (at run time, as a bad layer)
  assert.match(res.stderr, /stages\.cams\.params\.target\.class/);
  assert.match(res.stderr, /no class named 'zebra'/);
  assert.doesNotMatch(res.stderr, /\n\s+at /);
});

test('cam stage: an unknown method (exit 2) or layer is an error naming the param', () => {
  const res = xai(['run', 'pipelines/bad.yaml']);
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, /stages\.cams\.params\.methods\[1\]/);
  assert.match(res.stderr, /unknown CAM method 'scorekam'/);
  assert.match(res.stderr, /scorecam/);
  const bad = xai(['run', 'pipelines/badlayer.yaml']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /stages\.cams\.params\.layers\[0\]: model '[^']+' has no layer or alias 'feet' \(aliases: feat\)/);
});

test('cams table: per-layer column names (sanitised, a clash gets its index) and described nullable tensor columns', () => {
  const cols = camLayerColumns(['layer4', '/layer4/relu:0', 'layer4_relu_0']);
  assert.deepEqual([...cols.values()], [
    { raw: 'cam_raw_layer4', weights: 'weights_layer4' },
    { raw: 'cam_raw_layer4_relu_0', weights: 'weights_layer4_relu_0' },
    { raw: 'cam_raw_layer4_relu_0_2', weights: 'weights_layer4_relu_0_2' },
  ]);
  const f = camSchema(8, 8, [{ layer: 'layer4', channels: 3, height: 2, width: 2 }]).fields.filter((x) => /layer4/.test(x.name));
  assert.deepEqual(f.map((x) => [x.name, x.nullable, JSON.parse(x.metadata.get('ARROW:extension:metadata')!).shape]), [
    ['cam_raw_layer4', true, [2, 2]],
    ['weights_layer4', true, [3]],
  ]);
  for (const x of f) assert.match(x.metadata.get('xai.description')!, /layer 'layer4'/);
});
