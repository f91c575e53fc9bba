// The CLI surface: --help everywhere, unknown commands, show, gc, non-TTY progress lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { project, xai, xaiIn, manifestOf, completeEntries, statuses } from './helpers.ts';
import { commands } from '../../src/cli/commands/index.ts';

test('--help for xai and every command; unknown command suggests the nearest', async () => {
  const p = project();
  try {
    const top = xai(p.dir, ['--help']);
    assert.equal(top.code, 0);
    for (const name of Object.keys(commands)) {
      assert.match(top.stdout, new RegExp(`^  ${name}\\s+\\S`, 'm'));
      const h = await xaiIn(p.dir, [name, '--help']);
      assert.equal(h.code, 0, `${name} --help`);
      assert.match(h.stdout, new RegExp(`Usage: xai ${name}`));
    }
    const u = await xaiIn(p.dir, ['stauts', 'x']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown command 'stauts' \(did you mean 'status'\?\)/);
    assert.equal((await xaiIn(p.dir, [])).code, 2);
  } finally {
    p.cleanup();
  }
});

test('show: a stage table (schema + rows), --limit, --columns, --json, an .arrow path, a stage summary', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', 'name: p\nstages:\n  a: { uses: squares, params: { count: 5, offset: 1 } }\n  s: { uses: sum, inputs: { src: a } }\n');
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    const t = await xaiIn(p.dir, ['show', 'pipelines/p.yaml', 'a.squares', '--limit', '2']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /schema \(5 rows\):\n  id: Utf8\n  i: Int32\n  sq: Float64\n  vec: FixedSizeList\[2\]<Float32>/);
    assert.match(t.stdout, /^n0\s+0\s+1\s+\[1, -1\]$/m);
    assert.match(t.stdout, /^n1\s+1\s+4\s+\[2, -2\]$/m);
    assert.doesNotMatch(t.stdout, /^n2/m);
    assert.match(t.stdout, /… 3 more rows/);
    const j = JSON.parse((await xaiIn(p.dir, ['show', 'pipelines/p.yaml', 'a.squares', '--json', '--columns', 'id,vec', '--limit', '3'])).stdout);
    assert.equal(j.rows, 5);
    assert.deepEqual(j.data, [
      { id: 'n0', vec: [1, -1] },
      { id: 'n1', vec: [2, -2] },
      { id: 'n2', vec: [3, -3] },
    ]);
    const file = join(p.dir, 'artifacts/p/s/total.arrow');
    const f = JSON.parse((await xaiIn(p.dir, ['show', file, '--json'])).stdout);
    assert.deepEqual(f.data, [{ total: 1 + 4 + 9 + 16 + 25 }]);
    assert.deepEqual(f.schema, [{ name: 'total', type: 'Float64', nullable: false }]);
    const sum = await xaiIn(p.dir, ['show', 'pipelines/p.yaml', 'a']);
    assert.match(sum.stdout, /a \(squares v1\) key [0-9a-f]{20}/);
    assert.match(sum.stdout, /squares: 5 rows/);
    assert.match(sum.stdout, /notes\/summary\.txt/);
    assert.match(sum.stdout, /computed: 5/);
    const bad = await xaiIn(p.dir, ['show', 'pipelines/p.yaml', 'a.sqares']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no table 'sqares' \(did you mean 'squares'\?\)/);
    const badCol = await xaiIn(p.dir, ['show', 'pipelines/p.yaml', 'a.squares', '--columns', 'nope']);
    assert.equal(badCol.code, 2);
    assert.match(badCol.stderr, /unknown column\(s\) 'nope'; columns: id, i, sq, vec/);
  } finally {
    p.cleanup();
  }
});

test('gc: dry run lists entries no current output uses; --yes deletes them and keeps the rest', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', 'name: p\nstages:\n  a: { uses: squares, params: { count: 3 } }\n  s: { uses: sum, inputs: { src: a } }\n');
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    const old = manifestOf(p, 'a').key;
    p.write('pipelines/p.yaml', 'name: p\nstages:\n  a: { uses: squares, params: { count: 4 } }\n  s: { uses: sum, inputs: { src: a } }\n');
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    assert.equal(completeEntries(p).length, 4);
    const dry = await xaiIn(p.dir, ['gc']);
    assert.equal(dry.code, 0);
    assert.match(dry.stdout, new RegExp(`would delete cache/squares/${old}`));
    assert.match(dry.stdout, /2 entries, .* would be freed; rerun with --yes/);
    assert.equal(completeEntries(p).length, 4, 'dry run deletes nothing');
    const yes = xai(p.dir, ['gc', '--yes']);
    assert.equal(yes.code, 0);
    assert.match(yes.stdout, /deleted 2 entries/);
    assert.equal(completeEntries(p).length, 2);
    assert.ok(!existsSync(join(p.dir, 'artifacts/cache/squares', old)));
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    assert.deepEqual(statuses(p), { a: 'cached', s: 'cached' });
    assert.match((await xaiIn(p.dir, ['gc'])).stdout, /nothing to delete/);
  } finally {
    p.cleanup();
  }
});

test('non-TTY progress: plain log lines per stage', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', 'name: p\nstages:\n  a: { uses: squares, params: { count: 3 } }\n  s: { uses: sum, inputs: { src: a } }\n');
    const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /^run p: 2 stage\(s\), jobs \d+$/m);
    assert.match(r.stderr, /^  ▸ a \(squares\) running, key [0-9a-f]{20}$/m);
    assert.match(r.stderr, /^    a: 3\/3 items/m);
    assert.match(r.stderr, /^  ✓ a done in [\d.]+s \([0-9a-f]{20}\)$/m);
    assert.match(r.stderr, /^ok in [\d.]+s \(2 done\); outputs in artifacts\/p\/$/m);
    assert.doesNotMatch(r.stderr, /\x1b\[/, 'no escape codes when not a TTY');
    const r2 = xai(p.dir, ['run', 'pipelines/p.yaml', '--quiet']);
    assert.equal(r2.stderr, `ok in ${/ok in ([\d.]+)s/.exec(r2.stderr)![1]}s (2 cached); outputs in artifacts/p/\n`);
  } finally {
    p.cleanup();
  }
});

test('gc: an empty work dir of a stage that failed before writing anything is an orphan: listed and removed', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', 'name: p\nstages:\n  b: { uses: boom }\n');
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 1);
    const work = join(p.dir, 'artifacts/work/boom');
    assert.ok(existsSync(work), 'the failed stage left its (empty) work dir');
    const dry = await xaiIn(p.dir, ['gc']);
    assert.match(dry.stdout, /would delete work\/boom\/[0-9a-f]{20} \(0 B\)/);
    assert.equal(xai(p.dir, ['gc', '--yes']).code, 0);
    assert.ok(!existsSync(join(work, readdirSync(work)[0] ?? 'none')), 'removed');
  } finally {
    p.cleanup();
  }
});
