// Scaling out (README "Scaling out"), through the CLI on the demo model and held-out shapes images:
// 1. peak RSS of `xai run` computing the cam stage over many images vs few (ctx.map streams its table: target ≤ 1.3×);
// 2. the lime stage's wall time with --workers 2 vs --workers 1 (the pool; on 2 cores ideally ≈ 0.5×);
// 3. with redis-server installed: the same lime stage on 2 local `xai worker` processes through the queue vs the local
//    pool of 2 workers (target ≤ 1.15×).
// Peak RSS comes from GNU time (/usr/bin/time -f %M); figures that need a missing tool are left out with a note.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

const bench: BenchFn = async ({ quick }) => {
  const figures: BenchFigure[] = [];
  const dirs: string[] = [];
  const procs: ChildProcess[] = [];
  try {
    // 1. cam RSS, few vs many images (the dataset built first, so only the cam stage is in the measured run)
    const [few, many] = quick ? [100, 800] : [200, 4000];
    const rss: number[] = [];
    for (const n of [few, many]) {
      const file = project(pipeline(n, CAM), dirs);
      xai(file, ['--workers', '1', '--set', 'stages.cams.limit=1']); // the dataset, outside the measured run
      const r = xai(file, ['--workers', '1', '--force', 'cams']);
      if (r.rssMiB === undefined) break;
      rss.push(r.rssMiB);
    }
    if (rss.length === 2) {
      const ratio = rss[1] / rss[0];
      figures.push({ name: `cam stage peak RSS over ${many} images`, value: rss[1], unit: 'MiB', baseline: { name: `over ${few} images`, value: rss[0] }, ratio, target: '≤ 1.3×', pass: ratio <= 1.3, notes: load() });
    }

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
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  return figures;
};
export default bench;
