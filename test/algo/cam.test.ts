import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/model/types.ts';
import {
  ablationCamWeights, aggregateLayers, eigenCam, gradCamPlusPlusWeights, gradCamWeights, gradientCam, JET_RGB, jet,
  minMaxInPlace, postprocessCam, scoreCamWeights, showCamOnImage, weightedSum, xGradCamWeights,
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
    // X = (b − mean b) aᵀ → v₁ = a/|a| (Σ v₁ > 0) → projection = (b − mean b)·|a|
    const expected = b.map((x) => (x - mb) * na);
    close(eigenCam(T(data, [1, c, h, w])), expected, 1e-4, `c=${c}`);
    // negate a: the orientation rule (Σ v₁ ≥ 0) flips v₁, so the projection flips too
    const data2 = data.map((_, i) => -a[Math.floor(i / (h * w))] * b[i % (h * w)] + offs[Math.floor(i / (h * w))]);
    close(eigenCam(T(data2, [1, c, h, w])), expected.map((x) => -x), 1e-4, `c=${c} negated`);
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
