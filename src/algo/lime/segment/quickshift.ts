// Quickshift superpixels with scikit-image semantics (skimage.segmentation.quickshift, _quickshift_cy.pyx):
// image float [0,1] → Lab (convert2lab) → Gaussian blur σ (spatial, 'reflect') → × ratio; density(p) = Σ over the
// window |Δr|,|Δc| ≤ ceil(3·kernel_size) of exp(−‖Δ‖² / (2·kernel_size²)) on the joint (colour, row, col) vector;
// densities += N(0, 1e-5) tie-breaking noise (seeded: our PRNG, or numpy's default_rng with rng 'numpy'); parent(p) = the nearest
// pixel (joint distance; ties → first in row-major window order) of strictly higher density in the window; links
// with distance > max_dist cut; labels = roots, renumbered 0..n−1 in ascending root pixel index (np.unique).
//
// Speed: the density pass visits each unordered pixel pair once (the kernel is symmetric), with the spatial Gaussian
// factor precomputed per offset and the colour factor through fastExp (≤ 1e-14 relative error, far below the 1e-5
// tie-breaking noise); the parent pass scans window offsets in ascending spatial distance and stops as soon as the
// spatial part alone exceeds the best joint distance found (exact: colour distance is ≥ 0; ties resolved by row-major
// index, as skimage's scan order does). Checked against a straight port of skimage's loops in the tests.

import { type RngKind, quickshiftNoise } from '../rng.ts';
import { fastExp } from '../fastexp.ts';
import { type RgbImage, checkImage, gaussianFilter2d, rgbPlanesToLab, toFloatPlanes } from '../image.ts';
import { type Segmentation, relabelSequential } from './common.ts';

export interface QuickshiftParams {
  /** Balances colour-space vs image-space proximity (skimage default 1.0; lime passes 0.2). */
  ratio?: number;
  /** Width of the Gaussian density kernel (skimage default 5; lime passes 4). Must be ≥ 1. */
  kernel_size?: number;
  /** Cut-off on parent link distance (skimage default 10; lime passes 200). */
  max_dist?: number;
  /** Gaussian pre-smoothing σ (0 = none). */
  sigma?: number;
  /** Convert RGB to Lab first (default true). */
  convert2lab?: boolean;
  /** Seed of the tie-breaking noise (skimage's random_seed/rng; default 42 as skimage). */
  random_seed?: number;
  /** Generator of the noise: 'xoshiro' (default) or 'numpy' (skimage 0.19.3's default_rng(random_seed), bit for bit). */
  rng?: RngKind;
}

export interface QuickshiftResult extends Segmentation {
  /** parent[p] after the max_dist cut (before flattening), and the distance to it (Infinity for roots). */
  parent?: Int32Array;
  distParent?: Float64Array;
}

export function quickshift(image: RgbImage, params: QuickshiftParams = {}, opts: { returnTree?: boolean } = {}): QuickshiftResult {
  checkImage(image, 'quickshift image');
  const ratio = params.ratio ?? 1.0;
  const kernelSize = params.kernel_size ?? 5;
  const maxDist = params.max_dist ?? 10;
  const sigma = params.sigma ?? 0;
  const convert2lab = params.convert2lab ?? true;
  const seed = params.random_seed ?? 42;
  if (!(kernelSize >= 1)) throw new RangeError(`quickshift: kernel_size should be >= 1, got ${kernelSize}`);
  const H = image.height, W = image.width, N = H * W;

  let planes = toFloatPlanes(image);
  if (convert2lab) planes = rgbPlanesToLab(planes);
  const ch: Float64Array[] = planes.map((p) => {
    const q = sigma > 0 ? gaussianFilter2d(p, H, W, sigma) : p;
    const out = new Float64Array(N);
    for (let i = 0; i < N; i++) out[i] = q[i] * ratio;
    return out;
  });
  const c0 = ch[0], c1 = ch[1], c2 = ch[2];

  const inv = -0.5 / (kernelSize * kernelSize);
  const kw = Math.ceil(3 * kernelSize);

  // ---- densities: self term (exp(0) = 1) + each unordered pair once, added to both ends.
  const dens = new Float64Array(N).fill(1);
  for (let dr = 0; dr <= kw; dr++) {
    for (let dc = dr === 0 ? 1 : -kw; dc <= kw; dc++) {
      const sw = Math.exp((dr * dr + dc * dc) * inv); // spatial factor
      const off = dr * W + dc;
      const cStart = dc < 0 ? -dc : 0;
      const cEnd = dc > 0 ? W - dc : W; // exclusive
      for (let r = 0; r + dr < H; r++) {
        const base = r * W;
        for (let c = cStart; c < cEnd; c++) {
          const p = base + c;
          const q = p + off;
          const t0 = c0[p] - c0[q], t1 = c1[p] - c1[q], t2 = c2[p] - c2[q];
          const w = sw * fastExp((t0 * t0 + t1 * t1 + t2 * t2) * inv);
          dens[p] += w;
          dens[q] += w;
        }
      }
    }
  }
  // tie-breaking noise, row-major, N(0, 1e-5)
  const noise = quickshiftNoise(params.rng ?? 'xoshiro', seed, N);
  for (let i = 0; i < N; i++) dens[i] += noise[i];

  // ---- parents: offsets sorted by spatial distance² then row-major order (dr, dc).
  const offs: { dr: number; dc: number; d2: number }[] = [];
  for (let dr = -kw; dr <= kw; dr++) for (let dc = -kw; dc <= kw; dc++) offs.push({ dr, dc, d2: dr * dr + dc * dc });
  offs.sort((a, b) => a.d2 - b.d2 || a.dr - b.dr || a.dc - b.dc);
  const M = offs.length;
  const oDr = new Int32Array(M), oDc = new Int32Array(M), oD2 = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    oDr[i] = offs[i].dr;
    oDc[i] = offs[i].dc;
    oD2[i] = offs[i].d2;
  }
  const parent = new Int32Array(N);
  const distParent = opts.returnTree ? new Float64Array(N) : undefined;
  const maxDist2 = maxDist * maxDist;
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const p = r * W + c;
      const dp = dens[p];
      const p0 = c0[p], p1 = c1[p], p2 = c2[p];
      let closest = Infinity;
      let best = p;
      for (let i = 0; i < M; i++) {
        if (oD2[i] > closest) break;
        const rr = r + oDr[i];
        if (rr < 0 || rr >= H) continue;
        const cc = c + oDc[i];
        if (cc < 0 || cc >= W) continue;
        const q = rr * W + cc;
        if (!(dens[q] > dp)) continue;
        const t0 = p0 - c0[q], t1 = p1 - c1[q], t2 = p2 - c2[q];
        const dri = oDr[i], dci = oDc[i];
        // same summation order as skimage: colour channels, then row², then col²
        const dist = t0 * t0 + t1 * t1 + t2 * t2 + dri * dri + dci * dci;
        if (dist < closest || (dist === closest && q < best)) {
          closest = dist;
          best = q;
        }
      }
      // skimage compares sqrt(closest) > max_dist; compare squared (monotone) except for rounding at equality.
      const cut = !(closest <= maxDist2) || Math.sqrt(closest) > maxDist;
      parent[p] = cut ? p : best;
      if (distParent) distParent[p] = Math.sqrt(closest);
    }
  }
  // ---- flatten forest (parents have strictly higher density, so chains end at roots)
  const root = new Int32Array(N).fill(-1);
  const stack = new Int32Array(N);
  for (let p = 0; p < N; p++) {
    if (root[p] >= 0) continue;
    let sp = 0;
    let q = p;
    while (root[q] < 0 && parent[q] !== q) {
      stack[sp++] = q;
      q = parent[q];
    }
    const rt = root[q] >= 0 ? root[q] : q;
    root[q] = rt;
    while (sp > 0) root[stack[--sp]] = rt;
  }
  const seg = relabelSequential(root, H, W);
  return opts.returnTree ? { ...seg, parent, distParent } : seg;
}
