// numpy's random streams, bit for bit (numpy 1.17–1.26; checked against numpy 1.24 by the fixtures of
// scripts/fixtures/numpy_random.py), for `rng: numpy` in LIME:
// - RandomState(seed): MT19937 seeded by init_genrand (numpy's mt19937_seed for an integer seed), and its legacy
//   randint(low, high[, size]) for int64 (the default dtype 'l'): numpy's masked rejection on 32-bit draws
//   (random_bounded_uint64_fill with use_masked: v = next_uint32 & mask until v ≤ high − 1 − low; one 32-bit draw per
//   try, none when high − low = 1).
// - default_rng(seed) = Generator(PCG64(SeedSequence(seed))): SeedSequence's hash-mix entropy pool (pool_size 4)
//   → generate_state(4, uint64) → pcg64_set_seed(state = w0·2⁶⁴ + w1, inc = w2·2⁶⁴ + w3); PCG64 (XSL-RR 128/64,
//   output of the stepped state); normal(loc, scale) = loc + scale·random_standard_normal, numpy's 256-level ziggurat
//   (tables in ziggurat-tables.ts, copied from numpy by the fixture script).
// Pure: integer arithmetic through Math.imul / BigInt; Math.exp and Math.log1p enter only the ziggurat's rare
// rejection steps (a last-ulp difference from C's libm could matter there only on an exact tie).
import { FI_DOUBLE, KI_DOUBLE, WI_DOUBLE } from './ziggurat-tables.ts';

/** MT19937 (Matsumoto & Nishimura), init_genrand seeding as numpy's mt19937_seed. */
export class MT19937 {
  private readonly mt = new Uint32Array(624);
  private pos = 624;

  constructor(seed: number) {
    if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) throw new RangeError(`RandomState: seed must be an integer in [0, 2^32 − 1], got ${seed}`);
    let s = seed >>> 0;
    for (let i = 0; i < 624; i++) {
      this.mt[i] = s;
      const x = s ^ (s >>> 30);
      s = (Math.imul(1812433253, x) + i + 1) >>> 0;
    }
  }

  private generate(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.pos = 0;
  }

  /** Next 32-bit output (unsigned). */
  nextU32(): number {
    if (this.pos >= 624) this.generate();
    let y = this.mt[this.pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

/** numpy's legacy RandomState(seed): the draws LIME makes from it. */
export class NumpyRandomState {
  private readonly mt: MT19937;

  constructor(seed: number) {
    this.mt = new MT19937(seed);
  }

  /** randint(low, high) for int64: masked rejection (high − low ≤ 2^32). */
  randint(low: number, high: number): number {
    const rng = high - 1 - low;
    if (!(Number.isInteger(low) && Number.isInteger(high) && rng >= 0 && rng <= 0xffffffff)) throw new RangeError(`randint: need integers low < high, high − low ≤ 2^32 (got ${low}, ${high})`);
    if (rng === 0) return low;
    if (rng === 0xffffffff) return low + this.mt.nextU32();
    let mask = rng;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    let v: number;
    do v = (this.mt.nextU32() & mask) >>> 0;
    while (v > rng);
    return low + v;
  }

  /** randint(0, n): the Rng interface LIME's sampling uses. */
  int(n: number): number {
    return this.randint(0, n);
  }

  /** randint(0, 2, out.length) into `out` (one 32-bit draw per value: its lowest bit). */
  bits(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i++) out[i] = this.mt.nextU32() & 1;
    return out;
  }
}

// ---- SeedSequence (numpy/random/bit_generator.pyx)
const INIT_A = 0x43b0d7e5, MULT_A = 0x931e8875, INIT_B = 0x8b51f9dd, MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd, MIX_MULT_R = 0x4973f715;

/** SeedSequence(entropy).generate_state(nWords32) for a non-negative integer entropy (no spawn key, pool size 4). */
export function seedSequenceState(entropy: number | bigint, nWords32: number): Uint32Array {
  let e = BigInt(entropy);
  if (e < 0n) throw new RangeError(`SeedSequence: entropy must be non-negative, got ${entropy}`);
  const words: number[] = [];
  if (e === 0n) words.push(0);
  while (e > 0n) {
    words.push(Number(e & 0xffffffffn));
    e >>= 32n;
  }
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    value = (value ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    return (value ^ (value >>> 16)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (r ^ (r >>> 16)) >>> 0;
  };
  const pool = new Uint32Array(4);
  for (let i = 0; i < 4; i++) pool[i] = hashmix(i < words.length ? words[i] : 0);
  for (let s = 0; s < 4; s++) for (let d = 0; d < 4; d++) if (s !== d) pool[d] = mix(pool[d], hashmix(pool[s]));
  for (let s = 4; s < words.length; s++) for (let d = 0; d < 4; d++) pool[d] = mix(pool[d], hashmix(words[s]));
  const out = new Uint32Array(nWords32);
  let hc = INIT_B;
  for (let i = 0; i < nWords32; i++) {
    let v = (pool[i % 4] ^ hc) >>> 0;
    hc = Math.imul(hc, MULT_B) >>> 0;
    v = Math.imul(v, hc) >>> 0;
    out[i] = (v ^ (v >>> 16)) >>> 0;
  }
  return out;
}

// ---- PCG64 (numpy/random/src/pcg64)
const M128 = (1n << 128n) - 1n;
const PCG_MULT = 0x2360ed051fc65da44385df649fccf645n;
const ZIGGURAT_NOR_R = 3.6541528853610087963519472518; // numpy ziggurat_constants.h
const ZIGGURAT_NOR_INV_R = 0.27366123732975827203338247596;
const KI = Float64Array.from({ length: 256 }, (_, i) => KI_DOUBLE[2 * i] * 4294967296 + KI_DOUBLE[2 * i + 1]); // < 2^52: exact

/** numpy's default_rng(seed): PCG64 seeded through SeedSequence, with Generator.normal. */
export class NumpyGenerator {
  private state: bigint;
  private readonly inc: bigint;
  /** The last 64-bit output as two unsigned 32-bit halves. */
  private hi = 0;
  private lo = 0;

  constructor(seed: number | bigint) {
    const w = seedSequenceState(seed, 8);
    const u64 = (k: number) => (BigInt(w[2 * k + 1]) << 32n) | BigInt(w[2 * k]); // little-endian uint32 pairs
    const initstate = (u64(0) << 64n) | u64(1);
    const initseq = (u64(2) << 64n) | u64(3);
    this.inc = ((initseq << 1n) | 1n) & M128;
    this.state = 0n;
    this.step();
    this.state = (this.state + initstate) & M128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & M128;
  }

  /** Next 64-bit output into this.hi / this.lo (XSL-RR of the stepped state). */
  private next64(): void {
    this.step();
    const s = this.state;
    const x = ((s >> 64n) ^ s) & 0xffffffffffffffffn;
    const rot = Number(s >> 122n);
    const r = rot === 0 ? x : ((x >> BigInt(rot)) | (x << BigInt(64 - rot))) & 0xffffffffffffffffn;
    this.hi = Number(r >> 32n);
    this.lo = Number(r & 0xffffffffn);
  }

  /** random_raw(): the next 64-bit output. */
  nextU64(): bigint {
    this.next64();
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** next_double: (next64 >> 11) · 2⁻⁵³. */
  nextDouble(): number {
    this.next64();
    return (this.hi * 2097152 + (this.lo >>> 11)) / 9007199254740992;
  }

  /** random_standard_normal (ziggurat). */
  standardNormal(): number {
    for (;;) {
      this.next64();
      const idx = this.lo & 0xff;
      const sign = (this.lo >>> 8) & 1;
      const rabs = (this.hi & 0x1fffffff) * 8388608 + (this.lo >>> 9); // bits 9..60 of r
      let x = rabs * WI_DOUBLE[idx];
      if (sign) x = -x;
      if (rabs < KI[idx]) return x;
      if (idx === 0) {
        const neg = (this.lo >>> 17) & 1; // (rabs >> 8) & 1
        for (;;) {
          const xx = -ZIGGURAT_NOR_INV_R * Math.log1p(-this.nextDouble());
          const yy = -Math.log1p(-this.nextDouble());
          if (yy + yy > xx * xx) return neg ? -(ZIGGURAT_NOR_R + xx) : ZIGGURAT_NOR_R + xx;
        }
      }
      if ((FI_DOUBLE[idx - 1] - FI_DOUBLE[idx]) * this.nextDouble() + FI_DOUBLE[idx] < Math.exp(-0.5 * x * x)) return x;
    }
  }

  /** normal(loc, scale, size=n), row-major. */
  normal(loc: number, scale: number, n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = loc + scale * this.standardNormal();
    return out;
  }
}
