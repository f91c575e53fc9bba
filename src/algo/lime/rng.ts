// Seeded PRNG for LIME: xoshiro128** (Blackman & Vigna 2018) seeded through splitmix32, so the same seed gives the
// same segmentation tie-breaking noise and the same perturbation matrix on every machine (pure 32-bit integer
// arithmetic through Math.imul; no platform-dependent state).
// Departure from lime by default: lime draws from numpy's RandomState (MT19937), so with rng 'xoshiro' a lime run and
// an xai-pipeline run with the same seed give different (but equally distributed) samples; rng 'numpy'
// (../numpy-random.ts) reproduces lime's streams bit for bit.

import { Xoshiro128 } from '../xoshiro.ts';
import { NumpyGenerator, NumpyRandomState } from '../numpy-random.ts';

/**
 * Which random streams LIME draws from: 'xoshiro' (the project's generator, default) or 'numpy' (lime's own:
 * RandomState(random_state) for random_seed and the data matrix, default_rng(random_seed) for quickshift's noise).
 */
export type RngKind = 'xoshiro' | 'numpy';
export const RNG_KINDS: readonly RngKind[] = ['xoshiro', 'numpy'];

/** The draws LIME's sampling makes: random_seed in [0, n) and the 0/1 data matrix. */
export interface SamplingRng {
  int(n: number): number;
  bits(out: Uint8Array): Uint8Array;
}

/** The sampling stream of an explainer with `random_state` = seed (lime: one RandomState(seed) per explainer). */
export function samplingRng(kind: RngKind, seed: number): SamplingRng {
  return kind === 'numpy' ? new NumpyRandomState(seed) : new Rng(seed, STREAM.sampling);
}

/** quickshift's tie-breaking noise N(0, 1e-5) over H×W (row-major); 'numpy': skimage 0.19.3's default_rng(seed).normal. */
export function quickshiftNoise(kind: RngKind, seed: number, n: number): Float64Array {
  if (kind === 'numpy') return new NumpyGenerator(seed).normal(0, 1e-5, n);
  const rng = new Rng(seed, STREAM.segmentation);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 1e-5 * rng.normal();
  return out;
}

/** splitmix32 step (32-bit SplitMix variant: golden-ratio increment, hash-prospector finaliser). */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** Well-known stream ids, so independent consumers of one seed never share a stream. */
export const STREAM = { sampling: 0, segmentation: 1, auto: 2 } as const;

export class Rng extends Xoshiro128 {
  private spare = NaN; // cached second Box–Muller deviate

  /**
   * @param seed any integer (taken modulo 2^32; negative and > 2^32 values are folded in).
   * @param stream independent sub-stream id (0, 1, 2, …); the pair (seed, stream) fixes the sequence.
   */
  constructor(seed: number, stream = 0) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: seed must be a finite number, got ${seed}`);
    const hi = Math.floor(seed / 4294967296) | 0;
    const st = { s: (seed >>> 0) ^ Math.imul(hi, 0x85ebca6b) ^ Math.imul(stream + 1, 0x27d4eb2f) };
    super();
    this.setState(splitmix32(st), splitmix32(st), splitmix32(st), splitmix32(st));
  }

  /** Uniform double in [0, 1) with 53 random bits (two outputs: high 27 bits, then 26 bits). */
  uniform(): number {
    const x = this.nextU32() >>> 5;
    const y = this.nextU32() >>> 6;
    return (x * 67108864 + y) / 9007199254740992;
  }

  /**
   * Fill `out` with independent Bernoulli(0.5) values (0/1). Each 32-bit output supplies 32 draws, least-significant
   * bit first; a fill always starts on a fresh 32-bit word.
   */
  bits(out: Uint8Array): Uint8Array {
    let word = 0;
    for (let i = 0; i < out.length; i++) {
      const k = i & 31;
      if (k === 0) word = this.nextU32();
      out[i] = (word >>> k) & 1;
    }
    return out;
  }

  /** Standard normal deviate (Box–Muller on two uniforms; the second deviate of each pair is cached). */
  normal(): number {
    if (this.spare === this.spare) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * u2;
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
}
