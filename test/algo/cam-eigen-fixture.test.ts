// EigenCAM and EigenGradCAM against pytorch-grad-cam 1.5.5's formulas computed by numpy
// (test/fixtures/cam/eigen.json, written by scripts/fixtures/cam_eigen.py), sign included (docs/cam.md, "EigenCAM's
// sign"; the 30 × 32 case goes through LAPACK's divide and conquer without deflation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eigenCam, gradientCam } from '../../src/algo/cam/index.ts';

const { cases } = JSON.parse(readFileSync(new URL('../fixtures/cam/eigen.json', import.meta.url), 'utf8'));

function equal(got: Float32Array, want: number[], what: string): void {
  const scale = Math.max(...want.map(Math.abs));
  const err = Math.max(...want.map((v, i) => Math.abs(got[i] - v)));
  assert.ok(err <= 1e-4 * scale, `${what}: max |Δ| ${err} (scale ${scale})`);
}

test('EigenCAM = numpy get_2d_projection(activations), sign included, on 4 activation tensors', () => {
  for (const c of cases) {
    const acts = { data: Float32Array.from(c.acts), shape: [1, c.c, c.h, c.w] };
    equal(eigenCam(acts), c.eigencam, `eigencam ${c.c}×${c.h}×${c.w}`);
  }
});

test('EigenGradCAM = numpy get_2d_projection(grads * activations), sign included', () => {
  for (const c of cases) {
    const shape = [1, c.c, c.h, c.w];
    const raw = gradientCam('eigengradcam', { data: Float32Array.from(c.acts), shape }, { data: Float32Array.from(c.grads), shape });
    equal(raw, c.eigengradcam, `eigengradcam ${c.c}×${c.h}×${c.w}`);
  }
});
