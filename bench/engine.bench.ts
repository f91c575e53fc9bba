// Engine bench: wall time of a no-op rerun of a finished 8-stage pipeline through the real CLI process
// (`node bin/xai.mjs run`: start-up, validation, stage module imports, cache checks, run record). Target < 1 s.
// Baseline in the same run: a bare `node -e 0` start, for the ratio.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { BenchFn } from './types.ts';

const repo = resolve(import.meta.dirname, '..');
const bin = join(repo, 'bin', 'xai.mjs');

function time(cmd: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, cmd, { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

/** user+sys CPU seconds of one run (bash's `time`), a figure that does not depend on other load; undefined without bash. */
function cpu(cmd: string[], cwd: string): number | undefined {
  const quoted = [process.execPath, ...cmd].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; time ${quoted} >/dev/null 2>&1`], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr ?? '');
  return r.status === 0 && m ? Number(m[1]) + Number(m[2]) : undefined;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const bench: BenchFn = async ({ quick }) => {
  const dir = mkdtempSync(join(tmpdir(), 'xai-bench-engine-'));
  try {
    mkdirSync(join(dir, 'pipelines'));
    const noop = relative(join(dir, 'pipelines'), join(repo, 'test/fixtures/stages/noop.ts'));
    // 8 stages: two chains of three joined by two more (fan-in), so inputs, keys and manifests are all exercised.
    const stages = [
      `  s1: { uses: ${noop}, params: { n: 1 } }`,
      `  s2: { uses: ${noop}, inputs: { prev: s1 }, params: { n: 2 } }`,
      `  s3: { uses: ${noop}, inputs: { prev: s2 }, params: { n: 3 } }`,
      `  t1: { uses: ${noop}, params: { n: 11 } }`,
      `  t2: { uses: ${noop}, inputs: { prev: t1 }, params: { n: 12 } }`,
      `  t3: { uses: ${noop}, inputs: { prev: t2 }, params: { n: 13 } }`,
      `  j1: { uses: ${noop}, inputs: { prev: s3, other: t3 }, params: { n: 21 } }`,
      `  j2: { uses: ${noop}, inputs: { prev: j1 }, params: { n: 22 } }`,
    ];
    writeFileSync(join(dir, 'pipelines/b.yaml'), `name: b\nstages:\n${stages.join('\n')}\n`);
    const first = time([bin, 'run', 'pipelines/b.yaml'], dir);
    const n = quick ? 3 : 7;
    time([bin, 'run', 'pipelines/b.yaml'], dir); // warm the OS file cache and the transpile cache
    const reruns = Array.from({ length: n }, () => time([bin, 'run', 'pipelines/b.yaml', '--quiet'], dir));
    const nodeStart = median(Array.from({ length: n }, () => time(['-e', '0'], dir)));
    const value = median(reruns) / 1000;
    const cpus = Array.from({ length: n }, () => cpu([bin, 'run', 'pipelines/b.yaml', '--quiet'], dir)).filter((x): x is number => x !== undefined);
    const load = (await import('node:os')).loadavg()[0];
    const cpuFig = cpus.length
      ? [{ name: 'no-op rerun of a finished 8-stage pipeline (CPU user+sys, median)', value: median(cpus), unit: 's', target: '< 1 s', pass: median(cpus) < 1, notes: `independent of other load; 1-min load average during the bench ${load.toFixed(1)}` }]
      : [];
    return [
      {
        name: 'no-op rerun of a finished 8-stage pipeline (CLI process wall time, median)',
        value,
        unit: 's',
        baseline: { name: 'node -e 0 start-up', value: nodeStart / 1000 },
        ratio: value / (nodeStart / 1000),
        target: '< 1 s',
        pass: value < 1,
        notes: `${n} reruns: ${reruns.map((x) => (x / 1000).toFixed(2)).join(', ')} s; first (computing) run ${(first / 1000).toFixed(2)} s; 1-min load average ${load.toFixed(1)}`,
      },
      ...cpuFig,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
export default bench;
