// xoshiro128** (Blackman & Vigna 2018): the one PRNG core of the project (LIME sampling, dataset sampling, the
// synthetic generator). Pure 32-bit integer arithmetic through Math.imul, so a seed gives the same sequence on every
// machine. Subclasses differ only in how they fill the 128-bit state from their seeds.

export class Xoshiro128 {
  protected a = 0;
  protected b = 0;
  protected c = 0;
  protected d = 0;

  /** Sets the state; the all-zero state is the one forbidden state (replaced by a = 1). */
  protected setState(a: number, b: number, c: number, d: number): void {
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    if ((a | b | c | d) === 0) this.a = 1;
  }

  /** Next raw 32-bit output (unsigned). */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform integer in [0, n) (1 ≤ n ≤ 2^32), unbiased (rejection sampling on the 32-bit output). */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296)) throw new RangeError(`Rng.int: n must be in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextU32();
    while (x >= limit);
    return x % n;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
