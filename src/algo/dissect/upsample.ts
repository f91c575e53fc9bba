// Upsample-and-threshold of one unit map, as spans of output pixels: exactly the pixels p with
// `Resizer.plane(map)[p] > T` (src/algo/resize.ts: PIL's order — horizontal pass stored float32, then vertical, each
// tap sum in float64 stored float32; cv2 mode: float32 products), computed without visiting every output pixel.
//
// Why it is exact: every output value is a convex combination of its non-zero-weight taps (a 2×2 source block), so
//  (1) output rows / segments none of whose taps exceed T cannot exceed T (not visited);
//  (2) within a "segment" (output columns x sharing the same two source columns j0, j1) of an output row y, the real
//      bilinear value v(x) = cw0(x)·R(j0) + cw1(x)·R(j1), with R(j) = w0(y)·s[i0][j] + w1(y)·s[i1][j], is monotone in
//      x (cw1 grows with x), so its extremes are at the segment's ends and {x : v(x) > T} is one interval;
//  (3) the float32 value the resizer computes differs from v by at most 8·2⁻²⁴·M (M = max |s| of the map: two float32
//      roundings of convex combinations, cv2's rounded products included) — we use a band ε = 2⁻²⁰·M.
// So pixels with v > T + ε are hits, pixels with v ≤ T − ε are not, and only the pixels in the band (usually none or
// one per crossing) are evaluated with the resizer's exact float arithmetic. Segments whose ends are both above the
// band are whole spans; where R(j0) ≈ R(j1) (monotonicity not guaranteed at this precision) every pixel is evaluated.
// Shrinking tables (more than 2 taps) fall back to the dense resize.
import { getResizer, type Resizer, type ResizeMode } from '../resize.ts';

export class SparseUpsampler {
  /** Spans of the last `spans` call: (row, x0, x1) triples, x1 exclusive, rows ascending, x ascending within a row. */
  readonly spanBuf: Int32Array;
  /** Output pixels covered by the last `spans` call. */
  pixels = 0;
  private readonly r: Resizer;
  private readonly rStart: Int32Array;
  private readonly rEnd: Int32Array;
  /** Per source column j: segments [sFirst, sEnd) in which j is a non-zero-weight tap. */
  private readonly sFirst: Int32Array;
  private readonly sEnd: Int32Array;
  /** Per segment: output columns [x0, x1) and its two source columns. */
  private readonly segX0: Int32Array;
  private readonly segX1: Int32Array;
  private readonly segJ0: Int32Array;
  private readonly segJ1: Int32Array;
  private readonly rowHas: Int32Array;
  private readonly rowMax: Float64Array;
  /** Per source row its columns above T; the merged columns of an output row. */
  private readonly rowCols: Int32Array;
  private readonly merged: Int32Array;
  /** R(j) of the current output row, valid where rStamp[j] === stamp. */
  private readonly R: Float64Array;
  private readonly rStamp: Int32Array;
  private stamp = 0;
  private readonly dense: Float32Array | null;
  /** cv2 mode: float32 arithmetic as Resizer does for it. */
  private readonly f32: boolean;

  constructor(
    readonly fh: number,
    readonly fw: number,
    readonly H: number,
    readonly W: number,
    mode: ResizeMode,
  ) {
    this.r = getResizer(fh, fw, H, W, mode);
    this.spanBuf = new Int32Array(3 * H * W);
    const ranges = (t: Resizer['rows'], n: number): [Int32Array, Int32Array] => {
      const st = new Int32Array(n).fill(t.outSize);
      const en = new Int32Array(n);
      for (let o = 0; o < t.outSize; o++) {
        for (let k = 0; k < t.taps; k++) {
          if (t.w[o * t.taps + k] === 0) continue;
          const i = t.idx[o * t.taps + k];
          if (o < st[i]) st[i] = o;
          if (o + 1 > en[i]) en[i] = o + 1;
        }
      }
      return [st, en];
    };
    [this.rStart, this.rEnd] = ranges(this.r.rows, fh);
    const [cStart, cEnd] = ranges(this.r.cols, fw);
    this.rowHas = new Int32Array(fh);
    this.rowMax = new Float64Array(fh);
    this.rowCols = new Int32Array(fh * fw);
    this.merged = new Int32Array(fw);
    this.R = new Float64Array(fw);
    this.rStamp = new Int32Array(fw);
    this.f32 = mode === 'cv2';
    this.dense = this.r.rows.taps === 2 && this.r.cols.taps === 2 ? null : new Float32Array(H * W);
    // segments: maximal runs of output columns with the same tap pair
    const cIdx = this.r.cols.idx;
    const x0s: number[] = [];
    const segOf = new Int32Array(W);
    if (!this.dense) {
      for (let x = 0; x < W; x++) {
        if (x === 0 || cIdx[2 * x] !== cIdx[2 * x - 2] || cIdx[2 * x + 1] !== cIdx[2 * x - 1]) x0s.push(x);
        segOf[x] = x0s.length - 1;
      }
    }
    const nSeg = x0s.length;
    this.segX0 = Int32Array.from(x0s);
    this.segX1 = new Int32Array(nSeg);
    this.segJ0 = new Int32Array(nSeg);
    this.segJ1 = new Int32Array(nSeg);
    for (let g = 0; g < nSeg; g++) {
      this.segX1[g] = g + 1 < nSeg ? x0s[g + 1] : W;
      this.segJ0[g] = cIdx[2 * x0s[g]];
      this.segJ1[g] = cIdx[2 * x0s[g] + 1];
    }
    this.sFirst = new Int32Array(fw);
    this.sEnd = new Int32Array(fw);
    for (let j = 0; j < fw && !this.dense; j++) {
      if (cStart[j] >= cEnd[j]) continue;
      this.sFirst[j] = segOf[cStart[j]];
      this.sEnd[j] = segOf[cEnd[j] - 1] + 1;
    }
  }

  /**
   * The output pixels with upsampled value > T of the map at `src[base ..]`, as spans in `spanBuf` (returns their
   * number; `pixels` is their total length).
   */
  spans(src: ArrayLike<number>, base: number, T: number): number {
    const { fh, fw, H, W } = this;
    this.ns = 0;
    this.pixels = 0;
    if (this.dense) {
      const d = this.r.plane(src, base, this.dense, 0);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          if (!(d[y * W + x] > T)) continue;
          let e = x + 1;
          while (e < W && d[y * W + e] > T) e++;
          this.emit(y, x, e);
          x = e;
        }
      }
      return this.ns;
    }
    const { rowHas, rStart, rEnd, rowCols, merged, R, rStamp, sFirst, sEnd, segX0, segX1, segJ0, segJ1 } = this;
    // per source row: its columns above T (ascending) in rowCols[i·fw ..], their count in rowHas[i]; M = max |s|
    const rowMax = this.rowMax;
    let M = 0;
    for (let i = 0; i < fh; i++) {
      const o = base + i * fw;
      let mx = -Infinity;
      let mn = Infinity;
      for (let j = 0; j < fw; j++) {
        const v = src[o + j];
        if (v > mx) mx = v;
        if (v < mn) mn = v;
      }
      let c = 0;
      if (mx > T) for (let j = 0, r = i * fw; j < fw; j++) if (src[o + j] > T) rowCols[r + c++] = j;
      rowHas[i] = c;
      rowMax[i] = mx;
      if (mx > M) M = mx;
      if (-mn > M) M = -mn;
    }
    const eps = M * 2 ** -20;
    const flat = M * 2 ** -10;
    const rIdx = this.r.rows.idx;
    const rW = this.r.rows.w;
    const cW = this.r.cols.w;
    let y = 0;
    let lastKey = -1;
    let mlen = 0;
    for (let i = 0; i < fh; i++) {
      if (!rowHas[i] || rStart[i] >= rEnd[i]) continue;
      for (y = Math.max(y, rStart[i]); y < rEnd[i]; y++) {
        const i0 = rIdx[2 * y];
        const i1 = rIdx[2 * y + 1];
        const w0 = rW[2 * y];
        const w1 = rW[2 * y + 1];
        // the source columns above T in a row with a non-zero weight (ascending); the same for consecutive rows with
        // the same taps
        const key = ((i0 * fh + i1) * 2 + (w0 !== 0 ? 1 : 0)) * 2 + (w1 !== 0 ? 1 : 0);
        if (key !== lastKey) {
          lastKey = key;
          mlen = 0;
          const n0 = w0 !== 0 ? rowHas[i0] : 0;
          const n1 = w1 !== 0 ? rowHas[i1] : 0;
          const o0 = i0 * fw;
          const o1 = i1 * fw;
          let p0 = 0;
          let p1 = 0;
          while (p0 < n0 || p1 < n1) {
            let j: number;
            if (p1 >= n1 || (p0 < n0 && rowCols[o0 + p0] < rowCols[o1 + p1])) j = rowCols[o0 + p0++];
            else if (p0 >= n0 || rowCols[o1 + p1] < rowCols[o0 + p0]) j = rowCols[o1 + p1++];
            else {
              j = rowCols[o0 + p0++];
              p1++;
            }
            if (sFirst[j] < sEnd[j]) merged[mlen++] = j;
          }
        }
        if (mlen === 0) continue;
        // every value of this output row is a convex combination of w0·s[i0][·] + w1·s[i1][·]
        if (w0 * rowMax[i0] + w1 * rowMax[i1] <= T - eps) continue;
        const stamp = ++this.stamp;
        const a0 = base + i0 * fw;
        const a1 = base + i1 * fw;
        let gDone = -1;
        for (let m = 0; m < mlen; m++) {
          const j = merged[m];
          for (let g = Math.max(sFirst[j], gDone + 1); g < sEnd[j]; g++) {
            gDone = g;
            const xs = segX0[g];
            const xe = segX1[g];
            const j0 = segJ0[g];
            const j1 = segJ1[g];
            // R(j) = w0·s[i0][j] + w1·s[i1][j] of this output row, computed once per column
            if (rStamp[j0] !== stamp) {
              rStamp[j0] = stamp;
              R[j0] = w0 * src[a0 + j0] + w1 * src[a1 + j0];
            }
            if (rStamp[j1] !== stamp) {
              rStamp[j1] = stamp;
              R[j1] = w0 * src[a0 + j1] + w1 * src[a1 + j1];
            }
            const R0 = R[j0];
            const R1 = R[j1];
            const vA = cW[2 * xs] * R0 + cW[2 * xs + 1] * R1;
            const vB = cW[2 * xe - 2] * R0 + cW[2 * xe - 1] * R1;
            const lo = vA < vB ? vA : vB;
            const hi = vA < vB ? vB : vA;
            if (hi <= T - eps) continue; // no pixel of the segment can exceed T
            if (lo > T + eps) {
              this.emit(y, xs, xe); // every pixel does
              continue;
            }
            const d = R1 - R0;
            if (!(d > flat || d < -flat)) {
              // nearly flat: monotonicity of the float64 estimate is not guaranteed, evaluate every pixel
              this.exactRange(src, base, T, y, xs, xe);
            } else if (d > 0) {
              // increasing: sure hits from `sure` on, the band [maybe, sure) evaluated exactly
              const sure = this.firstAbove(xs, xe, R0, R1, T + eps, false);
              const maybe = this.firstAbove(xs, sure, R0, R1, T - eps, false);
              this.exactRange(src, base, T, y, maybe, sure);
              this.emit(y, sure, xe);
            } else {
              // decreasing: sure hits before `sure`, the band [sure, maybe) evaluated exactly
              const sure = this.firstAbove(xs, xe, R0, R1, T + eps, true);
              const maybe = this.firstAbove(sure, xe, R0, R1, T - eps, true);
              this.emit(y, xs, sure);
              this.exactRange(src, base, T, y, sure, maybe);
            }
          }
        }
      }
    }
    return this.ns;
  }

  private ns = 0;

  /** Adds [x0, x1) of row y, merged with the previous span when adjacent. */
  private emit(y: number, x0: number, x1: number): void {
    if (x1 <= x0) return;
    const b = this.spanBuf;
    const ns = this.ns;
    this.pixels += x1 - x0;
    if (ns > 0 && b[3 * ns - 3] === y && b[3 * ns - 1] === x0) b[3 * ns - 1] = x1;
    else {
      b[3 * ns] = y;
      b[3 * ns + 1] = x0;
      b[3 * ns + 2] = x1;
      this.ns = ns + 1;
    }
  }

  /**
   * First x in [xs, xe) where the float64 estimate cw0(x)·R0 + cw1(x)·R1 is above `thr` (`below`: not above), xe if
   * none; the predicate must be monotone (false … true) along the range.
   */
  private firstAbove(xs: number, xe: number, R0: number, R1: number, thr: number, below: boolean): number {
    const cW = this.r.cols.w;
    let a = xs;
    let b = xe;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (cW[2 * mid] * R0 + cW[2 * mid + 1] * R1 > thr !== below) b = mid;
      else a = mid + 1;
    }
    return a;
  }

  /** Emits the pixels of [xs, xe) on output row y whose value, in the resizer's own float arithmetic, is > T. */
  private exactRange(src: ArrayLike<number>, base: number, T: number, y: number, xs: number, xe: number): void {
    if (xe <= xs) return;
    const { fw } = this;
    const fr = Math.fround;
    const rIdx = this.r.rows.idx;
    const rW = this.r.rows.w;
    const cIdx = this.r.cols.idx;
    const cW = this.r.cols.w;
    const a = base + rIdx[2 * y] * fw;
    const b = base + rIdx[2 * y + 1] * fw;
    const w0 = rW[2 * y];
    const w1 = rW[2 * y + 1];
    for (let x = xs; x < xe; x++) {
      const j0 = cIdx[2 * x];
      const j1 = cIdx[2 * x + 1];
      const c0 = cW[2 * x];
      const c1 = cW[2 * x + 1];
      let v: number;
      if (this.f32) {
        const t0 = fr(fr(src[a + j0] * c0) + fr(src[a + j1] * c1));
        const t1 = fr(fr(src[b + j0] * c0) + fr(src[b + j1] * c1));
        v = fr(fr(t0 * w0) + fr(t1 * w1));
      } else {
        const t0 = fr(src[a + j0] * c0 + src[a + j1] * c1);
        const t1 = fr(src[b + j0] * c0 + src[b + j1] * c1);
        v = fr(t0 * w0 + t1 * w1);
      }
      if (v > T) this.emit(y, x, x + 1);
    }
  }
}

const upsamplers = new Map<string, SparseUpsampler>();
/** A cached SparseUpsampler for these sizes and mode. */
export function upsamplerFor(fh: number, fw: number, H: number, W: number, mode: ResizeMode): SparseUpsampler {
  const key = `${fh},${fw},${H},${W},${mode}`;
  let u = upsamplers.get(key);
  if (!u) {
    if (upsamplers.size > 64) upsamplers.clear();
    u = new SparseUpsampler(fh, fw, H, W, mode);
    upsamplers.set(key, u);
  }
  return u;
}
