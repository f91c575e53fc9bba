// Exact per-unit top-quantile thresholds for Network Dissection.
//
// NetDissect-Lite (feature_operation.quantile_threshold) computes
//     np.percentile(features, 100·(1 − QUANTILE), axis=(0, 2, 3))
// i.e. numpy's default 'linear' percentile (virtual index (n − 1)·p between the sorted values) over all images and
// positions of each unit, exactly, on float64 copies of the float32 activations. (The original NetDissect used the
// approximate streaming sketch util/vecquantile.py; Lite replaced it with the exact percentile.) We compute the same
// number exactly while streaming over batches: the linear percentile at p = 1 − q only needs the sorted values from
// floor((n − 1)·p) upwards, i.e. the top k = n − floor((n − 1)·p) ≈ q·n + 1 values of each unit, which a selection
// buffer of 2k float32 per unit keeps (amortised O(1) per value; values ≤ the current k-th largest are skipped).
// Memory: 8·k bytes per unit, k ≈ q·N·H·W (Broden, q = 0.005: layer4 7×7 ≈ 15.5k values → 124 KB/unit, 63 MB for
// 512 units; layer2 28×28 ≈ 248k values → 2 MB/unit, 254 MB for 128 units). N (images) must be known up front.

/** numpy's linear-percentile position for n values at percentile 100·(1 − q): lower index and fraction. */
export function percentileIndex(n: number, q: number): { lo: number; hi: number; gamma: number } {
  // np.percentile(a, 100 * (1 - q)): the percentile is divided by 100, then the virtual index is
  // n·p + (1 + p·(1 − α − β)) − 1 with α = β = 1 (method 'linear'), evaluated in this order as numpy does.
  const pct = 100 * (1 - q);
  const p = pct / 100;
  const virt = n * p + (1 + p * (1 - 1 - 1)) - 1;
  if (virt >= n - 1) return { lo: n - 1, hi: n - 1, gamma: 0 };
  if (virt < 0) return { lo: 0, hi: 0, gamma: 0 };
  const lo = Math.floor(virt);
  return { lo, hi: lo + 1, gamma: virt - lo };
}

/** numpy's _lerp: a + (b − a)·t, or b − (b − a)·(1 − t) when t ≥ 0.5. */
export function lerp(a: number, b: number, t: number): number {
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** Exact np.percentile(values, 100·(1 − q)) (linear) of an array, by sorting a copy (reference / small inputs). */
export function percentileExact(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) throw new RangeError('percentile of no values');
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  const { lo, hi, gamma } = percentileIndex(n, q);
  return lerp(s[lo], s[hi], gamma);
}

// In-place quickselect: after it, a[k] is the k-th smallest of a[left..right] and a[left..k-1] ≤ a[k] ≤ a[k+1..right].
function select(a: Float32Array, left: number, right: number, k: number): void {
  while (right > left) {
    // median of three pivot
    const mid = (left + right) >> 1;
    let x = a[left];
    let y = a[mid];
    const z = a[right];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        x = a[i];
        a[i] = a[j];
        a[j] = x;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

export interface TopQuantileState {
  fill: Int32Array;
  cutoff: Float64Array;
  seen: Float64Array;
  values: Float32Array;
}

/**
 * Streaming exact top-quantile per unit. Feed every activation of a layer once (`addBatch` with NCHW batches or
 * `addUnitValues`), then `thresholds()` gives, per unit, np.percentile(values, 100·(1 − q)) (linear), as float64.
 */
export class TopQuantile {
  /** Values each unit will receive (images × H × W). */
  readonly total: number;
  /** Top values kept per unit. */
  readonly k: number;
  private readonly bufs: Float32Array[];
  private readonly fill: Int32Array;
  private readonly cutoff: Float64Array;
  private readonly seen: Float64Array;

  constructor(
    readonly units: number,
    /** Number of values per unit over the whole dataset (images × H × W). */
    total: number,
    readonly q = 0.005,
  ) {
    if (!(q > 0 && q < 1)) throw new RangeError(`quantile q must be in (0, 1), got ${q}`);
    if (!(Number.isInteger(total) && total > 0)) throw new RangeError(`quantile: total values per unit must be a positive integer, got ${total}`);
    this.total = total;
    const { lo } = percentileIndex(total, q);
    this.k = total - lo;
    const cap = Math.max(2 * this.k, 16);
    // one allocation for all units (views per unit): a large block is mapped from and returned to the OS as a whole, so
    // it does not stay resident after the selection (per-unit buffers below malloc's mmap threshold could)
    const all = new Float32Array(units * cap);
    this.bufs = Array.from({ length: units }, (_, u) => all.subarray(u * cap, (u + 1) * cap));
    this.fill = new Int32Array(units);
    this.cutoff = new Float64Array(units).fill(-Infinity);
    this.seen = new Float64Array(units);
  }

  /** Bytes the selection buffers of `units` units will hold for `total` values each at quantile q. */
  static bytesFor(units: number, total: number, q = 0.005): number {
    const k = total - percentileIndex(total, q).lo;
    return units * Math.max(2 * k, 16) * 4;
  }

  /** Bytes held by the selection buffers. */
  get bytes(): number {
    return this.bufs.reduce((s, b) => s + b.byteLength, 0);
  }

  /** The selection's state (kept values of every unit in buffer order, fill, cutoff, values seen), for a checkpoint. */
  state(): TopQuantileState {
    const values = new Float32Array(this.fill.reduce((s, f) => s + f, 0));
    for (let u = 0, o = 0; u < this.units; o += this.fill[u++]) values.set(this.bufs[u].subarray(0, this.fill[u]), o);
    return { fill: this.fill.slice(), cutoff: this.cutoff.slice(), seen: this.seen.slice(), values };
  }

  /** Restores a state from `state()` of a selection with the same units, total and q (it then continues identically). */
  restore(s: TopQuantileState): void {
    if (s.fill.length !== this.units) throw new RangeError(`quantile: state of ${s.fill.length} units for ${this.units}`);
    for (let u = 0, o = 0; u < this.units; o += s.fill[u++]) {
      if (s.fill[u] > this.bufs[u].length) throw new RangeError(`quantile: state keeps ${s.fill[u]} values of unit ${u}, buffer holds ${this.bufs[u].length}`);
      this.bufs[u].set(s.values.subarray(o, o + s.fill[u]));
    }
    this.fill.set(s.fill);
    this.cutoff.set(s.cutoff);
    this.seen.set(s.seen);
  }

  /** Add `count` values of one unit from `data` starting at `offset` (contiguous). */
  addUnitValues(unit: number, data: ArrayLike<number>, offset: number, count: number): void {
    const buf = this.bufs[unit];
    let fill = this.fill[unit];
    let cut = this.cutoff[unit];
    const cap = buf.length;
    for (let i = 0; i < count; i++) {
      const v = data[offset + i];
      if (v > cut) {
        buf[fill++] = v;
        if (fill === cap) {
          // keep the top k: select so that buf[cap − k ..] are the k largest
          select(buf, 0, cap - 1, cap - this.k);
          buf.copyWithin(0, cap - this.k, cap);
          fill = this.k;
          let mn = Infinity;
          for (let j = 0; j < fill; j++) if (buf[j] < mn) mn = buf[j];
          cut = mn;
        }
      } else if (v !== v) {
        throw new RangeError(`quantile: NaN activation in unit ${unit}`);
      }
    }
    this.fill[unit] = fill;
    this.cutoff[unit] = cut;
    this.seen[unit] += count;
  }

  /**
   * `addUnitValues` for a map whose maximum is known: when `max` ≤ the unit's current cutoff, none of its values can be
   * kept, so they are only counted (a NaN maximum, which the caller's `>` comparisons would not produce, is scanned).
   */
  addUnitValuesMax(unit: number, data: ArrayLike<number>, offset: number, count: number, max: number): void {
    if (max <= this.cutoff[unit]) this.seen[unit] += count;
    else this.addUnitValues(unit, data, offset, count);
  }

  /** Add an NCHW batch of activations [n, units, h, w]. */
  addBatch(data: ArrayLike<number>, n: number, h: number, w: number): void {
    const hw = h * w;
    if (data.length !== n * this.units * hw) {
      throw new RangeError(`quantile: batch has ${data.length} values, expected ${n}×${this.units}×${h}×${w}`);
    }
    for (let b = 0; b < n; b++) {
      for (let u = 0; u < this.units; u++) this.addUnitValues(u, data, (b * this.units + u) * hw, hw);
    }
  }

  /**
   * Per-unit thresholds (float64). Throws if a unit did not receive exactly `total` values. `total` may be less than
   * the announced total (e.g. images that failed to load while streaming): the buffers then kept more than needed, and
   * the result is the exact percentile of the `total` values received.
   */
  thresholds(total = this.total): Float64Array {
    if (!(Number.isInteger(total) && total > 0 && total <= this.total)) throw new RangeError(`quantile: total ${total} must be in 1..${this.total}`);
    const out = new Float64Array(this.units);
    const { lo, hi, gamma } = percentileIndex(total, this.q);
    for (let u = 0; u < this.units; u++) {
      if (this.seen[u] !== total) {
        throw new RangeError(`quantile: unit ${u} received ${this.seen[u]} values, expected ${total}`);
      }
      const kept = Float64Array.from(this.bufs[u].subarray(0, this.fill[u])).sort();
      // the kept values are the top `kept.length` (≥ k(total) whenever total ≥ k, k growing with total) of the unit,
      // ascending; sorted index s of the whole array maps to kept index s − (total − kept.length).
      const base = total - kept.length;
      const a = kept[lo - base];
      const b = kept[hi - base];
      out[u] = lerp(a, b, gamma);
    }
    return out;
  }
}

/** Per-image per-unit maxima [n·units] of an NCHW batch (used to skip (image, unit) pairs with max ≤ T_k). */
export function imageMaxima(data: ArrayLike<number>, n: number, units: number, h: number, w: number): Float32Array {
  const hw = h * w;
  const out = new Float32Array(n * units);
  for (let i = 0; i < n * units; i++) {
    let m = -Infinity;
    const o = i * hw;
    for (let j = 0; j < hw; j++) if (data[o + j] > m) m = data[o + j];
    out[i] = m;
  }
  return out;
}
