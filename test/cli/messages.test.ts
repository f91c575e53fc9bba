// One-line messages for argument and file mistakes: a negative number given to an option, a pipeline with no runs, a
// truncated Arrow file — each exit 2, naming what is wrong and what was expected, no stack trace.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { project, xai } from '../engine/helpers.ts';

const p = project({ 'pipelines/p.yaml': 'name: p\nstages:\n  nums: { uses: squares, params: { count: 50 } }\n' });
after(() => p.cleanup());

test('bad arguments and files: exit 2 with a located, expected-value message', () => {
  assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
  const arrow = join(p.dir, 'artifacts/p/nums/squares.arrow');
  writeFileSync(join(p.dir, 'trunc.arrow'), readFileSync(arrow).subarray(0, 200));
  const cases: [string[], RegExp][] = [
    [['make-dataset', 'shapes', '--out', 'd', '--count', '-5'], /--count must be an integer >= 1, got '-5'/],
    [['show', 'pipelines/p.yaml', 'nums', '--limit', '-1'], /--limit must be an integer >= 0, got '-1'/],
    [['runs', 'nosuch'], /no pipeline 'nosuch' has runs \(pipelines with runs: p\)/],
    [['runs', 'pp'], /did you mean 'p'\?/],
    [['validate', 'pipelines/p.yaml', '--set', 'stages.nums.count=1.5'], /--set: stages\.nums\.params\.count: expected integer, got number 1\.5/],
    [['sweep', 'pipelines/p.yaml', '--random', 'stages.nums.offset=gauss(1,2)', '--trials', '2', '--dry-run'], /unknown distribution 'gauss' \(expected uniform\(low, high\)/],
    [['show', 'trunc.arrow'], /trunc\.arrow is not a readable Arrow IPC file \(truncated or corrupt.*xai run <pipeline> --verify/],
  ];
  for (const [args, re] of cases) {
    const r = xai(p.dir, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
