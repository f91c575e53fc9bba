// Seeded PRNG used by dataset sampling and the synthetic generator: xoshiro128** (Blackman & Vigna, 2018; 32-bit
// state words), its 128-bit state filled by splitmix32 from the seed words. Integer arithmetic only (Math.imul), so
// the same seed gives the same sequence on every platform.

import { Xoshiro128 } from '../algo/xoshiro.ts';

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng extends Xoshiro128 {
  /** Seeds from one or more 32-bit integers (e.g. `new Rng(seed, itemIndex)` for an independent per-item stream). */
  constructor(...seeds: number[]) {
    super();
    const st = { s: 0x5eed1234 };
    for (const s of seeds) {
      if (!Number.isFinite(s)) throw new Error(`Rng: seed must be a finite number, got ${s}`);
      // low and high 32-bit words of the (integer part of the) seed, each mixed in
      st.s = (st.s ^ (s >>> 0)) | 0;
      st.s = splitmix32(st) | 0;
      st.s = (st.s ^ (Math.floor(s / 4294967296) >>> 0)) | 0;
      st.s = splitmix32(st) | 0;
    }
    this.setState(splitmix32(st), splitmix32(st), splitmix32(st), splitmix32(st));
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }


  /** One element of `arr`, uniformly. */
  pick<T>(arr: readonly T[]): T {
    return arr[this.int(arr.length)];
  }
}

/** `k` distinct indices of [0, n) sampled uniformly (partial Fisher–Yates), returned in increasing order. */
export function sampleIndices(n: number, k: number, seed: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return Array.from(idx.subarray(0, k)).sort((a, b) => a - b);
}
