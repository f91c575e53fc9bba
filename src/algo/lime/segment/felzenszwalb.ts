// Felzenszwalb–Huttenlocher graph segmentation with scikit-image semantics (skimage.segmentation.felzenszwalb,
// _felzenszwalb_cy.pyx): img_as_float64 → Gaussian σ (spatial, 'reflect', truncate 4) → 8-connected edges (right,
// down, down-right, up-right) weighted by the Euclidean RGB distance → edges by ascending weight → union-find merge
// when w < min(Int(C₀) + k/|C₀|, Int(C₁) + k/|C₁|) with k = scale/255 (the inner costs are C floats, float32, as in
// skimage) → merge components smaller than min_size along the sorted edges → labels renumbered 0..n−1 in ascending
// root order (root = smallest pixel index). Departure: equal edge weights are ordered stably (by edge index);
// numpy's argsort (introsort/SIMD sort) leaves their order implementation-defined.

import { type RgbImage, checkImage, gaussianFilter2d, toFloatPlanes } from '../image.ts';
import { type Segmentation, relabelSequential } from './common.ts';

export interface FelzenszwalbParams {
  /** Observation scale; higher = larger segments (default 1). */
  scale?: number;
  /** Gaussian pre-smoothing σ (default 0.8). */
  sigma?: number;
  /** Minimum component size, enforced by post-processing (default 20). */
  min_size?: number;
}

function findRoot(forest: Int32Array, n: number): number {
  let r = n;
  while (forest[r] < r) r = forest[r];
  return r;
}
function setRoot(forest: Int32Array, n: number, root: number): void {
  while (forest[n] < n) {
    const j = forest[n];
    forest[n] = root;
    n = j;
  }
  forest[n] = root;
}
/** skimage measure._ccomp.join_trees: both paths re-pointed to the smaller root. */
function joinTrees(forest: Int32Array, n: number, m: number): void {
  if (n === m) return;
  let root = findRoot(forest, n);
  const rootM = findRoot(forest, m);
  if (root > rootM) root = rootM;
  setRoot(forest, n, root);
  setRoot(forest, m, root);
}

export function felzenszwalb(image: RgbImage, params: FelzenszwalbParams = {}): Segmentation {
  checkImage(image, 'felzenszwalb image');
  const scale = (params.scale ?? 1) / 255;
  const sigma = params.sigma ?? 0.8;
  const minSize = params.min_size ?? 20;
  const H = image.height, W = image.width, N = H * W;
  const planes = toFloatPlanes(image).map((p) => (sigma > 0 ? gaussianFilter2d(p, H, W, sigma) : p));
  const [P0, P1, P2] = planes;

  const nE = H * (W - 1) + (H - 1) * W + 2 * (H - 1) * (W - 1);
  const ea = new Int32Array(nE), eb = new Int32Array(nE);
  const cost = new Float64Array(nE);
  let e = 0;
  const add = (a: number, b: number) => {
    const d0 = P0[a] - P0[b], d1 = P1[a] - P1[b], d2 = P2[a] - P2[b];
    ea[e] = a;
    eb[e] = b;
    cost[e] = Math.sqrt(d0 * d0 + d1 * d1 + d2 * d2);
    e++;
  };
  for (let r = 0; r < H; r++) for (let c = 1; c < W; c++) add(r * W + c, r * W + c - 1); // right
  for (let r = 1; r < H; r++) for (let c = 0; c < W; c++) add(r * W + c, (r - 1) * W + c); // down
  for (let r = 1; r < H; r++) for (let c = 1; c < W; c++) add(r * W + c, (r - 1) * W + c - 1); // down-right
  for (let r = 0; r < H - 1; r++) for (let c = 1; c < W; c++) add(r * W + c, (r + 1) * W + c - 1); // up-right

  const order = new Uint32Array(nE);
  for (let i = 0; i < nE; i++) order[i] = i;
  order.sort((a, b) => cost[a] - cost[b] || a - b);

  const forest = new Int32Array(N);
  for (let i = 0; i < N; i++) forest[i] = i;
  const size = new Float64Array(N).fill(1);
  const cint = new Float64Array(N);
  for (let i = 0; i < nE; i++) {
    const k = order[i];
    const s0 = findRoot(forest, ea[k]);
    const s1 = findRoot(forest, eb[k]);
    if (s0 === s1) continue;
    const in0 = Math.fround(cint[s0] + scale / size[s0]);
    const in1 = Math.fround(cint[s1] + scale / size[s1]);
    if (cost[k] < Math.min(in0, in1)) {
      joinTrees(forest, s0, s1);
      const sn = findRoot(forest, s0);
      size[sn] = size[s0] + size[s1];
      cint[sn] = cost[k];
    }
  }
  for (let i = 0; i < nE; i++) {
    const k = order[i];
    const s0 = findRoot(forest, ea[k]);
    const s1 = findRoot(forest, eb[k]);
    if (s0 === s1) continue;
    if (size[s0] < minSize || size[s1] < minSize) {
      joinTrees(forest, s0, s1);
      const sn = findRoot(forest, s0);
      size[sn] = size[s0] + size[s1];
    }
  }
  const roots = new Int32Array(N);
  for (let i = 0; i < N; i++) roots[i] = findRoot(forest, i);
  return relabelSequential(roots, H, W);
}
