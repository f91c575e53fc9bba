// Image pipeline throughput: decode (sharp) + resize (Pillow-semantics resampler) + normalise to float32 NCHW.
// Generates its own JPEGs (smooth colour fields with noise, quality 90) in a temp dir.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { BenchFigure, BenchFn } from './types.ts';
import { encodeJpeg, loadBatch } from '../src/image/io.ts';
import { Rng } from '../src/data/prng.ts';
import type { InputSpec } from '../src/model/types.ts';

const SPEC: InputSpec = {
  height: 224,
  width: 224,
  channels: 3,
  layout: 'NCHW',
  channelOrder: 'RGB',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

function photo(w: number, h: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const d = new Uint8Array(w * h * 3);
  const f = [rng.uniform(0.01, 0.05), rng.uniform(0.01, 0.05), rng.uniform(0.01, 0.05)];
  const ph = [rng.uniform(0, 6), rng.uniform(0, 6), rng.uniform(0, 6)];
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i += 3) {
      for (let c = 0; c < 3; c++) {
        const v = 128 + 90 * Math.sin(f[c] * x + ph[c]) * Math.cos(f[(c + 1) % 3] * y) + rng.uniform(-20, 20);
        d[i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return d;
}

async function makeJpegs(dir: string, n: number, w: number, h: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = join(dir, `${w}x${h}_${i}.jpg`);
    writeFileSync(f, await encodeJpeg({ data: photo(w, h, i), width: w, height: h }, 90));
    files.push(f);
  }
  return files;
}

/** Best wall-clock throughput over `rounds`, and images per CPU-second (all threads of the process) of that round. */
async function throughput(
  files: string[],
  opts: Parameters<typeof loadBatch>[2],
  batch: number,
  rounds: number,
): Promise<{ wall: number; perCpuSecond: number }> {
  // warm-up
  await loadBatch(files.slice(0, batch), SPEC, opts);
  let best = { wall: 0, perCpuSecond: 0 };
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < files.length; i += batch) await loadBatch(files.slice(i, i + batch), SPEC, opts);
    const wall = files.length / ((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    const perCpuSecond = files.length / ((c.user + c.system) / 1e6);
    if (wall > best.wall) best = { wall, perCpuSecond };
  }
  return best;
}

const bench: BenchFn = async ({ quick }) => {
  const dir = mkdtempSync(join(os.tmpdir(), 'xai-bench-images-'));
  try {
    const n = quick ? 64 : 256;
    const rounds = quick ? 1 : 3;
    const small = await makeJpegs(dir, n, 224, 224);
    const large = await makeJpegs(dir, quick ? 32 : 128, 500, 375);
    const cores = os.availableParallelism?.() ?? os.cpus().length;
    const figures: BenchFigure[] = [];
    const load = os.loadavg()[0];
    const a = await throughput(small, { fit: 'stretch', concurrency: 4 }, 32, rounds);
    figures.push({
      name: 'decode+resize+normalise 224² JPEG → 224² NCHW',
      value: a.wall,
      unit: 'images/s',
      target: '≥ 300 images/s on 2 cores',
      pass: a.wall >= 300,
      notes: `${n} JPEGs q90, batches of 32, 4 decodes in flight, ${cores} cores, load average ${load.toFixed(1)} at start; best of ${rounds}`,
    });
    figures.push({
      name: 'same, images per CPU-second (all threads)',
      value: a.perCpuSecond,
      unit: 'images/CPU-s',
      notes: `CPU cost ${(1000 / a.perCpuSecond).toFixed(2)} ms/image: 2 idle cores give about ${(2 * a.perCpuSecond).toFixed(0)} images/s`,
    });
    const b = await throughput(large, { fit: 'center-crop', resize: 256, concurrency: 4 }, 32, rounds);
    figures.push({
      name: 'decode+Resize(256)+CenterCrop(224)+normalise 500×375 JPEG',
      value: b.wall,
      unit: 'images/s',
      notes: `ImageNet-like size; Pillow-semantics bilinear resize in JS; ${b.perCpuSecond.toFixed(0)} images/CPU-s`,
    });
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

export default bench;
