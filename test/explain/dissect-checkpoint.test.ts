import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopQuantile } from '../../src/algo/dissect/index.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/explain/dissect/quantile-job.ts';

test("quantile-thresholds' checkpoint: kept values written raw after a small header, read back at any byte offset; several units and jobs continue to the exact thresholds", () => {
  // unit u of job j receives base+1 .. base+800 (base = 1000·(2j + u)) in a shuffled order, announced as 800:
  // np.percentile(base+1 .. base+800, 99.5) = base + 796.005 (virtual index 799·0.995 = 795.005 → sorted[795] = base + 796)
  let s = 7;
  const order = Array.from({ length: 800 }, (_, i) => i + 1);
  for (let i = order.length - 1; i > 0; i--) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const j = Math.floor((s / 2 ** 32) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const feed = (tq: TopQuantile, j: number, from: number, to: number) => {
    for (let u = 0; u < tq.units; u++) tq.addUnitValues(u, Float32Array.from(order.slice(from, to), (v) => v + 1000 * (2 * j + u)), 0, to - from);
  };
  const jobs = [new TopQuantile(2, 800, 0.005), new TopQuantile(2, 800, 0.005)];
  jobs.forEach((tq, j) => feed(tq, j, 0, 500)); // past a compaction (buffer of 2k = 10 values)
  const chunks = encodeCheckpoint({ pass: 1, good: 500 }, jobs.map((tq) => [tq.state()]));
  // as the engine stores it: the chunks one after the other, behind a header of odd length (unaligned values)
  const file = new Uint8Array(3 + chunks.reduce((n, c) => n + c.byteLength, 0));
  let o = 3;
  for (const c of chunks) file.set(c, (o += c.byteLength) - c.byteLength);
  const { meta, states } = decodeCheckpoint<{ pass: number; good: number }>(file.subarray(3));
  assert.deepEqual(meta, { pass: 1, good: 500 });
  assert.equal(states.length, 2);
  states.forEach((st, j) => {
    const tq = new TopQuantile(2, 800, 0.005);
    tq.restore(st[0]);
    feed(tq, j, 500, 800);
    const t = tq.thresholds();
    for (let u = 0; u < 2; u++) assert.ok(Math.abs(t[u] - (1000 * (2 * j + u) + 796.005)) < 1e-9, `job ${j} unit ${u}: ${t[u]}`);
  });
  assert.throws(() => decodeCheckpoint(file.subarray(3, file.length - 4)), /bytes, expected/);
});
