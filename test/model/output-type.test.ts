// Models that already output probabilities (src/model/common.ts): the probe's test and the runtimes' probabilities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeProbabilities, outputProbabilities } from '../../src/model/common.ts';

const T = (v: number[], k: number) => ({ data: Float32Array.from(v), shape: [v.length / k, k] });

test('looksLikeProbabilities: rows ≥ 0 summing to 1 (within 1e-3), every row', () => {
  assert.equal(looksLikeProbabilities(T([0.2, 0.3, 0.5, 1, 0, 0], 3)), true);
  assert.equal(looksLikeProbabilities(T([0.2, 0.3, 0.5, 0.5, 0.6, 0], 3)), false); // second row sums to 1.1
  assert.equal(looksLikeProbabilities(T([1.2, -0.2, 0], 3)), false); // sums to 1 but a negative value
  assert.equal(looksLikeProbabilities(T([2.5, -1, 0.3], 3)), false); // logits
  assert.equal(looksLikeProbabilities(T([0.2, 0.3, 0.5 + 5e-4], 3)), true);
});

test("outputProbabilities: softmax of logits; a probabilities model's outputs as they are", () => {
  const x = T([0, Math.log(3)], 2);
  assert.deepEqual([...outputProbabilities(x, { output: 'logits' }).data].map((v) => +v.toFixed(6)), [0.25, 0.75]);
  assert.deepEqual([...outputProbabilities(x, {}).data].map((v) => +v.toFixed(6)), [0.25, 0.75]);
  const p = T([0.25, 0.75], 2);
  assert.equal(outputProbabilities(p, { output: 'probabilities' }), p);
});
