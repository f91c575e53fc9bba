import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/algo/lime/rng.ts';
import { sampleData } from '../../src/algo/lime/perturb.ts';
import { rowDistance } from '../../src/algo/lime/distance.ts';
import { kernelWeight } from '../../src/algo/lime/kernel.ts';
import { selectFeatures, forwardSelection } from '../../src/algo/lime/select.ts';
import { larsPath } from '../../src/algo/lime/lars.ts';
import { solveNormal } from '../../src/algo/lime/linalg.ts';


function checkKKT(X: Float64Array, n: number, p: number, y: Float64Array, alphas: number[], coefs: Float64Array[]): void {
  for (let k = 0; k < coefs.length; k++) {
    const b = coefs[k], a = alphas[k];
    for (let j = 0; j < p; j++) {
      let c = 0;
      for (let i = 0; i < n; i++) {
        let r = y[i];
        for (let t = 0; t < p; t++) r -= X[i * p + t] * b[t];
        c += X[i * p + j] * r;
      }
      c /= n;
      if (b[j] !== 0) assert.ok(Math.abs(c - a * Math.sign(b[j])) < 1e-8, `node ${k}, active ${j}: corr ${c} vs α ${a}`);
      else assert.ok(Math.abs(c) <= a + 1e-8, `node ${k}, inactive ${j}: |corr| ${Math.abs(c)} > α ${a}`);
    }
  }
}

function dropsSeen(coefs: Float64Array[]): number {
  let d = 0;
  for (let k = 1; k < coefs.length; k++) for (let j = 0; j < coefs[k].length; j++) if (coefs[k - 1][j] !== 0 && coefs[k][j] === 0) d++;
  return d;
}
import { centredMoments, ridgeFit, ridgeScore, selectColumns } from '../../src/algo/lime/ridge.ts';

// LIME-like problem: binary data, cosine kernel weights, y depends on features 2 and 5 only
function problem(n = 400, p = 10, seed = 3) {
  const data = sampleData(new Rng(seed), n, p);
  const ones = new Array(p).fill(1);
  const w = new Float64Array(n).map((_, i) => kernelWeight(rowDistance(data, i * p, ones, p, 'cosine'), 0.25));
  const noise = new Rng(seed + 100);
  const y = new Float64Array(n).map((_, i) => 0.3 + 0.4 * data[i * p + 2] - 0.25 * data[i * p + 5] + 0.01 * noise.normal());
  return { X: { data, n, p }, y, w };
}

for (const method of ['auto', 'forward_selection', 'highest_weights', 'lasso_path'] as const) {
  test(`feature_selection '${method}' picks features 2 and 5 when y depends on them only`, () => {
    const { X, y, w } = problem();
    const used = selectFeatures(X, y, w, 2, method);
    assert.deepEqual([...used].sort((a, b) => a - b), [2, 5]);
  });
}

test("feature_selection 'none' returns every feature; 'auto' switches at num_features > 6", () => {
  const { X, y, w } = problem();
  assert.deepEqual(selectFeatures(X, y, w, 2, 'none'), [...Array(10).keys()]);
  assert.deepEqual(selectFeatures(X, y, w, 7, 'auto'), selectFeatures(X, y, w, 7, 'highest_weights'));
  assert.deepEqual(selectFeatures(X, y, w, 6, 'auto'), selectFeatures(X, y, w, 6, 'forward_selection'));
  assert.throws(() => selectFeatures(X, y, w, 2, 'bogus' as never), /unknown method/);
});

test('forward selection: the stronger feature first; each greedy step maximises the weighted R² of a Ridge(0) refit', () => {
  const { X, y, w } = problem();
  const used = forwardSelection(centredMoments(X, y, w), 4);
  assert.deepEqual(used.slice(0, 2), [2, 5]);
  // brute-force check of the 3rd step against explicit refits (the Cholesky-append scores must agree)
  let best = -1, bestScore = -Infinity;
  for (let f = 0; f < 10; f++) {
    if (f === 2 || f === 5) continue;
    const cols = [2, 5, f];
    const Xs = selectColumns(X, cols);
    const s = ridgeScore(ridgeFit(Xs, y, w, 0), Xs, y, w);
    if (s > bestScore) {
      bestScore = s;
      best = f;
    }
  }
  assert.equal(used[2], best);
});

test('highest_weights ranks by |coef| of Ridge(alpha=0.01) on all features', () => {
  const { X, y, w } = problem();
  const m = ridgeFit(X, y, w, 0.01);
  const order = [...Array(10).keys()].sort((a, b) => Math.abs(m.coef[b]) - Math.abs(m.coef[a]));
  assert.deepEqual(selectFeatures(X, y, w, 4, 'highest_weights'), order.slice(0, 4));
});

test('LARS path on an orthogonal design: nodes and coefficients by hand', () => {
  // columns orthogonal with ‖x‖² = 2; Xᵀy = [6, 2]; α = C/n: 1.5, 0.5, 0; coefficients [0,0] → [2,0] → [3,1]
  const X = [1, 0, -1, 0, 0, 1, 0, -1];
  const y = [3, -3, 1, -1];
  const path = larsPath(X, 4, 2, y, { method: 'lasso' });
  assert.equal(path.alphas.length, 3);
  [1.5, 0.5, 0].forEach((a, i) => assert.ok(Math.abs(path.alphas[i] - a) < 1e-12));
  assert.deepEqual(Array.from(path.coefs[1]).map((v) => +v.toFixed(12)), [2, 0]);
  assert.deepEqual(Array.from(path.coefs[2]).map((v) => +v.toFixed(12)), [3, 1]);
});

test('LARS-lasso path nodes satisfy the lasso KKT conditions; ends at least squares', () => {
  const n = 60, p = 6;
  const rng = new Rng(42);
  const X = new Float64Array(n * p).map(() => rng.normal());
  // correlated columns and a sign change along the path make drops likely
  for (let i = 0; i < n; i++) X[i * p + 1] = 0.8 * X[i * p] + 0.2 * X[i * p + 1];
  const y = new Float64Array(n).map((_, i) => 2 * X[i * p] - 1.7 * X[i * p + 1] + 0.5 * X[i * p + 3] + 0.3 * rng.normal());
  const { alphas, coefs } = larsPath(X, n, p, y, { method: 'lasso' });
  checkKKT(X, n, p, y, alphas, coefs);
  // last node: α = 0, i.e. the (no-intercept) least-squares solution of XᵀXβ = Xᵀy
  const G = new Float64Array(p * p), b = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) {
    b[j] += X[i * p + j] * y[i];
    for (let t = 0; t < p; t++) G[j * p + t] += X[i * p + j] * X[i * p + t];
  }
  const beta = solveNormal(G, p, b, 0);
  assert.ok(alphas[alphas.length - 1] < 1e-9);
  coefs[coefs.length - 1].forEach((v, j) => assert.ok(Math.abs(v - beta[j]) < 1e-8, `coef ${j}: ${v} vs ${beta[j]}`));
  assert.equal(dropsSeen(coefs) > 0, coefs.length > p + 1, 'a drop adds path nodes');
});

test('LARS-lasso drops a variable whose coefficient crosses zero (KKT holds after the drop)', () => {
  // classic drop example: x2 enters with the wrong sign first, then leaves once x0 and x1 explain y
  let found = false;
  for (let seed = 1; seed <= 40 && !found; seed++) {
    const n = 40, p = 3;
    const rng = new Rng(seed);
    const X = new Float64Array(n * p);
    for (let i = 0; i < n; i++) {
      const a = rng.normal(), b = rng.normal();
      X[i * p] = a;
      X[i * p + 1] = b;
      X[i * p + 2] = 0.7 * a + 0.7 * b + 0.3 * rng.normal();
    }
    const y = new Float64Array(n).map((_, i) => X[i * p] + X[i * p + 1] - 0.6 * X[i * p + 2] + 0.05 * rng.normal());
    const { alphas, coefs } = larsPath(X, n, p, y, { method: 'lasso' });
    if (dropsSeen(coefs) > 0) {
      found = true;
      assert.ok(coefs.length > p + 1);
      checkKKT(X, n, p, y, alphas, coefs);
    }
  }
  assert.ok(found, 'some seed produced a lasso drop');
});
