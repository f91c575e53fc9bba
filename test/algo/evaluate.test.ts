// The evaluate metrics (src/algo/evaluate): deletion/insertion curves derived by hand on a 4×4 image with a linear
// model, ROAD's imputation by hand on tiny images and against road.py's own sparse system (scipy spsolve), Spearman /
// Kendall / SSIM against scipy and skimage 0.19.3 (fixture: scripts/fixtures/evaluate.py →
// test/fixtures/evaluate/reference.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  baselineImage, curveImages, gaussianBlur, kendallTauB, noisyLinearImpute, numpyPercentile, roadKeepMask, saliencyOrder,
  spearman, ssim, stepCounts, trapezoidAuc,
} from '../../src/algo/evaluate/index.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/evaluate/reference.json', import.meta.url), 'utf8'));

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

// A linear "model" on a 1-channel 4×4 image: score = Σ w_p x_p. With the saliency = w and an all-ones image, deleting
// the k most salient pixels (zero baseline) leaves the sum of the remaining weights.
const w = [3, 16, 9, 1, 12, 6, 14, 2, 8, 15, 4, 11, 5, 13, 7, 10];
const linear = (imgs: Float32Array, n: number) => Array.from({ length: imgs.length / n }, (_, k) => w.reduce((s, wi, p) => s + wi * imgs[k * n + p], 0));

test('deletion curve of a linear model on a 4×4 image, by hand', () => {
  const img = new Float32Array(16).fill(1);
  const counts = stepCounts(16, 4);
  assert.deepEqual(counts, [0, 4, 8, 12, 16]);
  const out = curveImages('deletion', img, baselineImage('zero', img, 1, 4, 4), saliencyOrder(w), counts, 1, new Float32Array(5 * 16));
  // removed: {16,15,14,13} = 58, then {12,11,10,9} = 42, then {8,7,6,5} = 26, then the rest (10): 136 → 78 → 36 → 10 → 0
  const y = linear(out, 16);
  assert.deepEqual(y, [136, 78, 36, 10, 0]);
  assert.equal(trapezoidAuc(y), (136 / 2 + 78 + 36 + 10 + 0 / 2) / 4);
  assert.equal(trapezoidAuc(y), 48);
});

test('insertion curve of the same model from a zero baseline, by hand; steps that do not divide n', () => {
  const img = new Float32Array(16).fill(1);
  const out = curveImages('insertion', img, new Float32Array(16), saliencyOrder(w), stepCounts(16, 4), 1, new Float32Array(5 * 16));
  const y = linear(out, 16);
  assert.deepEqual(y, [0, 58, 100, 126, 136]);
  assert.equal(trapezoidAuc(y), 88);
  assert.deepEqual(stepCounts(16, 3), [0, 5, 10, 16]); // floor(k·16/3)
});

test('saliency order: descending, ties by row-major index, NaN last', () => {
  assert.deepEqual(Array.from(saliencyOrder([0.5, 0.9, 0.5, NaN, 0.9, 0.1])), [1, 4, 0, 2, 5, 3]);
});

test('baselines: mean per channel; the blur keeps a constant image and is a normalised Gaussian', () => {
  const img = Float32Array.from([1, 2, 3, 6, 10, 10, 10, 10]); // C = 2, 2×2
  assert.deepEqual(Array.from(baselineImage('mean', img, 2, 2, 2)), [3, 3, 3, 3, 10, 10, 10, 10]);
  const flat = gaussianBlur(new Float32Array(3 * 5 * 6).fill(0.7), 3, 5, 6);
  close(flat, new Float32Array(90).fill(0.7), 1e-6, 'blur of a constant');
  // one bright pixel in the middle of a 11×11 zero image: the centre gets g(0)² / (Σg)² with g(d) = exp(−d²/50)
  const dot = new Float32Array(121);
  dot[60] = 1;
  let s = 0;
  for (let d = -5; d <= 5; d++) s += Math.exp(-(d * d) / 50);
  close([gaussianBlur(dot, 1, 11, 11)[60]], [1 / (s * s)], 1e-6, 'blur centre');
});

test('ROAD imputation by hand: one missing pixel is the weighted mean of its neighbours; a corner renormalises', () => {
  const v = [1, 2, 3, 4, 0, 6, 7, 8, 9];
  const keep = Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1]);
  const centre = (1 + 3 + 7 + 9) / 12 + (2 + 4 + 6 + 8) / 6;
  close([noisyLinearImpute(Float32Array.from(v), 1, 3, 3, keep, { noise: 0, tol: 1e-10 })[4]], [centre], 1e-9, 'centre');
  const corner = Uint8Array.from([0, 1, 1, 1, 1, 1, 1, 1, 1]);
  const v0 = [0, 2, 3, 4, 5, 6, 7, 8, 9];
  close([noisyLinearImpute(Float32Array.from(v0), 1, 3, 3, corner, { noise: 0, tol: 1e-10 })[0]], [(2 / 6 + 4 / 6 + 5 / 12) / (5 / 12)], 1e-6, 'corner');
  // a 1×3 row with the first two missing: x0 = x1 (its only neighbour), x1 = (x0 + 5)/2 → both 5
  close(noisyLinearImpute(Float32Array.from([0, 0, 5]), 1, 1, 3, Uint8Array.from([0, 0, 1]), { noise: 0, tol: 1e-10 }), [5, 5, 5], 1e-8, 'row');
  // noise: added per imputed value, channel-major in pixel order
  const seq = [1, -2, 3, -4];
  let k = 0;
  const noisy = noisyLinearImpute(Float32Array.from([0, 0, 5, 0, 0, 7]), 2, 1, 3, Uint8Array.from([0, 0, 1]), { noise: 0.01, normal: () => seq[k++] });
  close(noisy, [5.01, 4.98, 5, 7.03, 6.96, 7], 1e-6, 'noisy');
  assert.throws(() => noisyLinearImpute(new Float32Array(3), 1, 1, 3, Uint8Array.from([0, 1, 1])), /normal/);
});

test('ROAD keep masks and imputation match road.py (np.percentile, torch compare, scipy spsolve)', () => {
  const { H, W, C } = ref;
  const img = Float32Array.from(ref.image);
  for (const r of ref.road) {
    const keep = roadKeepMask(ref.cam, r.percentile, r.order);
    assert.deepEqual(Array.from(keep), r.keep, `${r.order} ${r.percentile}: keep mask`);
    close(noisyLinearImpute(img, C, H, W, keep, { noise: 0, tol: 1e-10 }), Float32Array.from(r.imputed), 2e-6, `${r.order} ${r.percentile}`);
  }
  close(noisyLinearImpute(img, C, H, W, Uint8Array.from(ref.hole.keep), { noise: 0, tol: 1e-10 }), Float32Array.from(ref.hole.imputed), 2e-6, 'hole');
});

test('ROAD imputation on a multigrid-sized image: every imputed pixel is the weighted mean of its in-image neighbours', () => {
  // The defining equation checked directly (independent of the solver): x_p · Σ_q∈N(p) w_q = Σ_q∈N(p) w_q · v_q over
  // the 8 in-image neighbours (1/6 direct, 1/12 diagonal), v the output image; sizes that need several coarse levels,
  // odd dimensions, a mask with several holes and a border-touching region.
  const H = 45, W = 58, C = 2, n = H * W;
  const img = Float32Array.from({ length: C * n }, (_, i) => Math.sin(i * 0.37) + ((i * 7919) % 13) / 13);
  const cam = Float32Array.from({ length: n }, (_, i) => {
    const y = (i / W) | 0, x = i % W;
    return Math.exp(-((y - 30) ** 2 + (x - 12) ** 2) / 60) + 0.8 * Math.exp(-((y - 8) ** 2 + (x - 50) ** 2) / 30) + 0.001 * ((i * 31) % 17);
  });
  for (const [order, pct] of [['morf', 10], ['morf', 75], ['lerf', 20], ['lerf', 90]] as const) {
    const keep = roadKeepMask(cam, pct, order);
    const out = noisyLinearImpute(img, C, H, W, keep, { noise: 0, tol: 1e-12 });
    let worst = 0;
    for (let p = 0; p < n; p++) {
      if (keep[p]) {
        for (let c = 0; c < C; c++) assert.equal(out[c * n + p], img[c * n + p], 'a kept pixel is unchanged');
        continue;
      }
      const y = (p / W) | 0, x = p % W;
      for (let c = 0; c < C; c++) {
        let sw = 0, sv = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            if ((!dy && !dx) || y + dy < 0 || y + dy >= H || x + dx < 0 || x + dx >= W) continue;
            const wq = dy && dx ? 1 / 12 : 1 / 6;
            sw += wq;
            sv += wq * out[c * n + (y + dy) * W + x + dx];
          }
        }
        worst = Math.max(worst, Math.abs(out[c * n + p] - sv / sw));
      }
    }
    assert.ok(worst < 5e-6, `${order} ${pct}: worst deviation ${worst}`); // float32 output
  }
});

test('ROAD imputation with one known pixel: every imputed pixel takes its value (a constant is the only solution)', () => {
  const H = 31, W = 37, n = H * W;
  const keep = new Uint8Array(n);
  keep[17 * W + 5] = 1;
  const img = new Float32Array(2 * n);
  img[17 * W + 5] = 0.75;
  img[n + 17 * W + 5] = -2;
  const out = noisyLinearImpute(img, 2, H, W, keep, { noise: 0, tol: 1e-12 });
  for (let p = 0; p < n; p++) {
    assert.ok(Math.abs(out[p] - 0.75) < 1e-5, `channel 0 pixel ${p}: ${out[p]}`);
    assert.ok(Math.abs(out[n + p] + 2) < 1e-5, `channel 1 pixel ${p}: ${out[n + p]}`);
  }
});

test('numpy percentile (linear) by hand', () => {
  assert.equal(numpyPercentile([4, 1, 3, 2], 50), 2.5);
  assert.equal(numpyPercentile([4, 1, 3, 2], 10), 1.3);
  assert.equal(numpyPercentile([5], 90), 5);
});

test('Spearman, Kendall τ-b and SSIM match scipy / skimage 0.19.3', () => {
  const s = ref.stats;
  close([spearman(s.a, s.b)], [s.spearman], 1e-12, 'spearman');
  close([spearman(s.x, s.y)], [s.spearman_xy], 1e-12, 'spearman with ties');
  close([kendallTauB(s.x, s.y)], [s.kendall], 1e-12, 'kendall');
  close([ssim(s.a, s.b, s.H, s.W, 1)], [s.ssim], 1e-12, 'ssim');
  assert.equal(ssim(s.a, s.a, s.H, s.W, 1), 1);
  assert.ok(Number.isNaN(kendallTauB([1, 1, 1], [1, 2, 3])));
});

test('LIME stability by hand: pairwise Jaccard, top-k Kendall τ-b, R² spread', async () => {
  const { meanPairwiseJaccard, meanPairwiseTopKKendall, r2Spread } = await import('../../src/algo/evaluate/index.ts');
  // IoU pairs: {0,1}·{0,1,2} = 2/3, {0,1}·{1,2} = 1/3, {0,1,2}·{1,2} = 2/3 → mean 5/9
  assert.ok(Math.abs(meanPairwiseJaccard([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0]]) - 5 / 9) < 1e-15);
  assert.ok(Number.isNaN(meanPairwiseJaccard([[1, 0]])));
  // A ranks 0 > 1 > 2, B ranks 0 > 2 > 1: pairs (0,1), (0,2) concordant, (1,2) discordant → τ = 1/3
  const A = new Map([[0, 3], [1, 2], [2, 1]]), B = new Map([[0, 3], [1, 1], [2, 2]]);
  assert.ok(Math.abs(meanPairwiseTopKKendall([A, B], 3) - 1 / 3) < 1e-15);
  // top-1: A's {0}, B's {0} → one segment, τ undefined → NaN; top-2 union {0,1,2} as above
  assert.ok(Number.isNaN(meanPairwiseTopKKendall([A, B], 1)));
  assert.ok(Math.abs(meanPairwiseTopKKendall([A, B], 2) - 1 / 3) < 1e-15);
  const s = r2Spread([0.5, 0.7, 0.6]);
  assert.ok(Math.abs(s.range - 0.2) < 1e-12);
  assert.ok(Math.abs(s.std - Math.sqrt(((0.1) ** 2 * 2) / 3)) < 1e-12);
});
