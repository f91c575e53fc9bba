// CLIP-Dissect describe-units: soft_wpmi (the default) over 512 units × 20,000 concepts × 10,000 probe images with
// 512-d embeddings (random, seeded), matrix products on onnxruntime (2 threads). Target < 60 s on a 2-core box.
// cos_similarity is timed as a reference figure (no target). --quick: 64 units × 2,000 concepts × 1,000 images.
import os from 'node:os';
import type { BenchFigure, BenchFn } from './types.ts';
import { bestConcepts, l2NormalizeRows, similarity, type SimilarityFn } from '../src/algo/clipdissect/index.ts';
import { mulberry32 } from '../src/algo/mulberry32.ts';
import { ortGemm } from '../src/explain/clipdissect/gemm.ts';

const bench: BenchFn = async ({ quick }) => {
  const U = quick ? 64 : 512, C = quick ? 2000 : 20000, N = quick ? 1000 : 10000, D = 512;
  const rnd = mulberry32(24);
  const image = new Float32Array(N * D).map(() => rnd() - 0.5);
  const text = new Float32Array(C * D).map(() => rnd() - 0.5);
  l2NormalizeRows(image, N, D);
  l2NormalizeRows(text, C, D);
  const acts = new Float32Array(U * N).map(() => rnd() * 2);
  const gemm = await ortGemm(Math.min(2, os.cpus().length));
  const clip = { image, text, nImages: N, nConcepts: C, dim: D };
  const target = { acts, nUnits: U, nImages: N };
  const figures: BenchFigure[] = [];
  for (const fn of ['soft_wpmi', 'cos_similarity'] as SimilarityFn[]) {
    const t0 = performance.now();
    const s = await similarity(fn, clip, target, gemm);
    bestConcepts(s);
    const sec = (performance.now() - t0) / 1000;
    const main = fn === 'soft_wpmi';
    figures.push({
      name: `clip-dissect ${fn} ${U} units × ${C} concepts × ${N} images s`, value: sec, unit: 's',
      ...(main && !quick ? { target: '< 60 s', pass: sec < 60 } : {}),
      notes: `${main ? 'top_k 100; ' : ''}os.loadavg ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`,
    });
  }
  return figures;
};
export default bench;
