// `xai export` of the demo's whole run (every stage's tables; the full demo, run once in a copy of the project):
// wall time of the CLI process per format. Target: Parquet < 5 s.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { projectCopy } from '../test/engine/helpers.ts';
import type { BenchFigure, BenchFn } from './types.ts';

function sizeOf(dir: string): { files: number; bytes: number } {
  let files = 0, bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else ((files += 1), (bytes += statSync(join(d, e.name)).size));
    }
  };
  walk(dir);
  return { files, bytes };
}

const bench: BenchFn = async ({ quick }) => {
  const copy = projectCopy();
  const dir = copy.dir;
  try {
    const xai = (args: string[]) => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [join(dir, 'bin/xai.mjs'), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
      if (r.status !== 0) throw new Error(`xai ${args.join(' ')} failed: ${r.stderr}`);
      return performance.now() - t0;
    };
    const small = quick ? ['stages.shapes.count=40', 'stages.heldout.count=4', 'stages.lime.num_samples=100', 'stages.descriptions.top_k=10'].flatMap((s) => ['--set', s]) : [];
    const demo = xai(['run', 'pipelines/demo.yaml', '--quiet', ...small]);
    const figures: BenchFigure[] = [];
    for (const format of ['parquet', 'csv', 'npy', 'jsonl']) {
      const out = join(dir, 'exports', format);
      const ms = xai(['export', 'pipelines/demo.yaml', '--format', format, '--out', out]);
      const s = sizeOf(out);
      figures.push({
        name: `xai export of the demo's whole run, ${format} (CLI wall time)`,
        value: ms / 1000,
        unit: 's',
        ...(format === 'parquet' ? { target: '< 5 s', pass: ms < 5000 } : {}),
        notes: `${s.files} files, ${(s.bytes / 1e6).toFixed(1)} MB${quick ? ' (quick: a small demo)' : ''}; the demo run took ${(demo / 1000).toFixed(0)} s`,
      });
    }
    return figures;
  } finally {
    copy.cleanup();
  }
};
export default bench;
