// Scaling out (README "Scaling out"), through the CLI on the demo model and held-out shapes images:
// 1. peak RSS of `xai run` computing the cam stage over many images vs few (ctx.map streams its table: target ≤ 1.3×);
// 2. the lime stage's wall time with --workers 2 vs --workers 1 (the pool; on 2 cores ideally ≈ 0.5×);
// 3. with redis-server installed: the same lime stage on 2 local `xai worker` processes through the queue vs the local
//    pool of 2 workers (target ≤ 1.15×);
// 4. peak RSS of the lime stage over many images vs few (its segment maps and weights are read and written batch by
//    batch: target ≤ 1.3×);
// 5. LIME (1000 samples) and Score-CAM (layer4) on a ResNet-18 at 224² through the stage on the pool (--workers 2, one
//    onnxruntime thread each) vs their forward floor: forwards per image × the bare forward's ms/image at the stage's
//    batch size (onnxruntime on all cores, in this process); the stage's compute time includes the workers' start,
//    model loads, image decoding and (LIME) segmentation. Target ≤ 1.1×.
// Peak RSS comes from GNU time (/usr/bin/time -f %M); figures that need a missing tool are left out with a note.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os, { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchFigure, BenchFn } from './types.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(repo, 'bin', 'xai.mjs');
const load = () => `os.loadavg ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} shared cores`;

function pipeline(count: number, stage: string): string {
  return `name: scale-bench-${count}
stages:
  heldout:
    uses: synth-dataset
    include: configs/datasets/shapes-eval.yaml
    params: { count: ${count} }
  model:
    uses: load-model
    include: configs/models/demo.yaml
${stage}`;
}
const CAM = `  cams:
    uses: cam
    inputs: { model: model, images: heldout }
    params: { methods: [gradcam], layers: [layer3], batch_size: 16, overlay: { enabled: false } }
`;
const LIME = `  lime:
    uses: lime
    inputs: { model: model, images: heldout }
    include: configs/lime/seed.yaml
    params: { num_samples: 300, overlay: { enabled: false } }
`;

/** Runs xai in the repo (its models; results under artifacts/scale-bench-*); returns wall seconds and peak RSS (MiB, via GNU time when present). */
function xai(pipelineFile: string, args: string[]): { seconds: number; rssMiB?: number } {
  const time = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = time
    ? spawnSync('/usr/bin/time', ['-f', 'RSS %M', process.execPath, bin, 'run', pipelineFile, '--quiet', ...args], { cwd: repo, encoding: 'utf8' })
    : spawnSync(process.execPath, [bin, 'run', pipelineFile, '--quiet', ...args], { cwd: repo, encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`xai ${args.join(' ')} failed: ${r.stderr}`);
  const m = /RSS (\d+)/.exec(r.stderr ?? '');
  return { seconds, rssMiB: m ? Number(m[1]) / 1024 : undefined };
}

/** The pipeline in a temp dir (removed at the end); it runs with the repo as the project root. */
function project(yaml: string, dirs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'xai-scale-bench-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'p.yaml'), yaml);
  return join(dir, 'p.yaml');
}

/** A ResNet-18-shaped ONNX at size², K random images and the load-model/dataset stages of a pipeline over them. */
async function resnetProject(dir: string, size: number, k: number): Promise<{ stages: string; onnx: string }> {
  const { resnet18, rng } = await import('../src/model/testing/nets.ts');
  const { encodePngSync } = await import('../src/image/png.ts');
  const net = resnet18({ input: [3, size, size] });
  const onnx = join(dir, 'r18.onnx');
  writeFileSync(onnx, net.onnx);
  mkdirSync(join(dir, 'images'), { recursive: true });
  const r = rng(7);
  for (let i = 0; i < k; i++) writeFileSync(join(dir, 'images', `img${i}.png`), encodePngSync(Uint8Array.from({ length: size * size * 3 }, () => Math.floor(r() * 256)), size, size, 3));
  const layers = JSON.stringify(net.layers);
  return {
    onnx,
    stages: `  images:
    uses: dataset
    params: { root: ${JSON.stringify(join(dir, 'images'))}, labels: { from: none } }
  model:
    uses: load-model
    params: { path: ${JSON.stringify(onnx)}, input: { size: ${size}, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, layers: ${layers} }
`,
  };
}

/** ms/image of a bare Model.predict at batch `b` (onnxruntime on all cores), median of 3 after a warm-up. */
async function forwardMs(onnx: string, size: number, b: number): Promise<number> {
  const { openModel } = await import('../src/model/index.ts');
  const m = await openModel({ path: onnx, input: { size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } }, { root: dirname(onnx), fresh: true });
  const x = { data: new Float32Array(b * 3 * size * size).fill(0.1), shape: [b, 3, size, size] };
  await m.predict(x);
  const t: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await m.predict(x);
    t.push((performance.now() - t0) / b);
  }
  await m.dispose();
  return [...t].sort((a, c) => a - c)[1];
}

/** The compute seconds of stage `id` in the pipeline's latest run (through the cache interface). */
async function stageSeconds(pipelineName: string, id: string): Promise<number> {
  const { openCache } = await import('../src/engine/cache.ts');
  const { readLatestRun } = await import('../src/engine/runs.ts');
  const { ArtifactStore } = await import('../src/engine/cache.ts');
  const rec = readLatestRun(new ArtifactStore(repo), pipelineName);
  const st = rec?.stages[id];
  const e = st?.key ? openCache(repo).get(st.kind, st.key) : undefined;
  if (!e) throw new Error(`no entry of stage ${id} in the latest run of ${pipelineName}`);
  return e.timings.seconds;
}

const bench: BenchFn = async ({ quick }) => {
  const figures: BenchFigure[] = [];
  const dirs: string[] = [];
  const procs: ChildProcess[] = [];
  try {
    // 1. (and 4.) peak RSS, few vs many images
    const [few, many] = quick ? [100, 800] : [200, 4000];
    /** Peak RSS of `xai run` computing stage `id` (its dataset built before, outside the measured run), few vs many images. */
    const rssFigure = (stageYaml: string, id: string, label: string) => {
      const rss: number[] = [];
      for (const n of [few, many]) {
        const file = project(pipeline(n, stageYaml), dirs);
        xai(file, ['--workers', '1', '--set', `stages.${id}.limit=1`]);
        const r = xai(file, ['--workers', '1', '--force', id]);
        if (r.rssMiB === undefined) return;
        rss.push(r.rssMiB);
      }
      const ratio = rss[1] / rss[0];
      figures.push({ name: `${label} peak RSS over ${many} images`, value: rss[1], unit: 'MiB', baseline: { name: `over ${few} images`, value: rss[0] }, ratio, target: '≤ 1.3×', pass: ratio <= 1.3, notes: load() });
    };
    rssFigure(CAM, 'cams', 'cam stage');

    // 2. lime: the pool of 2 workers vs the stage's own thread
    const n = quick ? 8 : 32;
    const file = project(pipeline(n, LIME), dirs);
    xai(file, ['--workers', '1', '--set', 'stages.lime.limit=1']);
    const one = xai(file, ['--workers', '1', '--force', 'lime']);
    const two = xai(file, ['--workers', '2', '--force', 'lime']);
    figures.push({ name: `lime stage ${n} images, --workers 2`, value: two.seconds, unit: 's', baseline: { name: '--workers 1', value: one.seconds }, ratio: two.seconds / one.seconds, target: 'informative (≈ 1/cores ideal)', notes: load() });

    // 3. the queue with 2 local workers vs the local pool of 2
    if (!spawnSync('redis-server', ['--version']).error) {
      const port = await new Promise<number>((res) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => res(p));
        });
      });
      const rdir = mkdtempSync(join(tmpdir(), 'xai-scale-redis-'));
      dirs.push(rdir);
      const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', rdir], { stdio: 'ignore' });
      procs.push(redis);
      await new Promise((r) => setTimeout(r, 500));
      const url = `redis://127.0.0.1:${port}`;
      // two workers on this machine: each gets its share of the cores, as the local pool's workers do
      const threads = String(Math.max(1, Math.floor(os.availableParallelism() / 2)));
      for (let i = 0; i < 2; i++) procs.push(spawn(process.execPath, [bin, 'worker', '--queue', url, '--threads', threads], { cwd: repo, stdio: 'ignore' }));
      await new Promise((r) => setTimeout(r, 3000)); // the workers start (loader, bullmq)
      const q = xai(file, ['--queue', url, '--force', 'lime']);
      figures.push({ name: `lime stage ${n} images, queue with 2 xai workers`, value: q.seconds, unit: 's', baseline: { name: 'local pool, --workers 2', value: two.seconds }, ratio: q.seconds / two.seconds, target: '≤ 1.15×', pass: q.seconds / two.seconds <= 1.15, notes: load() });
    } else figures.push({ name: 'queue vs local pool', value: NaN, unit: 's', notes: 'redis-server not installed: not measured' });

    // 4. lime RSS, few vs many images (few samples: the memory at stake is per image, not per sample)
    rssFigure(LIME.replace('num_samples: 300', 'num_samples: 40'), 'lime', 'lime stage');

    // 5. LIME and Score-CAM on the pool vs their forward floor (ResNet-18)
    const size = quick ? 112 : 224;
    const k = 4;
    const rdir = mkdtempSync(join(tmpdir(), 'xai-scale-r18-'));
    dirs.push(rdir);
    const r18 = await resnetProject(rdir, size, k);
    const samples = quick ? 200 : 1000;
    const name = `scale-bench-r18-${size}`;
    const r18file = project(
      `name: ${name}
stages:
${r18.stages}  lime:
    uses: lime
    inputs: { model: model, images: images }
    include: configs/lime/seed.yaml
    params: { num_samples: ${samples}, overlay: { enabled: false } }
  scorecam:
    uses: cam
    inputs: { model: model, images: images }
    params: { methods: [scorecam], layers: [layer4], batch_size: 1, overlay: { enabled: false } }
`,
      dirs,
    );
    // one stage at a time (--jobs 1), each on the pool of 2
    xai(r18file, ['--workers', '2', '--jobs', '1', '--force', 'lime', '--force', 'scorecam']);
    for (const [stage, batch, forwards] of [['lime', 50, samples + 1], ['scorecam', 16, 513]] as const) {
      const seconds = await stageSeconds(name, stage);
      const fwd = await forwardMs(r18.onnx, size, batch);
      const per = (seconds * 1000) / k;
      const floor = forwards * fwd;
      figures.push({
        name: `${stage === 'lime' ? `LIME ${samples} samples` : 'Score-CAM layer4'} on the pool (--workers 2), resnet18-${size}, ms/image`,
        value: per,
        unit: 'ms',
        baseline: { name: `${forwards} forwards × ${fwd.toFixed(2)} ms (bare predict, batch ${batch})`, value: floor },
        ratio: per / floor,
        target: '≤ 1.1×',
        pass: per / floor <= 1.1,
        notes: load(),
      });
    }
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  return figures;
};
export default bench;
