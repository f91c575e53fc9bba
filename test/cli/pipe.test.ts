// A closed output pipe (`xai show … | head -3`, `xai run … 2>&1 | head -2`): the command ends quietly — no EPIPE stack
// trace —, and a run stops as on Ctrl-C: its lock is released and its finished chunks are kept for the next run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bin, project, xai } from '../engine/helpers.ts';

const p = project({ 'pipelines/p.yaml': 'name: p\nstages:\n  nums: { uses: squares, params: { count: 400, chunk: 2 } }\n' });
after(() => p.cleanup());

/** Runs the CLI with stdout and stderr on one pipe whose reader goes away after `lines` lines. */
function headed(args: string[], lines: number, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: p.dir, env: { ...process.env, ...env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  let closed = false;
  const onData = (d: Buffer) => {
    if (closed) return;
    seen += d.toString();
    if (seen.split('\n').length > lines) {
      closed = true;
      child.stdout.destroy();
      child.stderr.destroy();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise<{ code: number | null; seen: string }>((res) => child.on('exit', (code) => res({ code, seen })));
}

test('xai show | head: ends quietly with exit 0', async () => {
  assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
  const r = await headed(['show', 'pipelines/p.yaml', 'nums.squares', '--limit', '400'], 3);
  assert.equal(r.code, 0);
  assert.doesNotMatch(r.seen, /EPIPE|\n\s+at /);
});

test('xai run 2>&1 | head: the run stops as on Ctrl-C, releases its lock and keeps its finished chunks', async () => {
  const r = await headed(['run', 'pipelines/p.yaml', '--force', 'nums'], 2, { XAI_TEST_SLEEP_MS: '5' });
  assert.equal(r.code, 130);
  assert.ok(!existsSync(join(p.dir, 'artifacts/lock')), 'the lock is released');
  const work = join(p.dir, 'artifacts/work/squares');
  assert.ok(existsSync(work) && readdirSync(work).length === 1, 'the interrupted work dir is kept');
  // the next run is not blocked by a leftover lock
  const again = xai(p.dir, ['run', 'pipelines/p.yaml']);
  assert.equal(again.code, 0, again.stderr);
});
