// The kernels registered for the wasm backend (gradients) equal the cpu backend's results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTf } from '../../src/model/tfjs/backend.ts';
import { registerWasmGradientKernels } from '../../src/model/tfjs/wasm-kernels.ts';
import { rng } from '../../src/model/testing/nets.ts';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

async function onBoth<T>(f: (tf: Awaited<ReturnType<typeof loadTf>>) => T): Promise<{ cpu: T; wasm: T }> {
  const tf = await loadTf();
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')), '/'));
  const prev = tf.getBackend();
  await tf.setBackend('cpu');
  const cpu = f(tf);
  await tf.setBackend('wasm');
  registerWasmGradientKernels(tf);
  const w = f(tf);
  if (prev) await tf.setBackend(prev);
  return { cpu, wasm: w };
}

function rand(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

function close(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  assert.ok(d < tol, `${what}: max diff ${d}`);
}

test('Conv2DBackpropFilter (composed from wasm kernels) equals the cpu kernel', async () => {
  const cases: { x: [number, number, number, number]; k: number; ci: number; co: number; s: number; pad: 'same' | 'valid' | number }[] = [
    { x: [2, 9, 9, 3], k: 3, ci: 3, co: 4, s: 1, pad: 'same' },
    { x: [2, 10, 10, 3], k: 3, ci: 3, co: 5, s: 2, pad: 'same' },
    { x: [1, 11, 8, 2], k: 3, ci: 2, co: 3, s: 2, pad: 'valid' },
    { x: [3, 7, 7, 4], k: 1, ci: 4, co: 2, s: 2, pad: 'valid' },
    { x: [2, 12, 12, 3], k: 5, ci: 3, co: 4, s: 2, pad: 2 },
  ];
  for (const [i, c] of cases.entries()) {
    const r = await onBoth((tf) =>
      tf.tidy(() => {
        const x = tf.tensor4d(rand(c.x.reduce((a, b) => a * b, 1), i + 1), c.x);
        const f = tf.tensor4d(rand(c.k * c.k * c.ci * c.co, i + 100), [c.k, c.k, c.ci, c.co]);
        const yShape = tf.conv2d(x, f, c.s, c.pad).shape;
        const dy = tf.tensor(rand(yShape.reduce((a, b) => a * b, 1), i + 200), yShape);
        // Through the fused op, as tfjs-layers' Conv2D records it (its gradient asks for the filter gradient too).
        const g = tf.grads((xx: unknown, ff: unknown) =>
          tf.sum(tf.mul(tf.fused.conv2d({ x: xx as never, filter: ff as never, strides: c.s, pad: c.pad, bias: tf.zeros([c.co]) }), dy)),
        )([x, f]);
        return [g[0].dataSync() as Float32Array, g[1].dataSync() as Float32Array];
      }),
    );
    close(r.cpu[0], r.wasm[0], 1e-4, `case ${i} dx`);
    close(r.cpu[1], r.wasm[1], 1e-4, `case ${i} dfilter`);
  }
});

test('depthwise conv input gradient and max-pool gradient (first maximum on ties) equal the cpu kernels', async () => {
  const r = await onBoth((tf) =>
    tf.tidy(() => {
      const x = tf.tensor4d(rand(2 * 8 * 8 * 6, 3), [2, 8, 8, 6]);
      const f = tf.tensor4d(rand(3 * 3 * 6, 4), [3, 3, 6, 1]);
      const gx = tf.grad((xx: unknown) => tf.sum(tf.square(tf.depthwiseConv2d(xx as never, f, 2, 'same'))))(x);
      // ReLU then max-pool: all-zero windows are ties.
      const gp = tf.grad((xx: unknown) => tf.sum(tf.mul(tf.maxPool(tf.relu(xx as never), 2, 2, 'valid'), tf.linspace(1, 2, 4 * 4 * 6).reshape([1, 4, 4, 6]))))(x);
      return [gx.dataSync() as Float32Array, gp.dataSync() as Float32Array];
    }),
  );
  close(r.cpu[0], r.wasm[0], 1e-4, 'depthwise dx');
  close(r.cpu[1], r.wasm[1], 1e-6, 'maxpool dx');
});
