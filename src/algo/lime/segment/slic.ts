// SLIC superpixels with scikit-image semantics (skimage.segmentation.slic ≥ 0.19, _slic.pyx), 2-D RGB, no mask:
// img_as_float → rescale by the image's own min/max to [0,1] → Lab (convert2lab, default for 3 channels) → Gaussian
// σ ('reflect') → × 1/compactness; centroids on skimage's regular_grid over (1, H, W) with colour initialised to 0;
// k-means restricted to a window of ±2·step around each centroid, distance = spatial²/step² + colour²;
// stop when no pixel changes; then enforce_connectivity (BFS, 4-neighbourhood, components smaller than
// int(min_size_factor · H·W/n_centroids) merged into the last adjacent labelled component, BFS capped at
// int(max_size_factor · …)). Output relabelled 0..n−1 (lime needs 0-based contiguous ids; skimage's start_label is
// ignored). Departures (undefined behaviour in skimage's Cython): pixels outside every window stay unassigned during
// an iteration and are skipped in the centroid update; empty clusters are dropped from later iterations.

import { type RgbImage, checkImage, gaussianFilter2d, rgbPlanesToLab, toFloatPlanes } from '../image.ts';
import { type Segmentation, relabelSequential } from './common.ts';

export interface SlicParams {
  /** Approximate number of superpixels (default 100). */
  n_segments?: number;
  /** Colour vs space trade-off; higher = squarer (default 10). */
  compactness?: number;
  /** k-means iterations (default 10). */
  max_num_iter?: number;
  /** Older skimage name of max_num_iter (accepted as an alias). */
  max_iter?: number;
  /** Accepted and ignored: output ids are always 0..n−1 (lime needs 0-based ids). */
  start_label?: number;
  /** Gaussian pre-smoothing σ (default 0). */
  sigma?: number;
  /** Convert to Lab (default true for RGB). */
  convert2lab?: boolean;
  /** Merge small disconnected pieces (default true). */
  enforce_connectivity?: boolean;
  min_size_factor?: number;
  max_size_factor?: number;
}

/** skimage.util.regular_grid: per-dimension [start, step] of ~n regularly spaced points. */
export function regularGrid(shape: number[], nPoints: number): { start: number; step: number }[] {
  const ndim = shape.length;
  const spaceSize0 = shape.reduce((a, b) => a * b, 1);
  if (spaceSize0 <= nPoints) return shape.map(() => ({ start: 0, step: 1 }));
  // stable argsort of the shape
  const order = shape.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[1]);
  const sorted = order.map((i) => shape[i]);
  const steps = new Array<number>(ndim).fill(Math.pow(spaceSize0 / nPoints, 1 / ndim));
  if (sorted.some((d, i) => d < steps[i])) {
    for (let dim = 0; dim < ndim; dim++) {
      steps[dim] = sorted[dim];
      let space = 1;
      for (let j = dim + 1; j < ndim; j++) space *= sorted[j];
      const s = Math.pow(space / nPoints, 1 / (ndim - dim - 1));
      for (let j = dim + 1; j < ndim; j++) steps[j] = s;
      if (sorted.every((d, i) => d >= steps[i])) break;
    }
  }
  const out = new Array<{ start: number; step: number }>(ndim);
  for (let k = 0; k < ndim; k++) out[order[k]] = { start: Math.floor(steps[k] / 2), step: roundHalfEven(steps[k]) };
  return out;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function slic(image: RgbImage, params: SlicParams = {}): Segmentation {
  checkImage(image, 'slic image');
  const nSegments = params.n_segments ?? 100;
  const compactness = params.compactness ?? 10;
  const maxIter = params.max_num_iter ?? params.max_iter ?? 10;
  const sigma = params.sigma ?? 0;
  const convert2lab = params.convert2lab ?? true;
  const enforce = params.enforce_connectivity ?? true;
  const minSizeFactor = params.min_size_factor ?? 0.5;
  const maxSizeFactor = params.max_size_factor ?? 3;
  if (!(nSegments >= 1)) throw new RangeError(`slic: n_segments must be ≥ 1, got ${nSegments}`);
  if (!(compactness > 0)) throw new RangeError(`slic: compactness must be > 0, got ${compactness}`);
  const H = image.height, W = image.width, N = H * W;

  let planes = toFloatPlanes(image);
  // rescale to [0,1] by the image's min/max (over all channels)
  let lo = Infinity, hi = -Infinity;
  for (const p of planes) for (let i = 0; i < N; i++) {
    if (p[i] < lo) lo = p[i];
    if (p[i] > hi) hi = p[i];
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError('slic: image has non-finite values');
  for (const p of planes) for (let i = 0; i < N; i++) p[i] = hi !== lo ? (p[i] - lo) / (hi - lo) : p[i] - lo;
  if (convert2lab) planes = rgbPlanesToLab(planes);
  const ratio = 1 / compactness;
  const img = planes.map((p) => {
    const q = sigma > 0 ? gaussianFilter2d(p, H, W, sigma) : p;
    const o = new Float64Array(N);
    for (let i = 0; i < N; i++) o[i] = q[i] * ratio;
    return o;
  });
  const [i0, i1, i2] = img;

  // centroids on the regular grid of (depth=1, H, W)
  const grid = regularGrid([1, H, W], nSegments);
  const cy: number[] = [], cx: number[] = [];
  for (let y = grid[1].start; y < H; y += grid[1].step) for (let x = grid[2].start; x < W; x += grid[2].step) {
    cy.push(y);
    cx.push(x);
  }
  const K = cy.length;
  const seg = new Float64Array(K * 5); // y, x, c0, c1, c2 (colour starts at 0, as skimage)
  for (let k = 0; k < K; k++) {
    seg[k * 5] = cy[k];
    seg[k * 5 + 1] = cx[k];
  }
  const step = Math.max(grid[0].step, grid[1].step, grid[2].step);
  const win = regularGrid([1, H, W], K); // _slic_cython recomputes the grid for the actual number of centroids
  const stepY = win[1].step, stepX = win[2].step;
  const spatialWeight = 1 / (step * step);

  const nearest = new Int32Array(N).fill(-1);
  const dist = new Float64Array(N);
  const alive = new Uint8Array(K).fill(1);
  const cnt = new Float64Array(K);
  for (let it = 0; it < maxIter; it++) {
    let change = false;
    dist.fill(Number.MAX_VALUE);
    for (let k = 0; k < K; k++) {
      if (!alive[k]) continue;
      const sy = seg[k * 5], sx = seg[k * 5 + 1], s0 = seg[k * 5 + 2], s1 = seg[k * 5 + 3], s2 = seg[k * 5 + 4];
      const yMin = Math.trunc(Math.max(sy - 2 * stepY, 0)), yMax = Math.trunc(Math.min(sy + 2 * stepY + 1, H));
      const xMin = Math.trunc(Math.max(sx - 2 * stepX, 0)), xMax = Math.trunc(Math.min(sx + 2 * stepX + 1, W));
      for (let y = yMin; y < yMax; y++) {
        let dy = sy - y;
        dy *= dy;
        const row = y * W;
        for (let x = xMin; x < xMax; x++) {
          let dx = sx - x;
          dx *= dx;
          const p = row + x;
          const t0 = i0[p] - s0, t1 = i1[p] - s1, t2 = i2[p] - s2;
          const d = (0 + dy + dx) * spatialWeight + (t0 * t0 + t1 * t1 + t2 * t2);
          if (dist[p] > d) {
            nearest[p] = k;
            dist[p] = d;
            change = true;
          }
        }
      }
    }
    if (!change) break;
    seg.fill(0);
    cnt.fill(0);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const k = nearest[p];
      if (k < 0) continue;
      cnt[k]++;
      seg[k * 5] += y;
      seg[k * 5 + 1] += x;
      seg[k * 5 + 2] += i0[p];
      seg[k * 5 + 3] += i1[p];
      seg[k * 5 + 4] += i2[p];
    }
    for (let k = 0; k < K; k++) {
      if (cnt[k] === 0) {
        alive[k] = 0;
        continue;
      }
      for (let c = 0; c < 5; c++) seg[k * 5 + c] /= cnt[k];
    }
  }
  // any pixel never reached by a window (impossible for regular grids, kept for safety) joins cluster 0
  for (let p = 0; p < N; p++) if (nearest[p] < 0) nearest[p] = 0;

  let labels: Int32Array = nearest;
  if (enforce) {
    const segmentSize = N / K;
    labels = enforceConnectivity(nearest, H, W, Math.trunc(minSizeFactor * segmentSize), Math.trunc(maxSizeFactor * segmentSize));
  }
  return relabelSequential(labels, H, W);
}

/** skimage _enforce_label_connectivity_cython for 2-D (start_label 0). */
export function enforceConnectivity(segments: Int32Array, H: number, W: number, minSize: number, maxSize: number): Int32Array {
  const N = H * W;
  const out = new Int32Array(N).fill(-1);
  const maxLen = Math.max(1, maxSize);
  const qy = new Int32Array(maxLen), qx = new Int32Array(maxLen);
  const DX = [1, -1, 0, 0], DY = [0, 0, 1, -1];
  let newLabel = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const p = y * W + x;
    if (out[p] > -1) continue;
    let adjacent = newLabel;
    const label = segments[p];
    out[p] = newLabel;
    let size = 1;
    let visited = 0;
    qy[0] = y;
    qx[0] = x;
    while (visited < size && size < maxSize) {
      for (let i = 0; i < 4; i++) {
        const yy = qy[visited] + DY[i], xx = qx[visited] + DX[i];
        if (xx >= 0 && xx < W && yy >= 0 && yy < H) {
          const q = yy * W + xx;
          if (segments[q] === label && out[q] === -1) {
            out[q] = newLabel;
            qy[size] = yy;
            qx[size] = xx;
            size++;
            if (size >= maxSize) break;
          } else if (out[q] > -1 && out[q] !== newLabel) {
            adjacent = out[q];
          }
        }
      }
      visited++;
    }
    if (size < minSize) {
      for (let i = 0; i < size; i++) out[qy[i] * W + qx[i]] = adjacent;
    } else newLabel++;
  }
  return out;
}
