import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  argmax, binarize, maskIoU, otsuMask, otsuThreshold, paretoFront, pointingGame, relevanceMass, sameCountMask, summarize,
  thresholdMask, topKMask, topPercentMask,
} from '../../src/algo/compare/index.ts';

test('IoU of binary masks (hand cases)', () => {
  assert.equal(maskIoU([1, 1, 0, 0], [0, 1, 1, 0]), 1 / 3);
  assert.equal(maskIoU([1, 1, 0, 0], [1, 1, 0, 0]), 1);
  assert.equal(maskIoU([1, 0], [0, 1]), 0);
  assert.equal(maskIoU([0, 0], [0, 0]), 0);
  assert.throws(() => maskIoU([1], [1, 0]), /1 and 2 pixels/);
});

test('binarisation: top p %, value threshold, same count (ties by lower index)', () => {
  const map = [0.1, 0.9, 0.5, 0.5, 0.5, 0.2, 0.8, 0.0];
  assert.deepEqual(Array.from(topPercentMask(map, 25)), [0, 1, 0, 0, 0, 0, 1, 0]);
  // 50 % = 4 pixels: 0.9, 0.8, then the first two of the tied 0.5s (indices 2, 3)
  assert.deepEqual(Array.from(topPercentMask(map, 50)), [0, 1, 1, 1, 0, 0, 1, 0]);
  assert.deepEqual(Array.from(topKMask(map, 0)), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(thresholdMask(map, 0.5)), [0, 1, 1, 1, 1, 0, 1, 0]);
  assert.deepEqual(Array.from(sameCountMask(map, [1, 0, 0, 1, 0, 0, 0, 1])), [0, 1, 1, 0, 0, 0, 1, 0]);
  assert.deepEqual(Array.from(binarize(map, { rule: 'top-percent', percent: 25 })), Array.from(topPercentMask(map, 25)));
  assert.throws(() => topPercentMask(map, 120), /percent/);
});

test('Otsu threshold as skimage (256 bins over [min, max], bin centres)', () => {
  // two clusters 0 and 10: every split between is equally good → the first (bin 0), centre 10/512
  const two = [0, 0, 0, 10, 10, 10];
  assert.ok(Math.abs(otsuThreshold(two) - 10 / 512) < 1e-12);
  assert.deepEqual(Array.from(otsuMask(two)), [0, 0, 0, 1, 1, 1]);
  // [0×4, 5, 10]: split after bin 0 → between-class 4·2·(m1 − m2)² beats the split before 10 (hand-computed)
  const m = [0, 0, 0, 0, 5, 10];
  assert.ok(Math.abs(otsuThreshold(m) - 10 / 512) < 1e-12);
  assert.deepEqual(Array.from(binarize(m, { rule: 'otsu' })), [0, 0, 0, 0, 1, 1]);
  // constant map → its value, empty mask
  assert.equal(otsuThreshold([3, 3, 3]), 3);
  assert.deepEqual(Array.from(otsuMask([3, 3])), [0, 0]);
});

test('pointing game: argmax (first on ties) inside the mask, optional tolerance', () => {
  const map = [0, 1, 0, 0, 0, 0, 0, 0, 1]; // 3×3, ties at 1 and 8 → index 1
  assert.equal(argmax(map), 1);
  assert.equal(pointingGame(map, [0, 1, 0, 0, 0, 0, 0, 0, 0], 3), true);
  assert.equal(pointingGame(map, [0, 0, 0, 0, 0, 0, 0, 0, 1], 3), false);
  // mask pixel (1, 1) at distance 1 from (0, 1)
  assert.equal(pointingGame(map, [0, 0, 0, 0, 1, 0, 0, 0, 0], 3, 1), true);
  assert.equal(pointingGame(map, [0, 0, 0, 0, 0, 0, 1, 0, 0], 3, 1.5), false);
});

test('relevance mass: share of the positive mass inside the mask', () => {
  assert.equal(relevanceMass([1, 3, 0, -2], [0, 1, 1, 1]), 3 / 4);
  assert.equal(relevanceMass([0, 0], [1, 1]), 0);
});

test('summary statistics (NaN left out, population std)', () => {
  const s = summarize([4, 1, NaN, 3, 2]);
  assert.deepEqual(s, { n: 4, mean: 2.5, median: 2.5, std: Math.sqrt(1.25), min: 1, max: 4 });
  assert.equal(summarize([5, 1, 3]).median, 3);
  assert.equal(summarize([]).n, 0);
});

test('Pareto front: maximise IoU, minimise time', () => {
  const pts = [
    { iou: 0.3, time: 1 }, // front
    { iou: 0.5, time: 2 }, // front
    { iou: 0.4, time: 3 }, // dominated by #1
    { iou: 0.6, time: 5 }, // front
    { iou: 0.6, time: 6 }, // dominated by #3 (same IoU, slower)
    { iou: 0.2, time: 1 }, // dominated by #0
    { iou: 0.5, time: 2 }, // equal to #1 → kept
    { iou: NaN, time: 0 }, // never on the front
  ];
  assert.deepEqual(paretoFront(pts), [0, 1, 6, 3]);
  assert.deepEqual(paretoFront([]), []);
});
