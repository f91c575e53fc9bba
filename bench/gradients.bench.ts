// ONNX gradients through the generated backward graph (src/model/onnx/backward) on a ResNet-18-shaped net:
// forward + gradient ms/image at layer3 and layer4 vs the forward alone, same session options. Target ≤ 1.6×.
import * as ort from 'onnxruntime-node';
import type { BenchFigure, BenchFn } from './types.ts';
import { buildGradientGraph } from '../src/model/onnx/backward/index.ts';
import { resnet18, randomBatch } from '../src/model/testing/nets.ts';
import { encodeModel } from '../src/model/onnx/builder.ts';

// Spinning off: idle ORT threads then do not burn CPU, so process CPU time measures the work itself (the shared
// bench machine is often loaded, and CPU time is far steadier than wall time there). Same options for both sessions.
const sessionOptions = {
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
} as ort.InferenceSession.SessionOptions;

/**
 * Runs a and b alternately (after one warm-up each): wall and process CPU times in ms, and the median over pairs of
 * b/a. Alternating keeps both under the same machine load; the per-pair ratio cancels most of a shared machine's
 * load swings.
 */
async function timePair(a: () => Promise<unknown>, b: () => Promise<unknown>, reps: number): Promise<{ a: Stats; b: Stats; cpuA: Stats; cpuB: Stats; pairRatio: number }> {
  await a();
  await b();
  const ta: number[] = [];
  const tb: number[] = [];
  const ca: number[] = [];
  const cb: number[] = [];
  const once = async (f: () => Promise<unknown>, wall: number[], cpu: number[]) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  };
  for (let i = 0; i < reps; i++) {
    await once(a, ta, ca);
    await once(b, tb, cb);
  }
  return { a: stats(ta), b: stats(tb), cpuA: stats(ca), cpuB: stats(cb), pairRatio: stats(tb.map((t, i) => t / ta[i])).median };
}

interface Stats {
  best: number;
  median: number;
}
function stats(ts: number[]): Stats {
  const s = [...ts].sort((x, y) => x - y);
  return { best: s[0], median: s[Math.floor(s.length / 2)] };
}

const bench: BenchFn = async ({ quick }) => {
  const size = quick ? 112 : 224;
  const batch = quick ? 4 : Number(process.env.XAI_BENCH_BATCH ?? 32);
  const reps = quick ? 3 : Number(process.env.XAI_BENCH_REPS ?? 5);
  const net = resnet18({ input: [3, size, size] });
  const x = randomBatch(batch, net.input, 3);
  const image = new ort.Tensor('float32', x.data, x.shape);
  const fwd = await ort.InferenceSession.create(net.onnx, sessionOptions);
  const runFwd = () => fwd.run({ [net.inputName]: image });
  const figures: BenchFigure[] = [];
  const fwdName = `ort forward resnet18-${size} b${batch} ms/image`;
  for (const alias of ['layer3', 'layer4']) {
    const gg = buildGradientGraph(net.model, { layer: net.layers[alias], logits: net.outputName });
    const sess = await ort.InferenceSession.create(encodeModel(gg.model), sessionOptions);
    const w = new Float32Array(batch * net.numClasses);
    for (let n = 0; n < batch; n++) w[n * net.numClasses + ((n * 37) % net.numClasses)] = 1;
    const feeds = { [gg.inputs.image]: image, [gg.inputs.weights]: new ort.Tensor('float32', w, [batch, net.numClasses]) };
    const t = await timePair(runFwd, () => sess.run(feeds), reps);
    await sess.release();
    const cf = t.cpuA.median / batch;
    const cg = t.cpuB.median / batch;
    const f = t.a.median / batch;
    const g = t.b.median / batch;
    if (alias === 'layer3') figures.push({ name: fwdName, value: f, unit: 'ms/image', notes: `median of ${reps} (best ${(t.a.best / batch).toFixed(2)})` });
    figures.push({
      name: `ort forward+gradient ${alias} resnet18-${size} b${batch} ms/image`,
      value: g,
      unit: 'ms/image',
      baseline: { name: `${fwdName} (interleaved)`, value: f },
      ratio: t.pairRatio,
      target: '≤ 1.6× forward',
      pass: t.pairRatio <= 1.6,
      notes:
        `generated backward graph (plain ONNX ops), one session for forward + backward; medians of ${reps} runs interleaved with the forward; ` +
        `ratio = median over interleaved pairs; best runs ${(t.b.best / batch).toFixed(2)} vs ${(t.a.best / batch).toFixed(2)}`,
    });
    figures.push({
      name: `ort forward+gradient ${alias} resnet18-${size} b${batch} CPU ms/image`,
      value: cg,
      unit: 'CPU ms/image',
      baseline: { name: `ort forward resnet18-${size} b${batch} CPU ms/image`, value: cf },
      ratio: cg / cf,
      target: '≤ 1.6× forward',
      pass: cg / cf <= 1.6,
      notes: `process CPU time (user+sys, all ORT threads), median of ${reps} interleaved runs: steady under machine load`,
    });
  }
  await fwd.release();
  return figures;
};

export default bench;
