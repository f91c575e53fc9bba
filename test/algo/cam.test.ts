import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/model/types.ts';
import {
  ablationCamWeights, aggregateLayers, eigenCam, gradCamPlusPlusWeights, gradCamWeights, gradientCam, JET_RGB, jet,
  minMaxInPlace, postprocessCam, scoreCamWeights, showCamOnImage, weightedSum, xGradCamWeights,
  eigenProjection, topEigenvector,
} from '../../src/algo/cam/index.ts';

const T = (data: number[], shape: number[]): Tensor => ({ data: Float32Array.from(data), shape });

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, msg = ''): void {
  assert.equal(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${msg}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

// a tiny deterministic PRNG
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// A: 1×2×2×2; channel 0 = [[1,2],[3,4]], channel 1 = [[0,1],[1,0]]
const A = T([1, 2, 3, 4, 0, 1, 1, 0], [1, 2, 2, 2]);
// g: channel 0 mean 0.25, channel 1 mean −0.5
const G = T([0.1, 0.3, 0.5, 0.1, -1, 0, 0, -1], [1, 2, 2, 2]);

test('Grad-CAM on a 2×2×2 tensor by hand', () => {
  close(gradCamWeights(G), [0.25, -0.5], 1e-7);
  // cam = 0.25·A0 − 0.5·A1 = [[0.25, 0], [0.25, 1]]
  const raw = gradientCam('gradcam', A, G);
  close(raw, [0.25, 0, 0.25, 1], 1e-7);
  // ReLU, min-max (min 0, max 1 → /(1 + 1e-7)), no resize at the same size
  close(postprocessCam(raw, 1, 2, 2, 2, 2), [0.25 / (1 + 1e-7), 0, 0.25 / (1 + 1e-7), 1 / (1 + 1e-7)], 1e-7);
});

test('logit = mean of one channel → Grad-CAM equals that channel\'s (normalised) map', () => {
  const r = rng(7);
  const c = 4, h = 3, w = 5, k = 2;
  const acts = new Float32Array(c * h * w).map(() => r() * 3);
  // d(mean A_k)/dA = 1/(h·w) on channel k, 0 elsewhere
  const grads = new Float32Array(c * h * w);
  grads.fill(1 / (h * w), k * h * w, (k + 1) * h * w);
  const cam = postprocessCam(gradientCam('gradcam', T([...acts], [1, c, h, w]), T([...grads], [1, c, h, w])), 1, h, w, h, w);
  const expected = minMaxInPlace(acts.slice(k * h * w, (k + 1) * h * w), 1, h * w);
  close(cam, expected, 1e-6);
});

test('Grad-CAM++ weights by hand (library eq. 19 with Σ_ij A and eps 1e-6)', () => {
  // one channel: A = [[1,0],[0,1]] (Σ A = 2), g = [[1,−1],[0,2]]
  const a = T([1, 0, 0, 1], [1, 1, 2, 2]);
  const g = T([1, -1, 0, 2], [1, 1, 2, 2]);
  // α(1) = 1/(2 + 2·1 + 1e-6); α(−1) irrelevant (ReLU(g) = 0); α(0) = 0; α(2) = 4/(8 + 2·8 + 1e-6)
  const expected = 1 / (4 + 1e-6) + (2 * 4) / (24 + 1e-6);
  close(gradCamPlusPlusWeights(a, g), [expected], 1e-6);
});

test('XGrad-CAM, HiResCAM, LayerCAM by hand', () => {
  const a = T([1, 0, 0, 1], [1, 1, 2, 2]);
  const g = T([1, -1, 0, 2], [1, 1, 2, 2]);
  close(xGradCamWeights(a, g), [3 / (2 + 1e-7)], 1e-6);
  // HiResCAM: Σ_k g⊙A; channel 0 = A0 ⊙ G0, channel 1 = A1 ⊙ G1
  close(gradientCam('hirescam', A, G), [1 * 0.1 + 0, 2 * 0.3 + 1 * 0, 3 * 0.5 + 1 * 0, 4 * 0.1 + 0], 1e-6);
  // LayerCAM: Σ_k ReLU(g)⊙A; channel 1 gradients are ≤ 0
  close(gradientCam('layercam', A, G), [0.1, 0.6, 1.5, 0.4], 1e-6);
  // XGrad-CAM cam = w·A
  close(gradientCam('xgradcam', a, g), [3 / (2 + 1e-7), 0, 0, 3 / (2 + 1e-7)], 1e-6);
  assert.throws(() => gradientCam('gradcam', A, T([1, 2], [1, 2, 1, 1])), /gradients/);
});

test('weightedSum over batches', () => {
  const acts = T([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
  close(weightedSum(acts, [1, 0, 0.5, 2]), [1, 2, 0.5 * 5 + 2 * 7, 0.5 * 6 + 2 * 8], 1e-6);
});

test('EigenCAM on a rank-1 (after centring) activation matrix, both Gram sides', () => {
  for (const [c, h, w] of [[5, 2, 2], [2, 3, 3]] as const) {
    const a = c === 5 ? [0.5, -1, 2, 0.25, 1.5] : [2, -1]; // Σ a > 0
    const b = Array.from({ length: h * w }, (_, p) => (p * 7) % 5 - 1.3);
    const offs = [3, -2, 1, 0.5, 4];
    const data: number[] = [];
    for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) data.push(a[k] * b[p] + offs[k]);
    const mb = b.reduce((s, x) => s + x, 0) / b.length;
    const na = Math.hypot(...a);
    // X = (b − mean b) aᵀ → v₁ = ±a/|a| → projection = ±(b − mean b)·|a| (the sign is LAPACK's: numpy fixtures in
    // cam-svd-sign.test.ts and cam-eigen-fixture.test.ts)
    const expected = b.map((x) => (x - mb) * na);
    const got = eigenCam(T(data, [1, c, h, w]));
    const s = Math.sign(got.reduce((acc, x, i) => acc + x * expected[i], 0));
    close(got, expected.map((x) => s * x), 1e-4, `c=${c}`);
  }
});

test('EigenCAM on random activations: the projection is σ₁·u₁ of the centred matrix', () => {
  const r = rng(3);
  const c = 6, h = 3, w = 4, hw = h * w;
  const data = Array.from({ length: c * hw }, () => r() * 2 - 0.5);
  const proj = eigenCam(T(data, [1, c, h, w]));
  // centred X (hw × c)
  const X: number[][] = Array.from({ length: hw }, () => new Array(c).fill(0));
  for (let k = 0; k < c; k++) {
    let m = 0;
    for (let p = 0; p < hw; p++) m += data[k * hw + p];
    m /= hw;
    for (let p = 0; p < hw; p++) X[p][k] = data[k * hw + p] - m;
  }
  // v = Xᵀp / |p| must satisfy XᵀX v = σ² v with σ = |p| and σ the largest singular value (checked by power iteration)
  const norm = Math.hypot(...proj);
  const v = new Array(c).fill(0);
  for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) v[k] += X[p][k] * proj[p];
  for (let k = 0; k < c; k++) v[k] /= norm * norm;
  const XtXv = new Array(c).fill(0);
  for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) for (let j = 0; j < c; j++) XtXv[k] += X[p][k] * X[p][j] * v[j];
  close(XtXv, v.map((x) => x * norm * norm), 1e-4);
  let z = new Array(c).fill(1);
  for (let it = 0; it < 500; it++) {
    const y = new Array(c).fill(0);
    for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) for (let j = 0; j < c; j++) y[k] += X[p][k] * X[p][j] * z[j];
    const n = Math.hypot(...y);
    z = y.map((x) => x / n);
  }
  const Xz = X.map((row) => row.reduce((s, x, j) => s + x * z[j], 0));
  assert.ok(Math.abs(Math.hypot(...Xz) - norm) < 1e-4, `σ₁ ${Math.hypot(...Xz)} vs ${norm}`);
  assert.ok(v.reduce((s, x) => s + x, 0) >= 0, 'orientation Σ v₁ ≥ 0');
});

// Linear head: logit_c = Σ_k β[c][k]·mean(A_k) + bias_c
function linearHead(beta: number[][], bias: number[], calls: number[]) {
  return async (acts: Tensor): Promise<Tensor> => {
    const [n, c, h, w] = acts.shape;
    calls.push(n);
    const k = beta.length;
    const out = new Float32Array(n * k);
    for (let b = 0; b < n; b++) {
      for (let cls = 0; cls < k; cls++) {
        let s = bias[cls];
        for (let ch = 0; ch < c; ch++) {
          let m = 0;
          for (let i = 0; i < h * w; i++) m += acts.data[(b * c + ch) * h * w + i];
          s += beta[cls][ch] * (m / (h * w));
        }
        out[b * k + cls] = s;
      }
    }
    return { data: out, shape: [n, k] };
  };
}

test('Ablation-CAM weights with a linear head (activations ≥ 0 → channels zeroed)', async () => {
  const c = 5, h = 2, w = 2;
  const r = rng(11);
  const acts = new Float32Array(2 * c * h * w).map(() => r() * 2);
  acts[0] = 0; // min 0 → the library zeroes
  acts[c * h * w + 3] = 0;
  const beta = [[1, -2, 0.5, 3, 1], [0.2, 0.1, -1, 2, 4]];
  const bias = [1, 2];
  const calls: number[] = [];
  const head = linearHead(beta, bias, calls);
  const targets = [0, 1];
  const orig = await head({ data: acts, shape: [2, c, h, w] });
  calls.length = 0;
  const scores = [orig.data[0], orig.data[3]];
  const res = await ablationCamWeights({ activations: { data: acts, shape: [2, c, h, w] }, targets, forwardFrom: head, scores, batchSize: 2 });
  // exactly ceil(5/2) = 3 forwards per image with 2, 2, 1 rows
  assert.deepEqual(calls, [2, 2, 1, 2, 2, 1]);
  assert.equal(res.forwards, 6);
  for (let b = 0; b < 2; b++) {
    for (let k = 0; k < c; k++) {
      let m = 0;
      for (let i = 0; i < h * w; i++) m += acts[(b * c + k) * h * w + i];
      m /= h * w;
      const expected = (beta[targets[b]][k] * m) / scores[b];
      assert.ok(Math.abs(res.weights[b * c + k] - expected) < 1e-5, `w[${b},${k}] ${res.weights[b * c + k]} vs ${expected}`);
    }
  }
  // without scores: one extra forward of the unablated activations
  calls.length = 0;
  const res2 = await ablationCamWeights({ activations: { data: acts, shape: [2, c, h, w] }, targets, forwardFrom: head });
  assert.equal(res2.forwards, 1 + 2); // batch 32 ≥ 5 channels: one ablation forward per image
  close(res2.weights, res.weights, 1e-6);
});

test('Ablation-CAM ablation values: library (min − k·1e7 down the batch), min-1e7, zero', async () => {
  const c = 3, h = 1, w = 2;
  const acts = Float32Array.from([-1, 2, 0.5, 1.5, 3, 1]); // min −1 ≠ 0
  const beta = [[1e-7, 2e-7, -1e-7]];
  const calls: number[] = [];
  const head = linearHead(beta, [1], calls);
  const y = (await head({ data: acts, shape: [1, c, h, w] })).data[0];
  const mean = (k: number) => (acts[2 * k] + acts[2 * k + 1]) / 2;
  const check = async (ablation: 'library' | 'min-1e7' | 'zero', value: (row: number) => number) => {
    const res = await ablationCamWeights({ activations: { data: acts, shape: [1, c, h, w] }, targets: [0], forwardFrom: head, scores: [y], batchSize: 2, ablation });
    for (let k = 0; k < c; k++) {
      const yk = y - beta[0][k] * mean(k) + beta[0][k] * value(k % 2);
      const expected = (y - yk) / y;
      assert.ok(Math.abs(res.weights[k] - expected) < 1e-5, `${ablation} w[${k}] ${res.weights[k]} vs ${expected}`);
    }
  };
  await check('library', (row) => Math.fround(-1 - (row + 1) * 1e7));
  await check('min-1e7', () => Math.fround(-1 - 1e7));
  await check('zero', () => 0);
});

test('Score-CAM with a known forward', async () => {
  // input: all ones [1, 3, 4, 4]; forward: logits [Σ x, −Σ x]
  const input = T(new Array(48).fill(1), [1, 3, 4, 4]);
  const calls: number[] = [];
  const forward = async (b: Tensor): Promise<Tensor> => {
    const n = b.shape[0];
    calls.push(n);
    const per = b.data.length / n;
    const out = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < per; j++) s += b.data[i * per + j];
      out[2 * i] = s;
      out[2 * i + 1] = -s;
    }
    return { data: out, shape: [n, 2] };
  };
  // channel 0 = [[0,1],[0,1]] → align-corners upsample to 4×4 = columns 0, 1/3, 2/3, 1 → min-max unchanged
  // (÷ (1 + 1e-8)) → masked sum = 3 channels × 4 rows × 2 = 24; channel 1 constant 5 → normalised to 0 → sum 0
  const acts = T([0, 1, 0, 1, 5, 5, 5, 5], [1, 2, 2, 2]);
  const res = await scoreCamWeights({ input, activations: acts, targets: [0], forward, batchSize: 1 });
  assert.deepEqual(calls, [1, 1]);
  close(res.maskedScores, [24 / (1 + 1e-8), 0], 1e-4);
  const e = Math.exp(-24);
  close(res.weights, [1 / (1 + e), e / (1 + e)], 1e-9);
  calls.length = 0;
  const res16 = await scoreCamWeights({ input, activations: acts, targets: [1], forward });
  assert.deepEqual(calls, [2]); // default batch 16: one forward for 2 channels
  close(res16.maskedScores, [-24, 0], 1e-4);
});

test('post-processing: ReLU, min-max before a cv2-style resize; layer aggregation', () => {
  // raw 1×2 [−1, 3] → ReLU [0, 3] → min-max [0, 3/(3 + 1e-7)] → resize 1×4: [0, .25, .75, 1]·v
  const v = Math.fround(3 / Math.fround(3 + 1e-7));
  close(postprocessCam(Float32Array.from([-1, 3]), 1, 1, 2, 1, 4), [0, 0.25 * v, 0.75 * v, v], 1e-6);
  // min-max subtracts the minimum first: [2, 4] → [0, 2/(2 + 1e-7)]
  close(postprocessCam(Float32Array.from([2, 4]), 1, 1, 2, 1, 2), [0, 2 / (2 + 1e-7)], 1e-7);
  // two layers: mean then min-max again
  const l1 = Float32Array.from([0, 1, 0.5, 0.5]);
  const l2 = Float32Array.from([0, 0, 1, 0.5]);
  // mean = [0, .5, .75, .5] → /(.75 + 1e-7)
  close(aggregateLayers([l1, l2], 1, 2, 2), [0, 0.5 / 0.75, 1, 0.5 / 0.75], 1e-6);
});

test('jet colour map equals cv2.COLORMAP_JET (spot values from cv2 4.6, RGB)', () => {
  const at = (i: number) => [JET_RGB[3 * i], JET_RGB[3 * i + 1], JET_RGB[3 * i + 2]];
  assert.deepEqual(at(0), [0, 0, 128]);
  assert.deepEqual(at(1), [0, 0, 132]);
  assert.deepEqual(at(32), [0, 0, 255]);
  assert.deepEqual(at(96), [2, 255, 254]);
  assert.deepEqual(at(128), [130, 255, 126]);
  assert.deepEqual(at(159), [254, 255, 1]);
  assert.deepEqual(at(160), [255, 252, 0]);
  assert.deepEqual(at(224), [252, 0, 0]);
  assert.deepEqual(at(255), [128, 0, 0]);
  assert.deepEqual(jet(1), [128, 0, 0]);
});

test('showCamOnImage equals show_cam_on_image(use_rgb=True) (reference from cv2 4.6 + numpy)', () => {
  const img = [75, 149, 224, 122, 231, 65, 57, 18, 161, 4, 45, 148, 112, 48, 131, 249, 251, 27, 192, 115, 119, 101, 214, 59, 149, 191, 106, 164, 30, 185, 77, 21, 75, 90, 165, 133, 213, 109, 226, 10, 83, 49, 97, 241, 34, 41, 104, 218, 2, 210, 199, 100, 10, 119, 179, 210, 40, 174, 142, 214];
  const mask = [0.7575966119766235, 0.6912714838981628, 0.9129741191864014, 0.8228071331977844, 0.17906269431114197, 0.7482242584228516, 0.0866813212633133, 0.42585623264312744, 0.39675188064575195, 0.20216809213161469, 0.9379051327705383, 0.09477667510509491, 0.00489941518753767, 0.3229207992553711, 0.9907447099685669, 0.2646951377391815, 0.8306942582130432, 0.1731136441230774, 0.5863783359527588, 0.958409309387207];
  const out = [166, 136, 113, 190, 211, 32, 140, 9, 81, 131, 51, 74, 56, 50, 195, 255, 193, 13, 97, 58, 169, 76, 237, 134, 86, 225, 172, 82, 53, 222, 136, 10, 37, 45, 83, 180, 107, 55, 181, 5, 143, 153, 119, 121, 17, 20, 123, 239, 130, 130, 100, 50, 29, 189, 198, 235, 41, 175, 71, 108];
  assert.deepEqual(Array.from(showCamOnImage(Uint8Array.from(img), 4, 5, mask)), out);
  // image_weight 1 → the image rescaled by its max
  const gray = Uint8Array.from([51, 51, 51, 102, 102, 102]);
  assert.deepEqual(Array.from(showCamOnImage(gray, 1, 2, [0, 1], 1)), [127, 127, 127, 255, 255, 255]);
  assert.throws(() => showCamOnImage(gray, 1, 2, [0, 1], 2), /image_weight/);
});

test('default targets (argmax, first on ties) and one-hot gradient weights', async () => {
  const { argmaxTargets, oneHotWeights } = await import('../../src/algo/cam/index.ts');
  assert.deepEqual(argmaxTargets(T([1, 3, 3, 0, -1, -2], [2, 3])), [1, 0]);
  assert.deepEqual(Array.from(oneHotWeights([1, 0], 3)), [0, 1, 0, 1, 0, 0]);
  assert.throws(() => oneHotWeights([3], 3), /outside 0..2/);
});

describe('EigenCAM eigen-solver against a brute-force Jacobi reference', () => {
  /** Cyclic Jacobi eigen-decomposition of a symmetric n×n matrix: eigenvalues and eigenvectors (columns of V). */
  function jacobi(m: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
    const a = Float64Array.from(m);
    const v = new Float64Array(n * n);
    for (let i = 0; i < n; i++) v[i * n + i] = 1;
    let fro = 0;
    for (let i = 0; i < n * n; i++) fro += a[i] * a[i];
    for (let sweep = 0; sweep < 60; sweep++) {
      let off = 0;
      for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
      if (off <= 1e-34 * fro) break;
      for (let p = 0; p < n; p++) {
        for (let q = p + 1; q < n; q++) {
          const apq = a[p * n + q];
          if (Math.abs(apq) < 1e-300) continue;
          const th = (a[q * n + q] - a[p * n + p]) / (2 * apq);
          const t = (th >= 0 ? 1 : -1) / (Math.abs(th) + Math.sqrt(th * th + 1));
          const c = 1 / Math.sqrt(t * t + 1);
          const s = t * c;
          for (let k = 0; k < n; k++) { // columns p, q of A·R
            const akp = a[k * n + p], akq = a[k * n + q];
            a[k * n + p] = c * akp - s * akq;
            a[k * n + q] = s * akp + c * akq;
          }
          for (let k = 0; k < n; k++) { // rows p, q of Rᵀ·(A·R)
            const apk = a[p * n + k], aqk = a[q * n + k];
            a[p * n + k] = c * apk - s * aqk;
            a[q * n + k] = s * apk + c * aqk;
          }
          for (let k = 0; k < n; k++) {
            const vkp = v[k * n + p], vkq = v[k * n + q];
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
          }
        }
      }
    }
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = a[i * n + i];
    return { values, vectors: v };
  }

  /** Top eigenpair of a symmetric matrix by Jacobi, checked by its residual. */
  function jacobiTop(g: Float64Array, n: number): { vector: Float64Array; value: number; second: number } {
    const { values, vectors } = jacobi(g, n);
    const order = [...values.keys()].sort((i, j) => values[j] - values[i]);
    const top = order[0];
    const vector = Float64Array.from({ length: n }, (_, i) => vectors[i * n + top]);
    let res = 0;
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += g[i * n + k] * vector[k];
      res = Math.max(res, Math.abs(acc - values[top] * vector[i]));
    }
    assert.ok(res <= 1e-12 * values[top], `reference residual ${res}`);
    return { vector, value: values[top], second: n > 1 ? values[order[1]] : 0 };
  }

  const gauss = (r: () => number) => () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

  /** n×r matrix (row-major) with orthonormal columns, orthogonal to the ones vector when `centred`. */
  function orthonormal(n: number, r: number, g: () => number, centred: boolean): Float64Array {
    const cols: Float64Array[] = [];
    if (centred) cols.push(new Float64Array(n).fill(1 / Math.sqrt(n)));
    const start = cols.length;
    while (cols.length < start + r) {
      const x = Float64Array.from({ length: n }, g);
      for (let pass = 0; pass < 2; pass++) {
        for (const q of cols) {
          let d = 0;
          for (let i = 0; i < n; i++) d += q[i] * x[i];
          for (let i = 0; i < n; i++) x[i] -= d * q[i];
        }
      }
      const nr = Math.hypot(...x);
      cols.push(x.map((e) => e / nr));
    }
    const out = new Float64Array(n * r);
    for (let j = 0; j < r; j++) for (let i = 0; i < n; i++) out[i * r + j] = cols[start + j][i];
    return out;
  }

  /** Centred X (hw × c, row-major, column sums 0) with singular values s (length r ≤ min(hw − 1, c)). */
  function designed(hw: number, c: number, s: number[], seed: number): Float64Array {
    const g = gauss(rng(seed));
    const r = s.length;
    const u = orthonormal(hw, r, g, true);
    const v = orthonormal(c, r, g, false);
    const x = new Float64Array(hw * c);
    for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) {
      let acc = 0;
      for (let j = 0; j < r; j++) acc += u[p * r + j] * s[j] * v[k * r + j];
      x[p * c + k] = acc;
    }
    return x;
  }

  /** Spectrum with λ₂/λ₁ = ratio (σ₂ = √ratio·σ₁), then geometric decay. */
  const spectrum = (r: number, ratio: number) => Array.from({ length: r }, (_, j) => (j === 0 ? 3 : j === 1 ? 3 * Math.sqrt(ratio) : 2.5 * 0.85 ** j));

  /** Reference projection X·v₁ (Σ v₁ ≥ 0) of a centred X (hw × c) through Jacobi on XᵀX. */
  function referenceProjection(x: Float64Array, hw: number, c: number): Float64Array {
    const g = new Float64Array(c * c);
    for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) {
      let acc = 0;
      for (let p = 0; p < hw; p++) acc += x[p * c + i] * x[p * c + j];
      g[i * c + j] = acc;
    }
    const { vector: v } = jacobiTop(g, c);
    const sign = v.reduce((a, b) => a + b, 0) < 0 ? -1 : 1;
    const proj = new Float64Array(hw);
    for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) proj[p] += x[p * c + k] * sign * v[k];
    return proj;
  }

  const relErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let e = 0, nb = 0;
    for (let i = 0; i < b.length; i++) {
      e += (a[i] - b[i]) ** 2;
      nb += b[i] ** 2;
    }
    return Math.sqrt(e / nb);
  };

  // [c, h, w, λ₂/λ₁ or 0 for a random (non-designed) matrix]
  const shapes: [number, number, number, number][] = [
    [40, 4, 4, 0], [24, 6, 6, 0], [64, 7, 7, 0], [16, 9, 9, 0], [48, 5, 5, 0.999], [20, 6, 6, 0.999], [30, 3, 3, 0.999],
  ];

  test('topEigenvector on both Gram sides: projection to 1e-8 relative (incl. λ₂/λ₁ = 0.999)', () => {
    for (const [c, h, w, ratio] of shapes) {
      const hw = h * w;
      let x: Float64Array;
      if (ratio > 0) x = designed(hw, c, spectrum(Math.min(hw - 1, c), ratio), c * 31 + hw);
      else {
        const r = rng(c * 7 + hw);
        x = Float64Array.from({ length: hw * c }, () => r() * 2 - 0.3);
      }
      const ref = referenceProjection(x, hw, c);
      // XᵀX side: projection X·v
      const gc = new Float64Array(c * c);
      for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) for (let p = 0; p < hw; p++) gc[i * c + j] += x[p * c + i] * x[p * c + j];
      const top = topEigenvector(gc, c);
      const refTop = jacobiTop(gc, c);
      if (ratio > 0) assert.ok(Math.abs(refTop.second / refTop.value - ratio) < 1e-9, `designed gap ${refTop.second / refTop.value}`);
      assert.ok(Math.abs(top.value - refTop.value) <= 1e-12 * refTop.value, `λ₁ ${top.value} vs ${refTop.value}`);
      assert.ok(Math.abs(Math.hypot(...top.vector) - 1) < 1e-12, 'unit vector');
      const sc = top.vector.reduce((a, b) => a + b, 0) < 0 ? -1 : 1;
      const pc = new Float64Array(hw);
      for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) pc[p] += x[p * c + k] * sc * top.vector[k];
      assert.ok(relErr(pc, ref) <= 1e-8, `XᵀX side c=${c} hw=${hw} ratio=${ratio}: ${relErr(pc, ref)}`);
      // XXᵀ side: projection σ₁·u₁, oriented by Σ_k (Xᵀu)[k]
      const gh = new Float64Array(hw * hw);
      for (let p = 0; p < hw; p++) for (let q = 0; q < hw; q++) for (let k = 0; k < c; k++) gh[p * hw + q] += x[p * c + k] * x[q * c + k];
      const tu = topEigenvector(gh, hw);
      assert.ok(Math.abs(tu.value - refTop.value) <= 1e-12 * refTop.value, `λ₁ (XXᵀ) ${tu.value} vs ${refTop.value}`);
      let s = 0;
      for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) s += tu.vector[p] * x[p * c + k];
      const ph = tu.vector.map((e) => (s < 0 ? -1 : 1) * Math.sqrt(tu.value) * e);
      assert.ok(relErr(ph, ref) <= 1e-8, `XXᵀ side c=${c} hw=${hw} ratio=${ratio}: ${relErr(ph, ref)}`);
    }
  });

  test('eigenProjection (batch of 2, channel offsets, both sides) equals the reference to 1e-8 + float32 rounding', () => {
    for (const [c, h, w, ratio] of shapes) {
      const hw = h * w;
      const data = new Float32Array(2 * c * hw);
      for (let b = 0; b < 2; b++) {
        const seed = c * 13 + hw + b;
        const r = rng(seed);
        const x = ratio > 0 ? designed(hw, c, spectrum(Math.min(hw - 1, c), ratio), seed) : null;
        for (let k = 0; k < c; k++) {
          const off = r() * 4 - 1;
          for (let p = 0; p < hw; p++) data[(b * c + k) * hw + p] = (x ? x[p * c + k] : r() * 2) + off;
        }
      }
      const out = eigenProjection(T([...data], [2, c, h, w]));
      for (let b = 0; b < 2; b++) {
        // reference from the same float32 values, centred per channel in float64
        const x = new Float64Array(hw * c);
        for (let k = 0; k < c; k++) {
          let mean = 0;
          for (let p = 0; p < hw; p++) mean += data[(b * c + k) * hw + p];
          mean /= hw;
          for (let p = 0; p < hw; p++) x[p * c + k] = data[(b * c + k) * hw + p] - mean;
        }
        const ref = referenceProjection(x, hw, c);
        const scale = Math.max(...ref.map(Math.abs));
        const got = out.subarray(b * hw, (b + 1) * hw);
        // equal up to the sign (LAPACK's; tested against numpy in cam-svd-sign.test.ts)
        const sg = Math.sign(got.reduce((acc, x, i) => acc + x * ref[i], 0));
        for (let p = 0; p < hw; p++) ref[p] *= sg;
        for (let p = 0; p < hw; p++) {
          assert.ok(Math.abs(got[p] - ref[p]) <= 1e-8 * scale + 2 ** -24 * Math.abs(ref[p]),
            `c=${c} hw=${hw} ratio=${ratio} b=${b} [${p}]: ${got[p]} vs ${ref[p]}`);
        }
      }
    }
  });

  test('degenerate inputs: zero, rank 1, repeated top eigenvalue (deterministic), NaN', () => {
    // zero matrix / constant activations: zero vector, zero projection
    const z = topEigenvector(new Float64Array(9), 3);
    assert.deepEqual([...z.vector], [0, 0, 0]);
    assert.equal(z.value, 0);
    assert.deepEqual([...eigenProjection(T(new Array(2 * 5 * 4).fill(1.5), [2, 5, 2, 2]))], new Array(8).fill(0));
    // rank 1: G = a aᵀ → ±a/|a|, λ = |a|²
    const a = [0.3, -1.2, 2, 0.7, 0.1, -0.4];
    const n = a.length;
    const na = Math.hypot(...a);
    const r1 = topEigenvector(Float64Array.from({ length: n * n }, (_, i) => a[Math.floor(i / n)] * a[i % n]), n);
    assert.ok(Math.abs(r1.value - na * na) <= 1e-12 * na * na, `rank-1 λ ${r1.value}`);
    const sgn = Math.sign(r1.vector[2]);
    close(r1.vector, a.map((e) => (sgn * e) / na), 1e-12, 'rank-1 vector');
    // repeated top eigenvalue: G = Q diag(3, 3, 3, 1, 0.5, 0) Qᵀ; any unit vector of the top eigenspace, the same each call
    const m = 6;
    const q = orthonormal(m, m, gauss(rng(99)), false);
    const d = [3, 3, 3, 1, 0.5, 0];
    const g = new Float64Array(m * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) g[i * m + j] += q[i * m + k] * d[k] * q[j * m + k];
    const e1 = topEigenvector(g, m);
    const e2 = topEigenvector(g, m);
    assert.deepEqual([...e1.vector], [...e2.vector], 'deterministic');
    assert.ok(Math.abs(e1.value - 3) < 1e-12, `repeated λ ${e1.value}`);
    assert.ok(Math.abs(Math.hypot(...e1.vector) - 1) < 1e-12, 'unit');
    for (let i = 0; i < m; i++) {
      let acc = 0;
      for (let k = 0; k < m; k++) acc += g[i * m + k] * e1.vector[k];
      assert.ok(Math.abs(acc - 3 * e1.vector[i]) < 1e-10, `in the top eigenspace [${i}]`);
    }
    // activations with two equal top singular values: the projection is a top singular direction, deterministic
    const hw = 16, c = 10;
    const x = designed(hw, c, [2, 2, 1, 0.5], 5);
    const acts = T(Array.from({ length: c * hw }, (_, i) => x[(i % hw) * c + Math.floor(i / hw)]), [1, c, 4, 4]);
    const p1 = eigenProjection(acts);
    assert.deepEqual([...p1], [...eigenProjection(acts)], 'deterministic projection');
    assert.ok(Math.abs(Math.hypot(...p1) - 2) < 1e-5, `‖projection‖ = σ₁: ${Math.hypot(...p1)}`);
    // NaN activations count as 0
    const withNaN = [1, NaN, 3, 4, 0, 1, NaN, 0, 2, 2, 5, -1];
    close(eigenProjection(T(withNaN, [1, 3, 2, 2])), eigenProjection(T(withNaN.map((e) => (Number.isNaN(e) ? 0 : e)), [1, 3, 2, 2])), 0);
  });
});

test("the CAM registry is the one method list: docs/cam.md's table lists exactly its methods and class names", async () => {
  const { CAM_METHOD_SPECS, canonicalMethod } = await import('../../src/algo/cam/methods.ts');
  const { readFileSync } = await import('node:fs');
  const all = readFileSync(new URL('../../docs/cam.md', import.meta.url), 'utf8');
  const doc = all.slice(all.indexOf('## Methods'), all.indexOf('\n## ', all.indexOf('## Methods') + 3));
  const rows = [...doc.matchAll(/^\| `([a-z+]+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(rows, CAM_METHOD_SPECS.map((m) => [m.name, m.className]));
  for (const m of CAM_METHOD_SPECS) {
    assert.equal(canonicalMethod(m.className), m.name);
    assert.equal(canonicalMethod(m.name.toUpperCase()), m.name);
  }
  assert.equal(canonicalMethod('grad-cam-pp'), 'gradcam++');
  assert.equal(canonicalMethod('Eigen Grad CAM'), 'eigengradcam');
});
