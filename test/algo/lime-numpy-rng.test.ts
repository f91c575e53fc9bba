// rng: 'numpy' — LIME's draws as lime 0.2.0.1 + scikit-image 0.19.3 make them, against
// test/fixtures/numpy-random/lime-small.json (made by numpy/skimage themselves: scripts/fixtures/numpy_random.py):
// a new LimeImageExplainer(random_state=17) explaining a 64×64 image with random_seed=None.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { explainInstance } from '../../src/algo/lime/explain.ts';
import { quickshift } from '../../src/algo/lime/segment/index.ts';
import { quickshiftNoise, samplingRng } from '../../src/algo/lime/rng.ts';
import { sampleData } from '../../src/algo/lime/perturb.ts';

const fx = JSON.parse(readFileSync(new URL('../fixtures/numpy-random/lime-small.json', import.meta.url), 'utf8'));
const image = { data: Uint8Array.from(fx.image as number[]), height: fx.height as number, width: fx.width as number };
const N = fx.height * fx.width;
const sha = (a: Float64Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

test("numpy rng: random_seed = RandomState(17).randint(0, 1000), then the data matrix (row 0 ones) as lime's", () => {
  const rng = samplingRng('numpy', fx.random_state);
  assert.equal(rng.int(1000), fx.random_seed);
  const data = sampleData(rng, fx.num_samples, fx.n_features);
  assert.equal([...data].join(''), fx.data);
});

test("numpy rng: quickshift's noise field is skimage's default_rng(random_seed).normal(scale=1e-5, size=(H, W))", () => {
  const noise = quickshiftNoise('numpy', fx.random_seed, N);
  assert.deepEqual([...noise.subarray(0, 8)], fx.noise_first);
  assert.equal(sha(noise), fx.noise_sha256);
});

test("numpy rng: quickshift(4, 200, 0.2) gives skimage's segments on flat blocks (ties broken by the noise)", () => {
  const s = quickshift(image, { kernel_size: 4, max_dist: 200, ratio: 0.2, random_seed: fx.random_seed, rng: 'numpy' });
  assert.equal(s.nSegments, fx.n_features);
  assert.deepEqual([...s.segments], fx.segments);
});

test('numpy rng: explainInstance draws in lime\'s order (random_seed, segments, data matrix)', async () => {
  const exp = await explainInstance({
    image,
    classifierFn: (_b, n) => new Float32Array(n * 2).fill(0.5),
    random_state: fx.random_state,
    rng: 'numpy',
    num_samples: fx.num_samples,
    top_labels: 1,
    keep_data: true,
  });
  assert.equal(exp.random_seed, fx.random_seed);
  assert.deepEqual([...exp.segments], fx.segments);
  assert.equal([...exp.data!].join(''), fx.data);
});
