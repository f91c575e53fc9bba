import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quickshift } from '../../src/algo/lime/segment/quickshift.ts';
import { slic, regularGrid } from '../../src/algo/lime/segment/slic.ts';
import { felzenszwalb } from '../../src/algo/lime/segment/felzenszwalb.ts';
import { segment, relabelSequential } from '../../src/algo/lime/segment/index.ts';
import { rgbToLab, type RgbImage } from '../../src/algo/lime/image.ts';
import { Rng, STREAM } from '../../src/algo/lime/rng.ts';

function blocks(H: number, W: number, colorAt: (r: number, c: number) => [number, number, number]): RgbImage {
  const d = new Uint8Array(H * W * 3);
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) d.set(colorAt(r, c), (r * W + c) * 3);
  return { data: d, height: H, width: W };
}
/** True when two label maps induce the same partition. */
function samePartition(a: Int32Array, b: Int32Array): boolean {
  const ab = new Map<number, number>(), ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]) ?? b[i]) !== b[i] || (ba.get(b[i]) ?? a[i]) !== a[i]) return false;
    ab.set(a[i], b[i]);
    ba.set(b[i], a[i]);
  }
  return true;
}

/** Straight port of skimage's _quickshift_cython loops (same noise source), as an independent reference. */
function naiveQuickshift(img: RgbImage, ratio: number, ks: number, maxDist: number, seed: number): Int32Array {
  const H = img.height, W = img.width, N = H * W;
  const lab = rgbToLab(img).map((p) => p.map((v) => v * ratio));
  const kw = Math.ceil(3 * ks), inv = -0.5 / (ks * ks);
  const dens = new Float64Array(N);
  const d2 = (p: number, q: number, r: number, c: number, r2: number, c2: number) => {
    let s = 0;
    for (let k = 0; k < 3; k++) s += (lab[k][p] - lab[k][q]) ** 2;
    return s + (r - r2) ** 2 + (c - c2) ** 2;
  };
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++)
    for (let r2 = Math.max(r - kw, 0); r2 < Math.min(r + kw + 1, H); r2++)
      for (let c2 = Math.max(c - kw, 0); c2 < Math.min(c + kw + 1, W); c2++)
        dens[r * W + c] += Math.exp(d2(r * W + c, r2 * W + c2, r, c, r2, c2) * inv);
  const rng = new Rng(seed, STREAM.segmentation);
  for (let i = 0; i < N; i++) dens[i] += 1e-5 * rng.normal();
  const parent = new Int32Array(N);
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
    const p = r * W + c;
    let closest = Number.MAX_VALUE;
    parent[p] = p;
    for (let r2 = Math.max(r - kw, 0); r2 < Math.min(r + kw + 1, H); r2++)
      for (let c2 = Math.max(c - kw, 0); c2 < Math.min(c + kw + 1, W); c2++) {
        const q = r2 * W + c2;
        if (dens[q] > dens[p]) {
          const d = d2(p, q, r, c, r2, c2);
          if (d < closest) {
            closest = d;
            parent[p] = q;
          }
        }
      }
    if (Math.sqrt(closest) > maxDist) parent[p] = p;
  }
  const root = parent.map((_, p) => {
    let q = p;
    while (parent[q] !== q) q = parent[q];
    return q;
  });
  return relabelSequential(root, H, W).segments;
}

function noisyImage(H: number, W: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  return blocks(H, W, (r, c) => {
    const base = (r < H / 2 ? 60 : 180) + (c < W / 3 ? 40 : 0);
    return [base + rng.int(30), 255 - base + rng.int(30), (base * 7) % 256];
  });
}

test('quickshift equals a straight port of skimage\'s loops (window, density, parents, max_dist cut, relabel order)', () => {
  for (const [ks, md, ratio] of [[2, 6, 0.5], [1.5, 200, 0.2], [3, 4, 1]] as const) {
    const img = noisyImage(17, 23, ks * 10);
    const ours = quickshift(img, { kernel_size: ks, max_dist: md, ratio, random_seed: 7 });
    const ref = naiveQuickshift(img, ratio, ks, md, 7);
    assert.deepEqual(Array.from(ours.segments), Array.from(ref), `kernel_size ${ks}, max_dist ${md}`);
    assert.equal(ours.nSegments, Math.max(...ref) + 1);
  }
});

test('quickshift: two flat colour regions → two segments', () => {
  const img = blocks(8, 16, (_r, c) => (c < 8 ? [220, 30, 30] : [30, 30, 220]));
  const s = quickshift(img, { kernel_size: 2, max_dist: 10, ratio: 1 });
  assert.equal(s.nSegments, 2);
  const expected = new Int32Array(8 * 16).map((_, i) => (i % 16 < 8 ? 0 : 1));
  assert.ok(samePartition(s.segments, expected));
});

test('quickshift: links longer than max_dist are cut — a small max_dist splits what a large one merges', () => {
  // two grey halves 40 levels apart; the window (ceil(3·2) = 6) spans the whole 6×12 image
  const img = blocks(6, 12, (_r, c) => (c < 6 ? [100, 100, 100] : [140, 140, 140]));
  const merged = quickshift(img, { kernel_size: 2, max_dist: 1e6, ratio: 1 });
  assert.equal(merged.nSegments, 1, 'every non-maximal pixel links somewhere: one tree');
  const split = quickshift(img, { kernel_size: 2, max_dist: 5, ratio: 1 }, { returnTree: true });
  assert.equal(split.nSegments, 2);
  assert.ok(samePartition(split.segments, new Int32Array(72).map((_, i) => (i % 12 < 6 ? 0 : 1))));
  // the cut: some pixel's nearest higher-density pixel was farther than max_dist (across the colour step)
  let cut = 0;
  for (let p = 0; p < 72; p++) if (split.parent![p] === p && Number.isFinite(split.distParent![p]) && split.distParent![p] > 5) cut++;
  assert.ok(cut >= 1, 'a root was created by the max_dist cut');
});

test('quickshift: seeded — same seed identical; default lime params run on 64×64 quickly', () => {
  const img = noisyImage(64, 64, 3);
  const a = quickshift(img, { kernel_size: 4, max_dist: 200, ratio: 0.2, random_seed: 11 });
  const b = quickshift(img, { kernel_size: 4, max_dist: 200, ratio: 0.2, random_seed: 11 });
  assert.deepEqual(a.segments, b.segments);
  assert.ok(a.nSegments >= 1);
  assert.throws(() => quickshift(img, { kernel_size: 0.5 }), /kernel_size/);
});

test('regular_grid as skimage (doc examples)', () => {
  assert.deepEqual(regularGrid([20, 40], 8), [{ start: 5, step: 10 }, { start: 5, step: 10 }]);
  assert.deepEqual(regularGrid([20, 40], 32), [{ start: 2, step: 5 }, { start: 2, step: 5 }]);
  assert.deepEqual(regularGrid([3, 20, 40], 8), [{ start: 1, step: 3 }, { start: 5, step: 10 }, { start: 5, step: 10 }]);
});

test('slic: four colour quadrants with 4 segments → the quadrants', () => {
  const cols: [number, number, number][] = [[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]];
  const img = blocks(40, 40, (r, c) => cols[(r < 20 ? 0 : 2) + (c < 20 ? 0 : 1)]);
  const s = slic(img, { n_segments: 4, compactness: 10 });
  assert.equal(s.nSegments, 4);
  assert.ok(samePartition(s.segments, new Int32Array(1600).map((_, i) => (Math.floor(i / 40) < 20 ? 0 : 2) + (i % 40 < 20 ? 0 : 1))));
});

test('slic: low compactness follows an off-grid colour boundary; high compactness ignores it', () => {
  const img = blocks(40, 40, (_r, c) => (c < 15 ? [220, 40, 40] : [40, 40, 220]));
  const colourLed = slic(img, { n_segments: 4, compactness: 0.1 });
  // every segment is on one side of column 15
  for (let k = 0; k < colourLed.nSegments; k++) {
    const sides = new Set<boolean>();
    colourLed.segments.forEach((v, i) => v === k && sides.add(i % 40 < 15));
    assert.equal(sides.size, 1, `segment ${k} straddles the colour boundary`);
  }
  const square = slic(img, { n_segments: 4, compactness: 1e4 });
  let straddle = 0;
  for (let k = 0; k < square.nSegments; k++) {
    const sides = new Set<boolean>();
    square.segments.forEach((v, i) => v === k && sides.add(i % 40 < 15));
    if (sides.size === 2) straddle++;
  }
  assert.ok(straddle >= 1, 'spatial-dominated segments cross the colour boundary');
});

test('felzenszwalb: flat blocks → one segment per block; min_size merges a small blob', () => {
  const cols: [number, number, number][] = [[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]];
  const img = blocks(24, 30, (r, c) => cols[(r < 12 ? 0 : 2) + (c < 10 ? 0 : 1)]);
  const s = felzenszwalb(img, { scale: 1, sigma: 0, min_size: 5 });
  assert.equal(s.nSegments, 4);
  assert.ok(samePartition(s.segments, new Int32Array(720).map((_, i) => (Math.floor(i / 30) < 12 ? 0 : 2) + (i % 30 < 10 ? 0 : 1))));
  // a 2×2 blob inside a flat region survives with min_size 1 and is absorbed with min_size 10
  const blob = blocks(16, 16, (r, c) => (r >= 6 && r < 8 && c >= 6 && c < 8 ? [250, 250, 250] : [10, 10, 10]));
  assert.equal(felzenszwalb(blob, { scale: 1, sigma: 0, min_size: 1 }).nSegments, 2);
  assert.equal(felzenszwalb(blob, { scale: 1, sigma: 0, min_size: 10 }).nSegments, 1);
  // default sigma 0.8 still yields contiguous 0..n−1 ids
  const d = felzenszwalb(img);
  assert.equal(new Set(d.segments).size, d.nSegments);
});

test('segment(): dispatch by name, unknown params rejected like lime', () => {
  const img = noisyImage(20, 20, 5);
  assert.ok(segment(img, { type: 'slic', n_segments: 10 }).nSegments > 1);
  assert.throws(() => segment(img, { type: 'quickshift', bogus: 1 } as never), /not a valid parameter/);
  assert.throws(() => segment(img, { type: 'watershed' } as never), /unknown algorithm/);
});

test('rgb2lab matches skimage reference values (D65, 2°)', () => {
  const px = (r: number, g: number, b: number) => rgbToLab({ data: Uint8Array.from([r, g, b]), height: 1, width: 1 }).map((p) => p[0]);
  const near = (a: number[], b: number[], tol = 1e-3) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < tol, `${a} vs ${b}`));
  near(px(255, 255, 255), [100, 0, 0], 5e-3);
  near(px(0, 0, 0), [0, 0, 0]);
  // published sRGB red in CIE-Lab (D65); skimage's 6-digit XYZ matrix agrees to ~1e-3
  near(px(255, 0, 0), [53.2408, 80.0925, 67.2032], 2e-3);
  // a dark value takes the linear branches (v ≤ 0.04045 → v/12.92; t ≤ 0.008856 → 7.787t + 16/116)
  const v = 5 / 255 / 12.92, y = 0.212671 * v + 0.71516 * v + 0.072169 * v;
  near(px(5, 5, 5), [116 * (7.787 * y + 16 / 116) - 16, 0, 0], 1e-3);
});

test('gaussianFilter2d: scipy gaussian_filter semantics (normalised kernel, radius int(4σ+0.5), reflect)', async () => {
  const { gaussianFilter2d, gaussianKernel1d } = await import('../../src/algo/lime/image.ts');
  const k = gaussianKernel1d(0.8);
  assert.equal(k.length, 2 * Math.floor(4 * 0.8 + 0.5) + 1);
  assert.ok(Math.abs(k.reduce((a, b) => a + b) - 1) < 1e-15);
  const H = 9, W = 11;
  const flat = gaussianFilter2d(new Float64Array(H * W).fill(3), H, W, 1.3);
  assert.ok(flat.every((v) => Math.abs(v - 3) < 1e-12), 'constant image unchanged (reflect boundary)');
  const imp = new Float64Array(H * W);
  imp[4 * W + 5] = 1;
  const out = gaussianFilter2d(imp, H, W, 0.8);
  const k1 = gaussianKernel1d(0.8), r = (k1.length - 1) / 2;
  assert.ok(Math.abs(out[(4 + 1) * W + 5 - 2] - k1[r + 1] * k1[r - 2]) < 1e-15, 'separable kernel response');
  // reflect: an impulse at the corner folds its mass back in, total mass preserved
  const corner = new Float64Array(H * W);
  corner[0] = 1;
  assert.ok(Math.abs(gaussianFilter2d(corner, H, W, 1).reduce((a, b) => a + b) - 1) < 1e-12);
});

function components(seg: Int32Array, H: number, W: number, diag: boolean): number {
  const seen = new Uint8Array(H * W);
  let n = 0;
  const nb = diag ? [[0, 1], [1, 0], [0, -1], [-1, 0], [1, 1], [1, -1], [-1, 1], [-1, -1]] : [[0, 1], [1, 0], [0, -1], [-1, 0]];
  for (let p = 0; p < H * W; p++) {
    if (seen[p]) continue;
    n++;
    const stack = [p];
    seen[p] = 1;
    while (stack.length) {
      const q = stack.pop()!;
      const r = Math.floor(q / W), c = q % W;
      for (const [dr, dc] of nb) {
        const rr = r + dr, cc = c + dc;
        if (rr < 0 || rr >= H || cc < 0 || cc >= W) continue;
        const t = rr * W + cc;
        if (!seen[t] && seg[t] === seg[q]) {
          seen[t] = 1;
          stack.push(t);
        }
      }
    }
  }
  return n;
}

test('slic on a textured image: ~n_segments connected superpixels (enforce_connectivity), none below min size', () => {
  const img = noisyImage(64, 64, 9);
  const s = slic(img, { n_segments: 16, compactness: 10 });
  assert.ok(s.nSegments >= 8 && s.nSegments <= 24, `${s.nSegments} segments`);
  assert.equal(components(s.segments, 64, 64, false), s.nSegments, 'each superpixel is one 4-connected component');
  const sizes = new Array(s.nSegments).fill(0);
  s.segments.forEach((v) => sizes[v]++);
  assert.ok(Math.min(...sizes) >= Math.trunc(0.5 * (64 * 64) / 16), `min size ${Math.min(...sizes)}`);
});

test('felzenszwalb on a textured image: 8-connected components, each ≥ min_size', () => {
  const img = noisyImage(48, 48, 4);
  const s = felzenszwalb(img, { scale: 50, sigma: 0.8, min_size: 20 });
  assert.equal(components(s.segments, 48, 48, true), s.nSegments);
  const sizes = new Array(s.nSegments).fill(0);
  s.segments.forEach((v) => sizes[v]++);
  assert.ok(Math.min(...sizes) >= 20, `min size ${Math.min(...sizes)}`);
  assert.ok(felzenszwalb(img, { scale: 500, min_size: 20 }).nSegments <= s.nSegments, 'higher scale → fewer segments');
});
