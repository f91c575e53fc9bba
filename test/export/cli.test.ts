// `xai export` through the CLI on a fixture pipeline: one table, a stage, a run, the pipeline's export: block, and bad
// input — each a one-line message with exit 2 and nothing written.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { project, xai } from '../engine/helpers.ts';

const p = project({
  'pipelines/p.yaml': `name: p
stages:
  nums: { uses: squares, params: { count: 5 } }
  total: { uses: sum, inputs: { src: nums } }
export:
  - { table: total.total, format: csv }
  - { table: nums, format: jsonl, out: out/jsonl }
`,
});
after(() => p.cleanup());

test('xai run writes the export: block; xai export writes one table, a stage, a whole run', () => {
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /exported 2 file\(s\): exports\/p\/total, out\/jsonl\/nums/);
  assert.equal(readFileSync(join(p.dir, 'exports/p/total/total.csv'), 'utf8'), 'total\n30\n'); // 0 + 1 + 4 + 9 + 16
  assert.equal(readFileSync(join(p.dir, 'out/jsonl/nums/squares.jsonl'), 'utf8').trim().split('\n').length, 5);

  const one = xai(p.dir, ['export', 'pipelines/p.yaml', 'nums.squares', '--format', 'csv', '--columns', 'id,sq', '--out', 'e/sq.csv']);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(readFileSync(join(p.dir, 'e/sq.csv'), 'utf8'), 'id,sq\nn0,0\nn1,1\nn2,4\nn3,9\nn4,16\n');
  const run = xai(p.dir, ['export', 'pipelines/p.yaml', '--out', 'e/run']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(readdirSync(join(p.dir, 'e/run')).sort(), ['nums', 'total']);
  assert.ok(existsSync(join(p.dir, 'e/run/nums/squares.parquet')));
  // a table with a list column: skipped for CSV when exporting a run, named
  const csv = xai(p.dir, ['export', 'pipelines/p.yaml', '--format', 'csv', '--out', 'e/csv']);
  assert.equal(csv.code, 0, csv.stderr);
  assert.match(csv.stderr, /skipped nums\.squares: CSV takes scalar columns only; vec is a list or tensor/);
});

test('bad input: one located line, exit 2, nothing written', () => {
  const cases: [string[], RegExp][] = [
    [['export', 'pipelines/p.yaml', 'nosuch'], /no stage 'nosuch' in pipelines\/p\.yaml/],
    [['export', 'pipelines/p.yaml', 'nums.nope'], /stage 'nums' has no table 'nope' \(tables: squares, squares_errors\)/],
    [['export', 'pipelines/p.yaml', 'nums', '--format', 'xlsx'], /--format must be one of parquet, csv, npy, jsonl, got 'xlsx'/],
    [['export', 'pipelines/p.yaml', 'nums.squares', '--format', 'csv', '--out', 'bad/x.csv'], /CSV takes scalar columns only; vec is a list or tensor/],
    [['export', 'pipelines/p.yaml', 'nums.squares', '--format', 'npy', '--out', 'bad'], /NPY is for tensor columns and this table has none/],
    [['export', 'pipelines/p.yaml', 'nums.squares', '--columns', 'id,zz', '--out', 'bad'], /table nums\.squares has no column zz/],
    [['export', 'pipelines/p.yaml', 'nums', '--out', '/proc/nope'], /cannot write under \/proc/],
    [['export', 'pipelines/p.yaml', 'nums', '--out', 'pipelines/p.yaml/x'], /pipelines\/p\.yaml is a file, not a directory/],
    [['export', 'no-such-run'], /no run 'no-such-run'/],
    [['export'], /expected <pipeline\.yaml> <stage>/],
  ];
  for (const [args, re] of cases) {
    const r = xai(p.dir, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1 + (r.stderr.includes('\n  ') ? 1 : 0), `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  assert.ok(!existsSync(join(p.dir, 'bad')), 'nothing written');
  // the export: block names a stage of the pipeline
  p.write('pipelines/q.yaml', 'name: q\nstages:\n  nums: { uses: squares }\nexport:\n  - { table: numz }\n');
  const v = xai(p.dir, ['validate', 'pipelines/q.yaml']);
  assert.equal(v.code, 2);
  assert.match(v.stderr, /pipelines\/q\.yaml:5:\d+: export\[0\]\.table: export: unknown stage 'numz'/);
});
