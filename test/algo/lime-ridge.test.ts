import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ridgeFit, ridgeScore, weightedR2, ridgePredict } from '../../src/algo/lime/ridge.ts';
import { kernelWeight } from '../../src/algo/lime/kernel.ts';

const close = (a: number, b: number, tol = 1e-10, msg?: string) => assert.ok(Math.abs(a - b) <= tol, msg ?? `${a} ≉ ${b}`);

// Hand-computed system: x = [0,1,2,3], y = [1,3,2,5], w = [1,2,1,2].
// x̄_w = 5/3, ȳ_w = 19/6, Σw(x−x̄)² = 22/3, Σw(x−x̄)(y−ȳ) = 25/3, Σw(y−ȳ)² = 77/6.
const X1 = { data: [0, 1, 2, 3], n: 4, p: 1 };
const y1 = [1, 3, 2, 5];
const w1 = [1, 2, 1, 2];

test('ridge alpha=0 is weighted least squares (closed form)', () => {
  const m = ridgeFit(X1, y1, w1, 0);
  close(m.coef[0], 25 / 22);
  close(m.intercept, 19 / 6 - (5 / 3) * (25 / 22));
});

test('ridge alpha=1: β = Sxy/(Sxx+α) = 1, intercept 1.5, weighted R² = 8/11', () => {
  const m = ridgeFit(X1, y1, w1, 1);
  close(m.coef[0], 1);
  close(m.intercept, 1.5);
  // residuals [-0.5, 0.5, -1.5, 0.5] → weighted SSE 3.5; SST 77/6 → R² = 1 − 21/77
  close(ridgeScore(m, X1, y1, w1), 8 / 11);
});

test('multi-feature WLS recovers an exact linear model; R² = 1', () => {
  const n = 30, p = 3;
  const data: number[] = [], y: number[] = [], w: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [Math.sin(i), Math.cos(3 * i), (i % 5) / 5];
    data.push(...row);
    y.push(0.7 + 2 * row[0] - 1.5 * row[1] + 0.25 * row[2]);
    w.push(0.1 + (i % 7) / 7);
  }
  const X = { data, n, p };
  const m = ridgeFit(X, y, w, 0);
  close(m.intercept, 0.7, 1e-9);
  close(m.coef[0], 2, 1e-9);
  close(m.coef[1], -1.5, 1e-9);
  close(m.coef[2], 0.25, 1e-9);
  close(ridgeScore(m, X, y, w), 1, 1e-12);
});

test('ridge alpha>0 matches the normal equations (XcᵀWXc + αI)β = XcᵀWyc solved independently (2×2 by Cramer)', () => {
  const data = [1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1];
  const X = { data, n: 6, p: 2 };
  const y = [0.9, 0.2, 1.0, 0.1, 0.8, 0.3];
  const w = [1, 0.5, 0.25, 1, 0.75, 0.5];
  const alpha = 0.7;
  const sw = w.reduce((a, b) => a + b);
  const m0 = (j: number) => w.reduce((s, wi, i) => s + wi * data[i * 2 + j], 0) / sw;
  const ym = w.reduce((s, wi, i) => s + wi * y[i], 0) / sw;
  const xc = (i: number, j: number) => data[i * 2 + j] - m0(j);
  const S = (f: (i: number) => number) => w.reduce((s, wi, i) => s + wi * f(i), 0);
  const a = S((i) => xc(i, 0) ** 2) + alpha, b = S((i) => xc(i, 0) * xc(i, 1)), d = S((i) => xc(i, 1) ** 2) + alpha;
  const r0 = S((i) => xc(i, 0) * (y[i] - ym)), r1 = S((i) => xc(i, 1) * (y[i] - ym));
  const det = a * d - b * b;
  const b0 = (r0 * d - b * r1) / det, b1 = (a * r1 - b * r0) / det;
  const m = ridgeFit(X, y, w, alpha);
  close(m.coef[0], b0, 1e-12);
  close(m.coef[1], b1, 1e-12);
  close(m.intercept, ym - m0(0) * b0 - m0(1) * b1, 1e-12);
});

test('alpha=0 with collinear columns falls back to the minimum-norm solution (as sklearn → SVD)', () => {
  const data = [0, 0, 1, 1, 2, 2, 3, 3];
  const X = { data, n: 4, p: 2 };
  const m = ridgeFit(X, y1, w1, 0);
  close(m.coef[0], 25 / 44, 1e-9);
  close(m.coef[1], 25 / 44, 1e-9);
  const pred = ridgePredict(m, X);
  const ref = ridgeFit(X1, y1, w1, 0);
  for (let i = 0; i < 4; i++) close(pred[i], ref.intercept + ref.coef[0] * X1.data[i], 1e-9);
});

test('weightedR2: sklearn r2_score with sample_weight, constant-y conventions', () => {
  close(weightedR2([1, 2, 3], [1, 2, 3], [1, 1, 1]), 1);
  // ŷ = ȳ_w gives 0
  close(weightedR2([1, 3], [2.5, 2.5], [1, 3]), 0);
  assert.equal(weightedR2([2, 2], [2, 2], [1, 1]), 1);
  assert.equal(weightedR2([2, 2], [2, 3], [1, 1]), 0);
});

test('kernel: sqrt(exp(−d²/w²)) with w = 0.25', () => {
  close(kernelWeight(0), 1);
  close(kernelWeight(0.25), Math.exp(-0.5));
  close(kernelWeight(0.5, 0.25), Math.sqrt(Math.exp(-4)));
});
