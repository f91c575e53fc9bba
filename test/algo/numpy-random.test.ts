// numpy's random streams (src/algo/numpy-random.ts) against draws made by numpy 1.24 itself
// (test/fixtures/numpy-random/*.json, written by scripts/fixtures/numpy_random.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MT19937, NumpyGenerator, NumpyRandomState, seedSequenceState } from '../../src/algo/numpy-random.ts';

const fx = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/numpy-random/${name}`, import.meta.url), 'utf8'));
const sha = (a: ArrayBufferView) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const { streams } = fx('streams.json');

test('MT19937: the reference output of init_genrand(5489) (Matsumoto & Nishimura: 10000th output 4123659995)', () => {
  const mt = new MT19937(5489);
  let v = 0;
  for (let i = 0; i < 10000; i++) v = mt.nextU32();
  assert.equal(v, 4123659995);
});

test('RandomState(s).randint(0, 2, 10000) and randint(0, 1000) equal numpy (first values and SHA-256 of 10,000)', () => {
  let n = 0;
  for (const s of streams) {
    if (s.randint2_sha256 === undefined) continue;
    const bits = new NumpyRandomState(s.seed).bits(new Uint8Array(10000));
    assert.deepEqual([...bits.subarray(0, 64)], s.randint2_first, `seed ${s.seed}`);
    assert.equal(sha(bits), s.randint2_sha256, `seed ${s.seed}`);
    const rs = new NumpyRandomState(s.seed);
    assert.deepEqual(Array.from({ length: 20 }, () => rs.randint(0, 1000)), s.randint1000_first, `seed ${s.seed}`);
    n++;
  }
  assert.equal(n, 5);
});

test('PCG64(SeedSequence(s)).random_raw and default_rng(s).normal(scale=1e-5, size=10000) equal numpy', () => {
  for (const s of streams) {
    const g = new NumpyGenerator(BigInt(s.seed));
    const raw = new BigUint64Array(10000);
    for (let i = 0; i < raw.length; i++) raw[i] = g.nextU64();
    assert.deepEqual([...raw.subarray(0, 8)].map((v) => v.toString(16).padStart(16, '0')), s.pcg64_raw_first, `seed ${s.seed}`);
    assert.equal(sha(raw), s.pcg64_raw_sha256, `seed ${s.seed}`);
    const nor = new NumpyGenerator(BigInt(s.seed)).normal(0, 1e-5, 10000);
    assert.deepEqual([...nor.subarray(0, 8)], s.normal_1e5_first, `seed ${s.seed}`);
    assert.equal(sha(nor), s.normal_1e5_sha256, `seed ${s.seed}`);
  }
});

test('seedSequenceState: entropy 0 is the one word [0]; words beyond the pool are mixed in', () => {
  assert.deepEqual([...seedSequenceState(0, 4)], [...seedSequenceState(0n, 4)]);
  assert.notDeepEqual([...seedSequenceState(2n ** 140n, 4)], [...seedSequenceState(0n, 4)]);
});

test('randint errors and the no-draw case (high − low = 1)', () => {
  const rs = new NumpyRandomState(3);
  assert.equal(rs.randint(4, 5), 4);
  assert.equal(new NumpyRandomState(3).randint(0, 1000), rs.randint(0, 1000)); // nothing was drawn for [4, 5)
  assert.throws(() => rs.randint(2, 2), /low < high/);
  assert.throws(() => new NumpyRandomState(-1), /seed must be/);
});
