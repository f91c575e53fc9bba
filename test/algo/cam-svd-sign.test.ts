// EigenCAM's sign against numpy: np.linalg.svd(X, full_matrices=True)[2][0] (LAPACK dgesdd) for 36 centred
// activation-like matrices of the layer shapes (H·W × C from 12×20 to 784×128), rebuilt here bit for bit from their
// mulberry32 seeds (test/fixtures/cam/svd-sign.json, written by scripts/fixtures/svd_sign.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eigenCam } from '../../src/algo/cam/index.ts';
import { mulberry32 } from '../../src/algo/mulberry32.ts';

const { cases, sweep } = JSON.parse(readFileSync(new URL('../fixtures/cam/svd-sign.json', import.meta.url), 'utf8'));

/** acts[k·hw + p] (C × H·W) float32, as svd_sign.py's activations(): ReLU(noise + row factor · channel weight). */
function activations(seed: number, hw: number, c: number): Float32Array {
  const r = mulberry32(seed);
  const row = Array.from({ length: hw }, () => (r() + r() - 1.0) * 2.0);
  const col = Array.from({ length: c }, () => r());
  const a = new Float32Array(c * hw);
  for (let k = 0; k < c; k++) {
    for (let p = 0; p < hw; p++) {
      const v = r() + r() + r() - 1.5 + row[p] * col[k];
      a[k * hw + p] = v > 0 ? v : 0;
    }
  }
  return a;
}

/** numpy's projection of one image's activations a (C × H·W): the float32-centred X times VT[0]. */
function numpyProjection(a: ArrayLike<number>, c: number, hw: number, vt0: number[]): Float64Array {
  const want = new Float64Array(hw);
  for (let k = 0; k < c; k++) {
    let mean = 0;
    for (let p = 0; p < hw; p++) mean += a[k * hw + p];
    mean = Math.fround(mean / hw);
    for (let p = 0; p < hw; p++) want[p] += Math.fround(a[k * hw + p] - mean) * vt0[k];
  }
  return want;
}

test("EigenCAM's projection = X·VT[0] of numpy's SVD, sign included, on 36 activation-like matrices", () => {
  assert.equal(cases.length, 36);
  for (const cs of cases) {
    const { hw, c } = cs;
    const a = activations(cs.seed, hw, c);
    const got = eigenCam({ data: a, shape: [1, c, 1, hw] });
    const want = numpyProjection(a, c, hw, cs.vt0);
    const scale = Math.max(...want.map(Math.abs));
    let err = 0;
    for (let p = 0; p < hw; p++) err = Math.max(err, Math.abs(got[p] - want[p]));
    assert.ok(err <= 1e-4 * scale, `${hw}×${c} seed ${cs.seed} (σ₂/σ₁ ${cs.gap.toFixed(2)}): max |Δ| ${err} of ${scale}`);
  }
});

test("EigenCAM's sign on a sweep of 210 matrices (14 shapes incl. 27 and 30 rows, where LAPACK's divide and conquer merges the top vector)", () => {
  assert.equal(sweep.length, 210);
  const wrong: string[] = [];
  for (const cs of sweep) {
    const { hw, c } = cs;
    const proj = eigenCam({ data: activations(cs.seed, hw, c), shape: [1, c, 1, hw] });
    const r = mulberry32(cs.seed + 7);
    let probe = 0;
    for (let p = 0; p < hw; p++) probe += proj[p] * (r() - 0.5);
    if (!(Math.sign(probe) === Math.sign(cs.probe) && Math.abs(probe - cs.probe) <= 1e-3 * Math.abs(cs.probe) + 1e-6)) {
      wrong.push(`${hw}×${c} seed ${cs.seed}: ${probe} vs ${cs.probe}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("EigenCAM's sign on real activations: the demo model's layer2 and layer3 on 6 images (numpy fixture)", async (t) => {
  const { existsSync } = await import('node:fs');
  const { DEMO_CONFIG, demoActivations } = await import('../../scripts/fixtures/demo_activations.ts');
  if (!existsSync(DEMO_CONFIG) || !existsSync(new URL('../../models/demo/model.onnx', import.meta.url))) return t.skip('demo model not present');
  const fx = JSON.parse(readFileSync(new URL('../fixtures/cam/svd-sign-demo.json', import.meta.url), 'utf8'));
  const acts = await demoActivations();
  const { closeModels } = await import('../../src/model/index.ts');
  await closeModels();
  const report: string[] = [];
  for (const [layer, rows] of Object.entries(fx.layers) as [string, { gap: number; vt0: number[] }[]][]) {
    const [n, c, h, w] = acts[layer].shape;
    const hw = h * w;
    const proj = eigenCam(acts[layer]);
    for (let i = 0; i < n; i++) {
      const a = acts[layer].data.subarray(i * c * hw, (i + 1) * c * hw);
      const want = numpyProjection(a, c, hw, rows[i].vt0);
      let dot = 0;
      for (let p = 0; p < hw; p++) dot += proj[i * hw + p] * want[p];
      report.push(`${layer} image ${i} (σ₂/σ₁ ${rows[i].gap.toFixed(2)}): ${dot > 0 ? 'same sign' : 'OPPOSITE'}`);
    }
  }
  // layer2 image 1 (σ₂/σ₁ = 0.97, 64 rows in the bidiagonal) is a case where LAPACK's divide and conquer does not
  // deflate the top vector at the merge above its leaf (the QR iteration alone gives the other sign)
  assert.deepEqual(report.filter((s) => !s.endsWith('same sign')), [], report.join('\n'));
});
