// Sweep bench: a finished 4-combination sweep (fixture CAM/LIME stages, the real compare and scoreboard stages)
// rerun through the real CLI process — start-up, validation of every combination, 4 no-op runs, the scoreboard
// written and printed. Target < 1 s ("a finished sweep reruns in under a second"). CPU figure: user+sys of the process.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { BenchFn } from './types.ts';
import { compareProject } from '../test/stages/compare-helpers.ts';

const repo = resolve(import.meta.dirname, '..');
const bin = join(repo, 'bin', 'xai.mjs');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const CAM = Array.from({ length: 16 }, (_, i) => 1 - i / 16);
const PIPE = `name: sw
stages:
  cams:
    uses: fake-cam
    params:
      maps:
${[0, 1, 2].map((i) => `        - { image: img${i}, index: ${i}, method: gradcam, layer: l, target: 0, cam: ${JSON.stringify(CAM)} }`).join('\n')}
  lime: { uses: fake-lime, params: { count: 3 } }
  cmp: { uses: compare, inputs: { cams: cams, lime: lime } }
  board: { uses: scoreboard, inputs: { lime: lime, compare: cmp } }
sweep:
  grid:
    stages.lime.num_samples: [200, 500]
    stages.lime.segmentation_fn.name: [quickshift, slic]
`;

const bench: BenchFn = async ({ quick }) => {
  const p = compareProject({ 'pipelines/sw.yaml': PIPE });
  try {
    const run = () => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [bin, 'sweep', 'pipelines/sw.yaml', '--quiet'], { cwd: p.dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
      if (r.status !== 0) throw new Error(`xai sweep failed (${r.status}): ${r.stderr}`);
      return performance.now() - t0;
    };
    const first = run();
    run(); // warm caches
    const n = quick ? 3 : 7;
    const walls = Array.from({ length: n }, run);
    const cpus: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; time '${process.execPath}' '${bin}' sweep pipelines/sw.yaml --quiet >/dev/null 2>&1`], { cwd: p.dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
      const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr ?? '');
      if (r.status === 0 && m) cpus.push(Number(m[1]) + Number(m[2]));
    }
    const load = (await import('node:os')).loadavg()[0];
    const wall = median(walls) / 1000;
    return [
      { name: 'rerun of a finished 4-combination sweep (CLI wall time, median)', value: wall, unit: 's', target: '< 1 s', pass: wall < 1, notes: `${n} reruns: ${walls.map((x) => (x / 1000).toFixed(2)).join(', ')} s; first (computing) sweep ${(first / 1000).toFixed(2)} s; 1-min load ${load.toFixed(1)}` },
      ...(cpus.length ? [{ name: 'rerun of a finished 4-combination sweep (CPU user+sys, median)', value: median(cpus), unit: 's', target: '< 1 s', pass: median(cpus) < 1, notes: 'independent of other load' }] : []),
    ];
  } finally {
    p.cleanup();
  }
};
export default bench;
