import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareDissections, conceptCounts, imageMaxima, iouMatrix, IouTally, labelUnits, layerSummary, percentileExact,
  percentileIndex, SparseUpsampler, TopImages, TopQuantile, type ConceptSpace, type UnitLabel,
} from '../../src/algo/dissect/index.ts';
import { resizeMaps } from '../../src/algo/resize.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('TopQuantile.addUnitValuesMax: maps at or below the cutoff are only counted (same thresholds); a NaN maximum is scanned and reported', () => {
  const r = rng(5);
  const n = 200;
  const hw = 49;
  const maps = new Float32Array(n * hw).map(() => Math.max(0, r() * 3 - 1.5));
  const maxima = new Float32Array(n);
  for (let b = 0; b < n; b++) maxima[b] = Math.max(...maps.subarray(b * hw, (b + 1) * hw));
  const plain = new TopQuantile(1, n * hw, 0.005);
  const skipping = new TopQuantile(1, n * hw, 0.005);
  for (let b = 0; b < n; b++) {
    plain.addUnitValues(0, maps, b * hw, hw);
    skipping.addUnitValuesMax(0, maps, b * hw, hw, maxima[b]);
  }
  assert.deepEqual(skipping.thresholds(), plain.thresholds());
  assert.equal(skipping.thresholds()[0], percentileExact(maps, 0.005));
  const withNan = new TopQuantile(1, 2 * hw, 0.005);
  withNan.addUnitValuesMax(0, maps, 0, hw, maxima[0]);
  const bad = maps.slice(0, hw);
  bad[3] = NaN;
  assert.throws(() => withNan.addUnitValuesMax(0, bad, 0, hw, NaN), /NaN activation in unit 0/);
});

/**
 * The output pixel indices of `n` spans of the last `up.spans` call, checking that the spans are non-empty, ordered,
 * and not adjacent within a row.
 */
function spanPixels(up: SparseUpsampler, n: number): number[] {
  const got: number[] = [];
  let prevY = -1;
  let prevX1 = -1;
  for (let k = 0; k < n; k++) {
    const [y, x0, x1] = up.spanBuf.subarray(3 * k, 3 * k + 3);
    assert.ok(x0 < x1 && (y > prevY || (y === prevY && x0 > prevX1)), 'spans are non-empty, ordered, and not adjacent within a row');
    prevY = y;
    prevX1 = x1;
    for (let x = x0; x < x1; x++) got.push(y * up.W + x);
  }
  return got;
}

test('linear percentile index as numpy (virtual index (n − 1)·p)', () => {
  // n = 1000, p = 0.995 → 994.005: sorted[994] + 0.005·(sorted[995] − sorted[994])
  const { lo, hi, gamma } = percentileIndex(1000, 0.005);
  assert.equal(lo, 994);
  assert.equal(hi, 995);
  assert.ok(Math.abs(gamma - 0.005) < 1e-9);
  // values 1..1000 → np.percentile(…, 99.5) = 995.005
  const v = Array.from({ length: 1000 }, (_, i) => 1000 - i);
  assert.ok(Math.abs(percentileExact(v, 0.005) - 995.005) < 1e-9);
  const tq = new TopQuantile(1, 1000, 0.005);
  tq.addUnitValues(0, Float32Array.from(v), 0, 1000);
  assert.ok(Math.abs(tq.thresholds()[0] - 995.005) < 1e-9);
  assert.equal(tq.k, 6);
});

test('streaming top-quantile equals a brute-force sort on random data (many compactions)', () => {
  const r = rng(5);
  for (const q of [0.005, 0.01, 0.2]) {
    const units = 3, n = 37, h = 7, w = 9;
    const total = n * h * w;
    const tq = new TopQuantile(units, total, q);
    const all: number[][] = [[], [], []];
    // batches of varying size, NCHW
    let done = 0;
    while (done < n) {
      const b = Math.min(n - done, 1 + Math.floor(r() * 6));
      const data = new Float32Array(b * units * h * w);
      for (let i = 0; i < data.length; i++) {
        const u = Math.floor(i / (h * w)) % units;
        // unit 1 has heavy ties, unit 2 a skewed distribution
        data[i] = u === 0 ? r() * 2 - 1 : u === 1 ? Math.floor(r() * 5) : Math.exp(4 * r());
        all[u].push(data[i]);
      }
      tq.addBatch(data, b, h, w);
      done += b;
    }
    const th = tq.thresholds();
    for (let u = 0; u < units; u++) {
      const s = Float64Array.from(all[u]).sort();
      const { lo, hi, gamma } = percentileIndex(total, q);
      const expected = s[lo] + gamma * (s[hi] - s[lo]);
      assert.ok(Math.abs(th[u] - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `q=${q} unit ${u}: ${th[u]} vs ${expected}`);
    }
    assert.equal(tq.bytes, TopQuantile.bytesFor(units, total, q));
  }
});

test('quantile rejects a wrong value count', () => {
  const tq = new TopQuantile(1, 10, 0.1);
  tq.addUnitValues(0, [1, 2, 3], 0, 3);
  assert.throws(() => tq.thresholds(), /received 3 values, expected 10/);
});

// Concepts: 0 '-', 1 dog (object), 2 cat (object), 3 beach (scene)
const concepts: ConceptSpace = {
  names: ['-', 'dog', 'cat', 'beach'],
  categories: ['object', 'scene'],
  labelCategories: [[], [0], [0], [1]],
  primaryCategory: [0, 0, 0, 1],
};

function mask4(pixels: number[], label: number): Int32Array {
  const m = new Int32Array(16);
  for (const p of pixels) m[p] = label;
  return m;
}
function act4(pixels: number[]): Float32Array {
  const a = new Float32Array(16);
  for (const p of pixels) a[p] = 1;
  return a;
}
const TOP_LEFT = [0, 1, 4, 5];
const TOP_ROW = [0, 1, 2, 3];
const BOTTOM_RIGHT = [10, 11, 14, 15];

test('a unit equal to a concept mask → IoU 1 and that label', () => {
  const t = new IouTally({ units: 2, featureH: 4, featureW: 4, thresholds: [0.5, 0.5], concepts });
  const feats = new Float32Array(32);
  feats.set(act4(TOP_LEFT), 0); // unit 0 = the dog mask
  feats.set(act4(BOTTOM_RIGHT), 16); // unit 1 = somewhere else
  t.addImage(feats, 0, { height: 4, width: 4, maps: [mask4(TOP_LEFT, 1)], scalars: [] });
  const labels = labelUnits(t.result(), concepts);
  assert.equal(labels[0].name, 'dog');
  assert.equal(labels[0].category, 'object');
  assert.ok(Math.abs(labels[0].iou - 1) < 1e-9);
  assert.equal(labels[0].interpretable, true);
  assert.equal(labels[1].iou, 0);
  assert.equal(labels[1].interpretable, false);
});

test('upsampling a 2×2 unit map to the 4×4 mask (PIL bilinear) before binarising', () => {
  // up = r_y·c_x with r = c = [1, .75, .25, 0] → > 0.5 exactly on the top-left 2×2
  const t = new IouTally({ units: 1, featureH: 2, featureW: 2, thresholds: [0.5], concepts });
  t.addImage(Float32Array.from([1, 0, 0, 0]), 0, { height: 4, width: 4, maps: [mask4(TOP_LEFT, 1)], scalars: [] });
  const r = t.result();
  assert.equal(r.activated[0], 4);
  assert.equal(r.intersection[1], 4);
  assert.ok(Math.abs(iouMatrix(r, concepts)[1] - 1) < 1e-9);
});

test('hand IoU with the category-aware denominator (lite and annotated rules), scalar labels, skip rule', () => {
  const images = [
    // 1: dog top-left; the unit fires on the top row → I(dog) = 2; activated pixels hit an object label
    { feats: act4(TOP_ROW), ann: { height: 4, width: 4, maps: [mask4(TOP_LEFT, 1)], scalars: [] as number[] } },
    // 2: scene-only image (beach); the unit fires on 2 pixels → I(beach) = 2, A(scene) += 2
    { feats: act4([5, 6]), ann: { height: 4, width: 4, maps: [] as Int32Array[], scalars: [3] } },
    // 3: cat bottom-right; the unit fires on the top row, away from any object label
    { feats: act4(TOP_ROW), ann: { height: 4, width: 4, maps: [mask4(BOTTOM_RIGHT, 2)], scalars: [] as number[] } },
    // 4: the unit never exceeds T → skipped (truth still counted: dog 4 more pixels)
    { feats: new Float32Array(16).fill(0.5), ann: { height: 4, width: 4, maps: [mask4(TOP_LEFT, 1)], scalars: [] as number[] } },
  ];
  const run = (denominator: 'lite' | 'annotated') => {
    const t = new IouTally({ units: 1, featureH: 4, featureW: 4, thresholds: [0.5], concepts, denominator });
    for (const im of images) t.addImage(im.feats, 0, im.ann);
    return t.result();
  };
  const lite = run('lite');
  assert.deepEqual(Array.from(lite.truth), [0, 8, 4, 16]);
  assert.deepEqual(Array.from(lite.intersection), [0, 2, 0, 2]);
  assert.deepEqual(Array.from(lite.activated), [10]);
  // lite: object counted only on image 1 (image 3's activated pixels carry no object label) → A(object) = 4
  assert.deepEqual(Array.from(lite.activationCat), [4, 2]);
  const iouL = iouMatrix(lite, concepts);
  assert.ok(Math.abs(iouL[1] - 2 / (4 + 8 - 2)) < 1e-9); // dog
  assert.ok(Math.abs(iouL[3] - 2 / (2 + 16 - 2)) < 1e-9); // beach
  assert.equal(iouL[2], 0); // cat
  const ann = run('annotated');
  // annotated: images 1, 3 (and 4, skipped) carry object annotations → A(object) = 4 + 4
  assert.deepEqual(Array.from(ann.activationCat), [8, 2]);
  const iouA = iouMatrix(ann, concepts);
  assert.ok(Math.abs(iouA[1] - 2 / (8 + 8 - 2)) < 1e-9);
  const [u] = labelUnits(lite, concepts);
  assert.equal(u.name, 'dog');
  assert.equal(u.perCategory[0].name, 'dog');
  assert.equal(u.perCategory[0].truth, 8);
  assert.equal(u.perCategory[0].activation, 4);
  assert.equal(u.perCategory[0].intersect, 2);
  assert.equal(u.perCategory[1].name, 'beach');
  assert.ok(u.interpretable);
  // a higher interpretability threshold
  assert.equal(labelUnits(lite, concepts, { threshold: 0.5 })[0].interpretable, false);
});

test('several pixel maps per image: each map counted, as the concatenated bincount', () => {
  const t = new IouTally({ units: 1, featureH: 4, featureW: 4, thresholds: [0.5], concepts });
  // two object maps overlapping on pixel 1 (dog in one, cat in the other)
  t.addImage(act4([0, 1]), 0, { height: 4, width: 4, maps: [mask4([0, 1], 1), mask4([1, 2], 2)], scalars: [] });
  const r = t.result();
  assert.deepEqual(Array.from(r.intersection), [0, 2, 1, 0]);
  assert.deepEqual(Array.from(r.truth), [0, 2, 2, 0]);
  assert.deepEqual(Array.from(r.activationCat), [2, 0]);
});

test('given maxima are used for the skip rule; merge adds tallies', () => {
  const mk = () => new IouTally({ units: 1, featureH: 4, featureW: 4, thresholds: [0.5], concepts });
  const a = mk();
  a.addImage(act4(TOP_LEFT), 0, { height: 4, width: 4, maps: [mask4(TOP_LEFT, 1)], scalars: [] }, [0.4]);
  assert.equal(a.result().activated[0], 0);
  const b = mk();
  b.addImage(act4(TOP_LEFT), 0, { height: 4, width: 4, maps: [mask4(TOP_LEFT, 1)], scalars: [] });
  a.merge(b.result());
  assert.equal(a.images, 2);
  assert.equal(a.result().intersection[1], 4);
  assert.equal(a.result().truth[1], 8);
  assert.deepEqual(Array.from(imageMaxima([1, 5, 2, 3, 9, 0], 1, 2, 1, 3)), [5, 9]);
  assert.throws(() => mk().addImage(new Float32Array(16), 0, { height: 4, width: 4, maps: [Int32Array.from(new Array(16).fill(7))], scalars: [] }), /label 7/);
});

test('top-N images per unit by maximum activation (ties: lower image index first)', () => {
  const top = new TopImages(2, 3);
  const maxima = [[1, 5], [4, 5], [2, 1], [4, 0], [0, 9]];
  maxima.forEach((m, i) => top.add(i, m));
  assert.deepEqual(top.top(0), [{ image: 1, value: 4 }, { image: 3, value: 4 }, { image: 2, value: 2 }]);
  assert.deepEqual(top.top(1).map((x) => x.image), [4, 0, 1]);
});

const U = (unit: number, name: string, category: string, iou: number): UnitLabel => ({
  unit, label: 0, name, category, iou, interpretable: iou >= 0.04, perCategory: [],
});

test('concept statistics and the comparison of two dissections', () => {
  const a = [U(0, 'dog', 'object', 0.1), U(1, 'dog', 'object', 0.2), U(2, 'sky', 'object', 0.05), U(3, 'red', 'color', 0.3), U(4, 'cat', 'object', 0.01)];
  const b = [U(0, 'sky', 'object', 0.1), U(1, 'grass', 'object', 0.08), U(2, 'dog', 'object', 0.06), U(3, 'beach', 'scene', 0.02)];
  assert.deepEqual(conceptCounts(a), [
    { name: 'dog', category: 'object', count: 2 },
    { name: 'red', category: 'color', count: 1 },
    { name: 'sky', category: 'object', count: 1 },
  ]);
  assert.equal(conceptCounts(a, { all: true }).length, 4);
  const s = layerSummary('layer4', a, ['object', 'scene', 'color']);
  assert.equal(s.units, 5);
  assert.equal(s.interpretable, 4);
  assert.equal(s.uniqueConcepts, 3);
  assert.deepEqual(s.perCategory, { object: 3, scene: 0, color: 1 });
  assert.deepEqual(s.top.map((c) => c.name), ['dog', 'red', 'sky']);
  const cmp = compareDissections(a, b);
  assert.deepEqual(cmp.shared, [
    { name: 'dog', category: 'object', countA: 2, countB: 1 },
    { name: 'sky', category: 'object', countA: 1, countB: 1 },
  ]);
  assert.deepEqual(cmp.onlyA.map((c) => c.name), ['red']);
  assert.deepEqual(cmp.onlyB.map((c) => c.name), ['grass']);
});

test('upsample spans equal the dense resize + threshold on near-tie maps (plateaus at T, T ± 1 ulp, negatives, large scales)', () => {
  const r = rng(7);
  const f32 = new Float32Array(1);
  const nextUp = (v: number) => {
    // the next float32 above v (v a float32)
    f32[0] = v;
    const u = new Uint32Array(f32.buffer);
    u[0] += v >= 0 ? 1 : -1;
    return f32[0];
  };
  let checked = 0;
  for (const [fh, fw, H, W] of [[7, 7, 112, 112], [7, 7, 224, 224], [14, 14, 113, 97], [28, 28, 112, 112], [2, 3, 64, 96], [1, 1, 5, 5]] as const) {
    for (const mode of ['pil', 'cv2', 'align-corners'] as const) {
      const up = new SparseUpsampler(fh, fw, H, W, mode);
      for (let rep = 0; rep < 12; rep++) {
        // few distinct values (plateaus), some negative, occasionally large
        const levels = [0, 0.5, 1, 1, 2, -1, 1e6 * r()].map((x) => Math.fround(x));
        const map = new Float32Array(fh * fw).map(() => levels[Math.floor(r() * (rep % 3 === 0 ? 7 : 5))] * (rep % 4 === 1 ? 3.7 : 1));
        const pick = map[Math.floor(r() * map.length)];
        const T = [pick, nextUp(pick), pick - 1e-9, (pick + nextUp(pick)) / 2][rep % 4];
        const dense = resizeMaps(map, 1, fh, fw, H, W, mode);
        const expected: number[] = [];
        for (let p = 0; p < H * W; p++) if (dense[p] > T) expected.push(p);
        assert.deepEqual(spanPixels(up, up.spans(map, 0, T)), expected, `${fh}x${fw}→${H}x${W} ${mode} rep ${rep} T ${T}`);
        assert.equal(up.pixels, expected.length);
        checked += expected.length;
      }
    }
  }
  assert.ok(checked > 10000, `the cases activate pixels (${checked})`);
});

test('sparse upsample-and-threshold equals the dense resize + threshold (pil, cv2, align-corners, shrinking)', () => {
  const r = rng(21);
  for (const [fh, fw, H, W] of [[7, 7, 112, 112], [14, 14, 112, 112], [3, 5, 17, 9], [9, 8, 4, 5]] as const) {
    for (const mode of ['pil', 'cv2', 'align-corners'] as const) {
      const up = new SparseUpsampler(fh, fw, H, W, mode);
      for (let rep = 0; rep < 20; rep++) {
        const map = new Float32Array(fh * fw).map(() => Math.max(0, r() * r() * 4 - 1));
        const sorted = Float64Array.from(map).sort();
        const T = sorted[Math.floor(sorted.length * (0.7 + 0.29 * r()))];
        const dense = resizeMaps(map, 1, fh, fw, H, W, mode);
        const expected: number[] = [];
        for (let p = 0; p < H * W; p++) if (dense[p] > T) expected.push(p);
        assert.deepEqual(spanPixels(up, up.spans(map, 0, T)), expected, `${fh}x${fw}→${H}x${W} ${mode}`);
      }
    }
  }
});

test('TopQuantile: fewer values than announced (thresholds(total)), and state/restore mid-stream continue identically', () => {
  // 1..800 in a shuffled order, announced as 1000 (e.g. images that failed to load): np.percentile(1..800, 99.5) =
  // sorted[795] + 0.005·(sorted[796] − sorted[795]) = 796 + 0.005 (virtual index 799·0.995 = 795.005)
  const r = rng(9);
  const v = Array.from({ length: 800 }, (_, i) => i + 1);
  for (let i = v.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  const data = Float32Array.from(v);
  const a = new TopQuantile(1, 1000, 0.005);
  a.addUnitValues(0, data, 0, 333);
  const b = new TopQuantile(1, 1000, 0.005);
  b.restore(a.state());
  a.addUnitValues(0, data, 333, 467);
  b.addUnitValues(0, data, 333, 467);
  const ta = a.thresholds(800)[0];
  assert.ok(Math.abs(ta - 796.005) < 1e-9, String(ta));
  assert.ok(Object.is(b.thresholds(800)[0], ta));
  assert.throws(() => a.thresholds(700), /received 800 values, expected 700/);
  assert.throws(() => a.thresholds(1001), /must be in 1\.\.1000/);
});
