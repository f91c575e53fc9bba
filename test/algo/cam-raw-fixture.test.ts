// The cams table's per-layer columns against pytorch-grad-cam 1.5.5's formulas computed by numpy: the raw low-res map
// (np.maximum(get_cam_image(...), 0), the `cam` compute_cam_per_layer hands to scale_cam_image) and the channel
// weights (get_cam_weights), for the gradient methods (test/fixtures/cam/raw.json, scripts/fixtures/cam_raw.py), and
// EigenCAM's raw map (test/fixtures/cam/eigen.json, scripts/fixtures/cam_eigen.py; no channel weights).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rawCamParts, reluCam, type CamMethod } from '../../src/algo/cam/index.ts';

const raw = JSON.parse(readFileSync(new URL('../fixtures/cam/raw.json', import.meta.url), 'utf8'));
const eigen = JSON.parse(readFileSync(new URL('../fixtures/cam/eigen.json', import.meta.url), 'utf8'));

function within(got: ArrayLike<number>, want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = Math.max(1e-30, ...want.map(Math.abs));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  assert.ok(err <= tol * scale, `${what}: max |Δ| ${err} (scale ${scale})`);
}

test('raw map and channel weights of the gradient methods = numpy (pytorch-grad-cam formulas), 1e-5 relative', async () => {
  for (const c of raw.cases) {
    const shape = [c.n, c.c, c.h, c.w];
    const acts = { data: Float32Array.from(c.acts), shape };
    const grads = { data: Float32Array.from(c.grads), shape };
    for (const [m, want] of Object.entries(c.methods) as [CamMethod, { weights: number[] | null; raw: number[] }][]) {
      const got = await rawCamParts(m, { acts, grads, targets: [], target: 'logit', eigenSmooth: false });
      const what = `${m} ${shape.join('×')}`;
      within(reluCam(got.cam), want.raw, 1e-5, `${what} raw`);
      if (want.weights === null) assert.equal(got.weights, null, `${what}: no channel weights`);
      else within(got.weights!, want.weights, 1e-5, `${what} weights`);
    }
  }
});

test('EigenCAM: raw map = np.maximum(get_2d_projection(activations), 0), no channel weights', async () => {
  for (const c of eigen.cases) {
    const got = await rawCamParts('eigencam', { acts: { data: Float32Array.from(c.acts), shape: [1, c.c, c.h, c.w] }, targets: [], target: 'logit', eigenSmooth: false });
    assert.equal(got.weights, null);
    within(reluCam(got.cam), (c.eigencam as number[]).map((v) => Math.max(v, 0)), 1e-4, `eigencam ${c.c}×${c.h}×${c.w}`);
  }
});
