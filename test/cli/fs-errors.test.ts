// The file system refusing a write ends a command with one line naming the path and exit 2 — no stack trace, no hang:
// artifacts/ being a plain file, --out under /proc (Node's recursive mkdir would loop forever there), --out a file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { project, xai } from '../engine/helpers.ts';

const p = project({ 'pipelines/p.yaml': 'name: p\nstages:\n  a: { uses: noop }\n' });
after(() => p.cleanup());

const oneLine = (r: { stderr: string }) => {
  assert.doesNotMatch(r.stderr, /\n\s+at |EPIPE/);
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('error:')).length, 1, r.stderr);
};

test('artifacts/ is a plain file: exit 2, the path named', () => {
  writeFileSync(join(p.dir, 'artifacts'), 'not a directory');
  const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /artifacts.*(a file is in the way|is a file, not a directory|a path component is a file)/);
  oneLine(r);
});

test('--out under /proc or onto a file is refused up front (make-dataset, report)', () => {
  const cases: [string[], RegExp][] = [
    [['make-dataset', 'shapes', '--out', '/proc/nope', '--count', '2'], /--out \/proc\/nope: cannot write under \/proc/],
    [['make-dataset', 'shapes', '--out', 'pipelines/p.yaml/x', '--count', '2'], /pipelines\/p\.yaml is a file, not a directory/],
    [['report', 'p', '--out', '/proc/x'], /--out \/proc\/x: cannot write under \/proc/],
  ];
  for (const [args, re] of cases) {
    const r = xai(p.dir, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    oneLine(r);
  }
  assert.ok(!existsSync('/proc/nope'));
});
