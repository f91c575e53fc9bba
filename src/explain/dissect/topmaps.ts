// Top-N images per unit with their feature maps (label-units' report data). No Arrow import: tally worker threads
// load it.

/**
 * Top-N images per unit by per-image maximum (ties: the lower image index, i.e. the first seen when images arrive in
 * increasing order, as TopImages), keeping a copy of each kept image's feature map for the report.
 */
export class TopMaps {
  readonly vals: Float64Array;
  readonly ids: Int32Array;
  readonly size: Int32Array;
  readonly maps: Float32Array;
  private readonly low: Int32Array;
  constructor(
    readonly units: number,
    readonly n: number,
    readonly hw: number,
  ) {
    this.vals = new Float64Array(units * n);
    this.ids = new Int32Array(units * n);
    this.size = new Int32Array(units);
    this.maps = new Float32Array(units * n * hw);
    this.low = new Int32Array(units);
  }

  /** Offer image `image` (increasing across calls) for unit u with maximum v and map src[off .. off + hw). */
  offer(u: number, image: number, v: number, src: Float32Array, off: number): void {
    const { n, hw } = this;
    const o = u * n;
    let slot: number;
    if (this.size[u] < n) slot = o + this.size[u]++;
    else {
      slot = this.low[u];
      if (!(v > this.vals[slot])) return; // a later image with an equal value ranks lower
    }
    this.vals[slot] = v;
    this.ids[slot] = image;
    this.maps.set(src.subarray(off, off + hw), slot * hw);
    if (this.size[u] === n) this.findLow(u);
  }

  /** Restores the entries of a TopMaps of the same shape (its vals, ids, size, maps: a checkpoint). */
  restore(s: { vals: Float64Array; ids: Int32Array; size: Int32Array; maps: Float32Array }): void {
    this.vals.set(s.vals);
    this.ids.set(s.ids);
    this.size.set(s.size);
    this.maps.set(s.maps);
    for (let u = 0; u < this.units; u++) if (this.size[u] === this.n) this.findLow(u);
  }

  /** The lowest-ranked entry of a full unit: smallest value, on ties the larger image index. */
  private findLow(u: number): void {
    const o = u * this.n;
    let s = o;
    for (let i = o + 1; i < o + this.n; i++) {
      const a = this.vals[i];
      const b = this.vals[s];
      if (a < b || (a === b && this.ids[i] > this.ids[s])) s = i;
    }
    this.low[u] = s;
  }

  /** Entries of unit u, best first: [slot index, image, value]. */
  ranked(u: number): { slot: number; image: number; value: number }[] {
    const o = u * this.n;
    const out: { slot: number; image: number; value: number }[] = [];
    for (let i = 0; i < this.size[u]; i++) out.push({ slot: o + i, image: this.ids[o + i], value: this.vals[o + i] });
    return out.sort((a, b) => b.value - a.value || a.image - b.image);
  }
}
