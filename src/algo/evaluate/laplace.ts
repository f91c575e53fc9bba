// A fast solver for ROAD's imputation system (road.ts): (D − W) x = b over the missing pixels of an image, W the
// 8-neighbour weights between missing pixels, D the sum of the in-image neighbour weights (a masked 9-point graph
// Laplacian plus the known neighbours on the diagonal; symmetric positive definite as soon as one pixel is known).
// Conjugate gradients preconditioned by one algebraic-multigrid V-cycle: 2×2 pixel blocks aggregated level by level
// (piecewise-constant prolongation P, Galerkin coarse operator Pᵀ A P — again a 9-point operator on the half-size
// grid — with the coarse correction scaled by 1.8, the usual over-correction of unsmoothed aggregation), one forward
// Gauss-Seidel sweep before and one backward sweep after it (so the preconditioner is symmetric), a dense Cholesky
// solve on the coarsest level. Every level lives on a zero-padded grid (a missing neighbour reads 0), so the
// stencil loops have no branches. The C channels share the matrix and are solved as one multi-right-hand-side
// problem (values channel-major, c·m + u), each channel with its own CG scalars.
import { cholesky, choleskySolve } from '../lime/linalg.ts';

/** Coarsening stops at this many nodes (then a dense Cholesky factor). */
const COARSEST = 96;
/** Over-correction of the piecewise-constant coarse correction (11 CG iterations to 1e-6 at 224², 29 without). */
const OVER = 1.8;

/** One level: m nodes on an h × w grid stored padded ((h + 2) × (w + 2), interleaved channels). */
interface Level {
  m: number;
  h: number;
  w: number;
  pos: Int32Array; // padded grid index of each node
  diag: Float64Array;
  inv: Float64Array;
  nw: Float64Array; // m × 8 neighbour weights (the matrix entry is −nw; 0 where no node)
  off: Int32Array; // the 8 neighbour offsets in the padded grid
  agg: Int32Array; // node → coarse node (empty on the coarsest level)
  e: Float64Array; // correction: C padded grids
  rhs: Float64Array; // C × m
  res: Float64Array; // C × m
}

const DIRS: readonly (readonly [number, number])[] = [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]];
const slot = (dy: number, dx: number) => (dy + 1) * 3 + dx + 1 - (dy > 0 || (dy === 0 && dx > 0) ? 1 : 0);

function level(m: number, h: number, w: number, pos: Int32Array, diag: Float64Array, nw: Float64Array, C: number): Level {
  const W2 = w + 2;
  return {
    m, h, w, pos, diag, nw, inv: diag.map((d) => 1 / d), off: Int32Array.from(DIRS, ([dy, dx]) => dy * W2 + dx),
    agg: new Int32Array(0), e: new Float64Array((h + 2) * W2 * C), rhs: new Float64Array(m * C), res: new Float64Array(m * C),
  };
}

function coarsen(f: Level, C: number): Level {
  const h = (f.h + 1) >> 1, w = (f.w + 1) >> 1, W2 = w + 2, fW2 = f.w + 2;
  const cid = new Int32Array((h + 2) * W2).fill(-1);
  const fid = new Int32Array((f.h + 2) * fW2).fill(-1);
  const agg = new Int32Array(f.m);
  const pos: number[] = [];
  for (let u = 0; u < f.m; u++) {
    const p = f.pos[u];
    fid[p] = u;
    const q = ((((p / fW2) | 0) - 1) >> 1) * W2 + W2 + (((p % fW2) - 1) >> 1) + 1;
    if (cid[q] < 0) cid[q] = pos.push(q) - 1;
    agg[u] = cid[q];
  }
  f.agg = agg;
  const m = pos.length;
  const diag = new Float64Array(m);
  const nw = new Float64Array(m * 8);
  for (let u = 0; u < f.m; u++) {
    const I = agg[u], p = f.pos[u];
    diag[I] += f.diag[u];
    const pi = pos[I], yi = (pi / W2) | 0, xi = pi % W2;
    for (let k = 0; k < 8; k++) {
      const wk = f.nw[u * 8 + k];
      if (wk === 0) continue;
      const j = fid[p + DIRS[k][0] * fW2 + DIRS[k][1]];
      const J = agg[j];
      if (J === I) diag[I] -= wk;
      else nw[I * 8 + slot(((pos[J] / W2) | 0) - yi, (pos[J] % W2) - xi)] += wk;
    }
  }
  return level(m, h, w, Int32Array.from(pos), diag, nw, C);
}

export class MaskedLaplaceSolver {
  private levels: Level[] = [];
  private chol: Float64Array;
  private C: number;
  /** The unknown pixels (keep = 0), row-major: node u is pixel unknown[u]. */
  readonly unknown: Int32Array;

  /**
   * The system of the pixels with keep = 0 on an H × W image: each equals the weighted mean of its in-image
   * neighbours (`weights`: [dy, dx, w] for the 8 neighbours). The right-hand side (the known neighbours' weighted
   * values) is the caller's, channel-major (c·m + u) in the order of `unknown`.
   */
  constructor(H: number, W: number, keep: Uint8Array, weights: readonly (readonly [number, number, number])[], C: number) {
    this.C = C;
    const unknown: number[] = [];
    for (let i = 0; i < H * W; i++) if (!keep[i]) unknown.push(i);
    this.unknown = Int32Array.from(unknown);
    const m = unknown.length, W2 = W + 2;
    const diag = new Float64Array(m), nw = new Float64Array(m * 8);
    const pos = Int32Array.from(unknown, (p) => (((p / W) | 0) + 1) * W2 + (p % W) + 1);
    for (let u = 0; u < m; u++) {
      const y = (unknown[u] / W) | 0, x = unknown[u] % W;
      for (const [dy, dx, w] of weights) {
        const yy = y + dy, xx = x + dx;
        if (yy < 0 || xx < 0 || yy >= H || xx >= W) continue;
        diag[u] += w;
        if (!keep[yy * W + xx]) nw[u * 8 + slot(dy, dx)] = w;
      }
    }
    let l = level(m, H, W, pos, diag, nw, C);
    this.levels.push(l);
    while (l.m > COARSEST && (l.h > 1 || l.w > 1)) this.levels.push((l = coarsen(l, C)));
    this.chol = coarseFactor(l);
  }

  /** y = A g (g padded grids, y node vectors; channel-major). */
  private apply(l: Level, g: Float64Array, y: Float64Array): void {
    const nw = l.nw, m = l.m, G = g.length / this.C, pos = l.pos, diag = l.diag;
    const [o0, o1, o2, o3, o4, o5, o6, o7] = l.off;
    for (let c = 0; c < this.C; c++) {
      for (let u = 0, gb = c * G, yb = c * m; u < m; u++) {
        const i = gb + pos[u], k8 = u * 8;
        y[yb + u] = diag[u] * g[i] - nw[k8] * g[i + o0] - nw[k8 + 1] * g[i + o1] - nw[k8 + 2] * g[i + o2] - nw[k8 + 3] * g[i + o3]
          - nw[k8 + 4] * g[i + o4] - nw[k8 + 5] * g[i + o5] - nw[k8 + 6] * g[i + o6] - nw[k8 + 7] * g[i + o7];
      }
    }
  }

  private gaussSeidel(l: Level, forward: boolean): void {
    const e = l.e, r = l.rhs, nw = l.nw, m = l.m, G = e.length / this.C, pos = l.pos, inv = l.inv;
    const [o0, o1, o2, o3, o4, o5, o6, o7] = l.off;
    for (let c = 0; c < this.C; c++) {
      for (let s = 0, gb = c * G, rb = c * m; s < m; s++) {
        const u = forward ? s : m - 1 - s;
        const i = gb + pos[u], k8 = u * 8;
        e[i] = (r[rb + u] + nw[k8] * e[i + o0] + nw[k8 + 1] * e[i + o1] + nw[k8 + 2] * e[i + o2] + nw[k8 + 3] * e[i + o3]
          + nw[k8 + 4] * e[i + o4] + nw[k8 + 5] * e[i + o5] + nw[k8 + 6] * e[i + o6] + nw[k8 + 7] * e[i + o7]) * inv[u];
      }
    }
  }

  /** Node vector v (channel-major) → the node cells of padded grids g (scale·v added when `add`). */
  private toGrid(l: Level, v: Float64Array, g: Float64Array, add = false, scale = 1): void {
    const m = l.m, G = g.length / this.C, pos = l.pos;
    for (let c = 0; c < this.C; c++) {
      const gb = c * G, vb = c * m;
      if (add) for (let u = 0; u < m; u++) g[gb + pos[u]] += scale * v[vb + u];
      else for (let u = 0; u < m; u++) g[gb + pos[u]] = v[vb + u];
    }
  }

  /** l.e ≈ A⁻¹ l.rhs on level i (the grid's node cells are overwritten; its other cells stay 0). */
  private vcycle(i: number): void {
    const l = this.levels[i], C = this.C, m = l.m, G = l.e.length / C;
    if (i === this.levels.length - 1) {
      const e = l.res;
      for (let c = 0; c < C; c++) e.set(choleskySolve(this.chol, m, l.rhs.subarray(c * m, (c + 1) * m)), c * m);
      this.toGrid(l, e, l.e);
      return;
    }
    for (let c = 0; c < C; c++) for (let u = 0; u < m; u++) l.e[c * G + l.pos[u]] = 0;
    this.gaussSeidel(l, true);
    this.apply(l, l.e, l.res);
    const n = this.levels[i + 1], nm = n.m, agg = l.agg;
    n.rhs.fill(0);
    for (let c = 0; c < C; c++) for (let u = 0, b = c * m, cb = c * nm; u < m; u++) n.rhs[cb + agg[u]] += l.rhs[b + u] - l.res[b + u];
    this.vcycle(i + 1);
    const nG = n.e.length / C;
    for (let c = 0; c < C; c++) for (let u = 0, gb = c * G, nb = c * nG; u < m; u++) l.e[gb + l.pos[u]] += OVER * n.e[nb + n.pos[agg[u]]];
    this.gaussSeidel(l, false);
  }

  /** z ≈ A⁻¹ r by one V-cycle (the preconditioner; channel-major node vectors). */
  precondition(r: Float64Array, z: Float64Array): void {
    const f = this.levels[0], C = this.C, m = f.m, G = f.e.length / C;
    f.rhs.set(r);
    this.vcycle(0);
    for (let c = 0; c < C; c++) for (let u = 0; u < m; u++) z[c * m + u] = f.e[c * G + f.pos[u]];
  }

  /**
   * Solves A x = b (channel-major: x[c·m + u]) to a relative residual ‖b − A x‖ ≤ tol·‖b‖ per channel; `x` holds
   * the start (zeros, or a warm start) and receives the solution. Returns the number of iterations.
   */
  solve(b: Float64Array, x: Float64Array, tol: number, maxIter: number): number {
    const C = this.C, f = this.levels[0], m = f.m, N = m * C;
    if (m === 0) return 0;
    const r = new Float64Array(N), p = new Float64Array(N), ap = new Float64Array(N), z = new Float64Array(N);
    const grid = new Float64Array(f.e.length);
    const dot = (a: Float64Array, bb: Float64Array, c: number) => {
      let s = 0;
      for (let i = c * m, e = i + m; i < e; i++) s += a[i] * bb[i];
      return s;
    };
    const precondition = () => this.precondition(r, z);
    this.toGrid(f, x, grid);
    this.apply(f, grid, ap);
    for (let i = 0; i < N; i++) r[i] = b[i] - ap[i];
    const bn = Array.from({ length: C }, (_, c) => tol * tol * Math.max(dot(b, b, c), 1e-300));
    const done = Array.from({ length: C }, (_, c) => dot(r, r, c) <= bn[c]);
    precondition();
    p.set(z);
    const rz = Array.from({ length: C }, (_, c) => dot(r, z, c));
    let it = 0;
    while (it < maxIter && !done.every(Boolean)) {
      it++;
      this.toGrid(f, p, grid);
      this.apply(f, grid, ap);
      for (let c = 0; c < C; c++) {
        if (done[c]) continue;
        const pap = dot(p, ap, c);
        const alpha = pap === 0 ? 0 : rz[c] / pap;
        let rr = 0;
        for (let i = c * m, e = i + m; i < e; i++) {
          x[i] += alpha * p[i];
          r[i] -= alpha * ap[i];
          rr += r[i] * r[i];
        }
        if (rr <= bn[c]) done[c] = true;
      }
      if (done.every(Boolean)) break;
      precondition();
      for (let c = 0; c < C; c++) {
        if (done[c]) continue;
        const rzNew = dot(r, z, c);
        const beta = rz[c] === 0 ? 0 : rzNew / rz[c];
        for (let i = c * m, e = i + m; i < e; i++) p[i] = z[i] + beta * p[i];
        rz[c] = rzNew;
      }
    }
    return it;
  }
}

/** Dense Cholesky factor (lower, row-major m × m) of a level's matrix. */
function coarseFactor(l: Level): Float64Array {
  const m = l.m, W2 = l.w + 2;
  const id = new Map<number, number>();
  l.pos.forEach((p, u) => id.set(p, u));
  const a = new Float64Array(m * m);
  for (let u = 0; u < m; u++) {
    a[u * m + u] = l.diag[u];
    DIRS.forEach(([dy, dx], k) => {
      const j = id.get(l.pos[u] + dy * W2 + dx);
      if (j !== undefined) a[u * m + j] -= l.nw[u * 8 + k];
    });
  }
  // SPD in exact arithmetic (Pᵀ A P of an SPD A); a nearly singular one (few known pixels far away) gets a tiny
  // diagonal shift — it only preconditions, CG on the fine level keeps the answer exact.
  const shifted = a.slice();
  if (cholesky(a, m)) return a;
  let big = 0;
  for (let u = 0; u < m; u++) big = Math.max(big, shifted[u * m + u]);
  for (let u = 0; u < m; u++) shifted[u * m + u] += 1e-10 * big;
  if (!cholesky(shifted, m)) throw new RangeError('MaskedLaplaceSolver: the coarse system is not positive definite (no known pixel?)');
  return shifted;
}
