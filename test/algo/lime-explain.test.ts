import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainInstance, labelExplanation, type ImageExplanation } from '../../src/algo/lime/explain.ts';
import { getImageAndMask } from '../../src/algo/lime/mask.ts';
import { normalizeToNCHW } from '../../src/algo/lime/perturb.ts';
import { Rng } from '../../src/algo/lime/rng.ts';
import { limeMaskSegments } from '../../src/algo/lime/auto.ts';
import type { RgbImage } from '../../src/algo/lime/image.ts';

// 32×32 image, 4×4 grid of 8×8 superpixels (ids 0..15), textured so the fudged (mean) image differs from it
const H = 32, W = 32;
const rng = new Rng(77);
const image: RgbImage = { data: new Uint8Array(H * W * 3).map(() => rng.int(256)), height: H, width: W };
const segments = new Int32Array(H * W).map((_, p) => Math.floor(Math.floor(p / W) / 8) * 4 + Math.floor((p % W) / 8));
const spec = { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
const original = normalizeToNCHW(image, spec);

/** Synthetic classifier over 3 classes: p1 = fraction of segment 5 visible, p2 = 0.3·(fraction of segment 9 visible), p0 = rest. */
function makeClassifier(calls: { n: number }[] = []) {
  const seg5: number[] = [], seg9: number[] = [];
  segments.forEach((s, p) => (s === 5 ? seg5.push(p) : s === 9 ? seg9.push(p) : 0));
  const HW = H * W;
  return (batch: Float32Array, n: number): Promise<Float32Array> => {
    calls.push({ n });
    const out = new Float32Array(n * 3);
    for (let b = 0; b < n; b++) {
      const frac = (px: number[]) => px.filter((p) => batch[b * 3 * HW + p] === original[p] && batch[b * 3 * HW + HW + p] === original[HW + p]).length / px.length;
      const p1 = frac(seg5) * 0.6, p2 = 0.3 * frac(seg9);
      out[b * 3] = 1 - p1 - p2;
      out[b * 3 + 1] = p1;
      out[b * 3 + 2] = p2;
    }
    return Promise.resolve(out);
  };
}

test('end-to-end: the segment driving the class is ranked first with a positive weight', async () => {
  const calls: { n: number }[] = [];
  const exp = await explainInstance({
    image, segments, classifierFn: makeClassifier(calls), preprocess: spec,
    top_labels: null, labels: [1, 2], num_samples: 300, batch_size: 32, random_state: 1, hide_color: 0,
  });
  assert.equal(exp.samples, 300);
  assert.equal(calls.reduce((s, c) => s + c.n, 0), 300);
  assert.ok(calls.every((c) => c.n <= 32));
  const e1 = labelExplanation(exp, 1);
  assert.equal(e1.weights[0].segment, 5);
  assert.ok(Math.abs(e1.weights[0].weight - 0.6) < 0.02, `weight ${e1.weights[0].weight}`);
  assert.ok(e1.score > 0.99);
  assert.ok(Math.abs(e1.local_pred - 0.6) < 0.02);
  assert.ok(Math.abs(e1.prob - 0.6) < 1e-6);
  assert.equal(e1.weights.length, 16);
  for (let i = 1; i < e1.weights.length; i++) assert.ok(Math.abs(e1.weights[i - 1].weight) >= Math.abs(e1.weights[i].weight));
  const e2 = labelExplanation(exp, 2);
  assert.equal(e2.weights[0].segment, 9);
  assert.throws(() => labelExplanation(exp, 0), /not in explanation/);
  for (const k of ['segmentation', 'perturbation', 'prediction', 'perturbation_prediction', 'fit', 'total'] as const)
    assert.ok(exp.times[k] >= 0);
});

test('top_labels: most probable classes in descending order; num_features limits the explanation', async () => {
  const exp = await explainInstance({
    image, segments, classifierFn: makeClassifier(), preprocess: spec, top_labels: 2, num_features: 3, num_samples: 200, random_state: 3,
  });
  // unperturbed probabilities: p0 = 0.1, p1 = 0.6, p2 = 0.3
  assert.deepEqual(exp.top_labels, [1, 2]);
  assert.deepEqual(exp.labels, [1, 2]);
  const e1 = labelExplanation(exp, 1);
  assert.equal(e1.weights.length, 3);
  assert.equal(e1.weights[0].segment, 5);
});

test('seeded: same random_state → identical explanation; different → different data matrix', async () => {
  const run = (seed: number) =>
    explainInstance({ image, segments, classifierFn: makeClassifier(), preprocess: spec, labels: [1], top_labels: 0, num_samples: 120, random_state: seed, keep_data: true });
  const a = await run(5), b = await run(5), c = await run(6);
  assert.deepEqual(a.data, b.data);
  assert.deepEqual(a.explanations, b.explanations);
  assert.notDeepEqual(a.data, c.data);
});

test('per-sample preprocessing (non-pixelwise path) gives the same explanation as the pixelwise fast path', async () => {
  const base = { image, segments, classifierFn: makeClassifier(), labels: [1], top_labels: null, num_samples: 80, random_state: 9, batch_size: 7 };
  const fast = await explainInstance({ ...base, preprocess: spec });
  const slow = await explainInstance({ ...base, preprocess: { fn: (im: RgbImage) => normalizeToNCHW(im, spec), pixelwise: false } });
  assert.deepEqual(slow.explanations, fast.explanations);
});

test("num_samples 'auto' stops once the top-k set is stable, below the cap, and reports what it used", async () => {
  const exp = await explainInstance({
    image, segments, classifierFn: makeClassifier(), preprocess: spec, labels: [1], top_labels: null, num_samples: 'auto',
    batch_size: 25, random_state: 2, auto: { k: 1, max_samples: 3000, step: 50, rule: 'ztest' },
  });
  assert.ok(exp.auto);
  assert.equal(exp.auto!.stopped, 'stable');
  assert.ok(exp.samples < 3000 && exp.samples >= 100, `samples ${exp.samples}`);
  const last = exp.auto!.checkpoints.at(-1)!;
  assert.ok(last.stable && last.labels[0].z > 1.6);
  assert.deepEqual(last.labels[0].top, [5]);
  assert.equal(labelExplanation(exp, 1).weights[0].segment, 5);
  // the auto run's samples are a prefix of a fixed run with the same seed
  const fixed = await explainInstance({
    image, segments, classifierFn: makeClassifier(), preprocess: spec, labels: [1], top_labels: null, num_samples: exp.samples,
    batch_size: 25, random_state: 2,
  });
  assert.deepEqual(fixed.explanations, exp.explanations);
});

test("num_samples 'auto' with rule 'mask' stops once the expected mask IoU reaches the target; a constant classifier never does", async () => {
  const base = { image, segments, preprocess: spec, labels: [1], top_labels: null, num_samples: 'auto' as const, batch_size: 25, random_state: 2 };
  const exp = await explainInstance({ ...base, classifierFn: makeClassifier(), auto: { k: 1, max_samples: 3000, step: 50, rule: 'mask', target: 0.9 } });
  assert.equal(exp.auto!.stopped, 'stable');
  const cps = exp.auto!.checkpoints;
  assert.equal(exp.samples, cps.at(-1)!.samples, 'stops at the checkpoint');
  // stable = expected IoU ≥ target, twice in a row (consecutive 2); earlier checkpoints were not both stable
  assert.ok(cps.at(-1)!.labels[0].expectedIoU! >= 0.9 && cps.at(-2)!.labels[0].expectedIoU! >= 0.9);
  assert.ok(cps.slice(0, -2).every((c, i) => !(c.stable && cps[i + 1].stable)));
  assert.equal(labelExplanation(exp, 1).weights[0].segment, 5);
  // a classifier that ignores the image: no weight is positive for sure, the mask never settles → the cap
  const flat = await explainInstance({
    ...base, classifierFn: (_b: Float32Array, n: number) => Float32Array.from({ length: n * 3 }, (_, i) => [0.2, 0.5, 0.3][i % 3] + 1e-4 * Math.sin(i * 12.9898)),
    auto: { k: 3, max_samples: 400, step: 50, rule: 'mask', target: 0.99 },
  });
  assert.equal(flat.auto!.stopped, 'cap');
  assert.equal(flat.samples, 400);
  await assert.rejects(explainInstance({ ...base, classifierFn: makeClassifier(), auto: { rule: 'nope' as never } }), /auto\.rule/);
});

test("the 'mask' rule's mask is get_image_and_mask's: the first k POSITIVE superpixels of the |w|-sorted list", () => {
  // |w| order: 0 (−0.9), 3 (−0.8), 1 (0.5), 4 (0.3), 5 (0.2), 2 (0.1); lime keeps w > 0 first, then takes 2 → {1, 4}
  // (taking the top 2 by |w| and then the positive ones would give the empty mask)
  const beta = [-0.9, 0.5, 0.1, -0.8, 0.3, 0.2];
  assert.deepEqual([...limeMaskSegments(beta, 2)], [0, 1, 0, 0, 1, 0]);
  // ties in |w| keep the lower index (a stable sort), as lime's sorted(..., key=abs, reverse=True)
  assert.deepEqual([...limeMaskSegments([0.2, -0.3, 0.2, 0.2], 2)], [1, 0, 1, 0]);
  // the same segments as getImageAndMask (mask.ts) on an explanation with these weights, one pixel per segment
  const order = beta.map((_, i) => i).sort((a, b) => Math.abs(beta[b]) - Math.abs(beta[a]) || a - b);
  const exp = {
    image: { data: new Uint8Array(18), height: 1, width: 6 }, segments: Int32Array.from([0, 1, 2, 3, 4, 5]), nSegments: 6, height: 1, width: 6,
    labels: [0], explanations: [{ label: 0, intercept: 0, weights: order.map((s) => ({ segment: s, weight: beta[s] })), score: 1, local_pred: 0, prob: 1, used_features: order }],
  } as unknown as ImageExplanation;
  for (const k of [1, 2, 3, 5]) assert.deepEqual([...limeMaskSegments(beta, k)], [...getImageAndMask(exp, 0, { num_features: k }).mask]);
});

test('default segmentation is lime\'s quickshift(4, 200, 0.2) with a seed drawn from random_state', async () => {
  const small: RgbImage = { data: new Uint8Array(24 * 24 * 3).map((_, i) => (i % 3 === 0 ? (i < 864 ? 200 : 40) : 90)), height: 24, width: 24 };
  const exp = await explainInstance({
    image: small, classifierFn: (_b, n) => new Float32Array(n * 2).map((_, i) => (i % 2 ? 0.7 : 0.3)), num_samples: 20, top_labels: 1, random_state: 4,
  });
  assert.ok(exp.random_seed >= 0 && exp.random_seed < 1000);
  assert.ok(exp.nSegments >= 1 && exp.segments.length === 576);
  assert.deepEqual(exp.top_labels, [1]);
});

test('input errors are clear', async () => {
  const base = { image, segments, classifierFn: makeClassifier(), preprocess: spec };
  await assert.rejects(explainInstance({ ...base, segments: new Int32Array(10) }), /segments: length/);
  await assert.rejects(explainInstance({ ...base, distance_metric: 'nope' }), /distance_metric/);
  await assert.rejects(explainInstance({ ...base, top_labels: null, labels: [7] }), /not a class index/);
  await assert.rejects(explainInstance({ ...base, feature_selection: 'x' as never }), /feature_selection/);
  await assert.rejects(explainInstance({ ...base, distance_metric: 'correlation', num_samples: 5 }), /undefined for this metric/);
});

// ---- get_image_and_mask on a hand-made explanation
function handMade(): ImageExplanation {
  // 2×3 image, segments [[0,0,1],[2,2,1]]; weights sorted by |w|: (2, 0.5), (0, −0.4), (1, 0.1)
  const img: RgbImage = { data: Uint8Array.from([10, 20, 30, 11, 21, 31, 12, 22, 32, 13, 23, 33, 14, 24, 34, 15, 25, 35]), height: 2, width: 3 };
  return {
    image: img, segments: Int32Array.from([0, 0, 1, 2, 2, 1]), nSegments: 3, height: 2, width: 3, labels: [4], top_labels: null,
    explanations: [{ label: 4, intercept: 0, weights: [{ segment: 2, weight: 0.5 }, { segment: 0, weight: -0.4 }, { segment: 1, weight: 0.1 }], score: 1, local_pred: 0, prob: 1, used_features: [0, 1, 2] }],
    numClasses: 5, samples: 1, random_seed: 0, times: { segmentation: 0, perturbation: 0, prediction: 0, perturbation_prediction: 0, fit: 0, total: 0 },
  };
}

test('get_image_and_mask: positive_only / min_weight / negative_only / both signs / hide_rest, as lime', () => {
  const exp = handMade();
  let r = getImageAndMask(exp, 4);
  assert.deepEqual(Array.from(r.mask), [0, 0, 1, 1, 1, 1]);
  assert.deepEqual(r.image.data, exp.image.data);
  r = getImageAndMask(exp, 4, { min_weight: 0.2 });
  assert.deepEqual(Array.from(r.mask), [0, 0, 0, 1, 1, 0]);
  r = getImageAndMask(exp, 4, { num_features: 1 });
  assert.deepEqual(r.segments, [2]);
  r = getImageAndMask(exp, 4, { positive_only: false, negative_only: true });
  assert.deepEqual(Array.from(r.mask), [1, 1, 0, 0, 0, 0], 'lime marks negative segments with 1 in negative_only');
  r = getImageAndMask(exp, 4, { positive_only: false, num_features: 2 });
  assert.deepEqual(Array.from(r.mask), [-1, -1, 0, 1, 1, 0]);
  // channel 0 of negative and channel 1 of positive segments set to max(image) = 35
  assert.deepEqual(Array.from(r.image.data), [35, 20, 30, 35, 21, 31, 12, 22, 32, 13, 35, 33, 14, 35, 34, 15, 25, 35]);
  r = getImageAndMask(exp, 4, { positive_only: false, num_features: 3, min_weight: 0.2 });
  assert.deepEqual(Array.from(r.mask), [-1, -1, 0, 1, 1, 0], '|w| < min_weight skipped');
  r = getImageAndMask(exp, 4, { hide_rest: true, num_features: 1 });
  assert.deepEqual(Array.from(r.image.data), [0, 0, 0, 0, 0, 0, 0, 0, 0, 13, 23, 33, 14, 24, 34, 0, 0, 0]);
  assert.throws(() => getImageAndMask(exp, 4, { positive_only: true, negative_only: true }), /cannot be true/);
  assert.throws(() => getImageAndMask(exp, 3), /not in explanation/);
});

test("num_samples 'auto' does not depend on the classifier batch size (it stops at the stable checkpoint)", async () => {
  const run = (batch_size: number) =>
    explainInstance({
      image, segments, classifierFn: makeClassifier(), preprocess: spec, labels: [1], top_labels: null, num_samples: 'auto',
      batch_size, random_state: 2, auto: { k: 1, max_samples: 3000, step: 50 },
    });
  const a = await run(7), b = await run(50), c = await run(128);
  assert.equal(a.auto!.stopped, 'stable');
  assert.equal(a.samples, a.auto!.checkpoints.at(-1)!.samples, 'samples = the stable checkpoint');
  for (const x of [b, c]) {
    assert.equal(x.samples, a.samples);
    assert.deepEqual(x.explanations, a.explanations);
    assert.deepEqual(x.auto!.checkpoints, a.auto!.checkpoints);
  }
});

test('the perturbation batch buffers are reused across explanations (no new allocation per image); results unchanged', async () => {
  const seen: ArrayBufferLike[][] = [[], []];
  const run = async (k: number) => {
    const inner = makeClassifier();
    return explainInstance({
      image, segments, preprocess: spec, labels: [1], top_labels: null, num_samples: 60, batch_size: 20, random_state: 4,
      classifierFn: (b: Float32Array, n: number) => (seen[k].push(b.buffer), inner(b, n)),
    });
  };
  const a = await run(0);
  const b = await run(1);
  assert.equal(seen[0].length, 3);
  assert.deepEqual(new Set(seen[1]), new Set(seen[0]), 'the second explanation gets the first one\'s buffers');
  assert.deepEqual(b.explanations, a.explanations);
});
