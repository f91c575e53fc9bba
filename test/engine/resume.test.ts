// Nothing partial, nothing lost: SIGKILL mid-way through a per-item stage, then resume; corrupted entries; locks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { project, xai, xaiIn, xaiAsync, waitFor, statuses, manifestOf, completeEntries } from './helpers.ts';

const PIPE = `name: p
stages:
  sq:
    uses: squares
    params: { count: 40, chunk: 4 }
  total:
    uses: sum
    inputs: { src: sq }
`;

function chunksDone(dir: string): number {
  const work = join(dir, 'artifacts/work/squares');
  if (!existsSync(work)) return 0;
  let n = 0;
  for (const key of readdirSync(work)) {
    const d = join(work, key, 'map', 'squares');
    if (existsSync(d)) n += readdirSync(d).filter((f) => /^chunk-\d+\.json$/.test(f)).length;
  }
  return n;
}

test('SIGKILL in the middle of a per-item stage, then rerun: same table as a clean run, fewer items computed', async () => {
  const clean = project();
  const killed = project();
  try {
    clean.write('pipelines/p.yaml', PIPE);
    killed.write('pipelines/p.yaml', PIPE);
    assert.equal(xai(clean.dir, ['run', 'pipelines/p.yaml']).code, 0);
    const ref = manifestOf(clean, 'sq');
    assert.equal(ref.meta.computed, 40);

    const run = xaiAsync(killed.dir, ['run', 'pipelines/p.yaml'], { XAI_TEST_SLEEP_MS: '40' });
    await waitFor(() => chunksDone(killed.dir) >= 3, 30000, 'three finished chunks');
    run.child.kill('SIGKILL');
    const res = await run.done;
    assert.equal(res.signal, 'SIGKILL');
    // Nothing counts as complete, and the lock of the dead process does not block the rerun.
    assert.deepEqual(completeEntries(killed), []);
    assert.ok(existsSync(join(killed.dir, 'artifacts/lock')), 'the killed run left its lock behind');
    const doneBefore = chunksDone(killed.dir);
    assert.ok(doneBefore >= 3 && doneBefore < 10, `chunks done before rerun: ${doneBefore}`);

    const r = xai(killed.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 0, r.stderr);
    const m = manifestOf(killed, 'sq');
    assert.equal(m.key, ref.key);
    assert.ok(m.meta.resumed >= 12, `resumed ${m.meta.resumed}`);
    assert.equal(m.meta.computed + m.meta.resumed, 40);
    assert.ok(m.meta.computed < 40);
    assert.deepEqual(m.map.squares, { items: 40, computed: m.meta.computed, resumed: m.meta.resumed, errors: 0 });
    // Same rows, same values: the Arrow files are byte-identical.
    const file = (mm: any, name: string) => mm.files.find((f: any) => f.path === name);
    assert.equal(file(m, 'squares.arrow').sha256, file(ref, 'squares.arrow').sha256);
    assert.deepEqual(
      readFileSync(join(killed.dir, 'artifacts/p/sq/squares.arrow')),
      readFileSync(join(clean.dir, 'artifacts/p/sq/squares.arrow')),
    );
    assert.equal(manifestOf(killed, 'total').meta.total, manifestOf(clean, 'total').meta.total);
    // The work dir is gone once committed; the stale lock was taken over and released.
    assert.equal(chunksDone(killed.dir), 0);
    assert.ok(!existsSync(join(killed.dir, 'artifacts/lock')));
  } finally {
    clean.cleanup();
    killed.cleanup();
  }
});

test('an interrupted --force resumes its own partial work when rerun with the same --force (and a fresh --force after a success does not)', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', PIPE);
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    const run = xaiAsync(p.dir, ['run', 'pipelines/p.yaml', '--force', 'sq'], { XAI_TEST_SLEEP_MS: '40' });
    await waitFor(() => chunksDone(p.dir) >= 3, 30000, 'three finished chunks');
    run.child.kill('SIGKILL');
    assert.equal((await run.done).signal, 'SIGKILL');
    const doneBefore = chunksDone(p.dir);
    const r = xai(p.dir, ['run', 'pipelines/p.yaml', '--force', 'sq']);
    assert.equal(r.code, 0, r.stderr);
    const m = manifestOf(p, 'sq');
    assert.ok(m.meta.resumed >= 4 * doneBefore - 4 && m.meta.resumed >= 8, `resumed ${m.meta.resumed} (chunks before: ${doneBefore})`);
    assert.equal(m.meta.computed + m.meta.resumed, 40);
    // finished: the next --force starts from scratch
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml', '--force', 'sq']).code, 0);
    assert.equal(manifestOf(p, 'sq').meta.computed, 40);
  } finally {
    p.cleanup();
  }
});

test('a corrupted cache entry (checksum mismatch) is detected and recomputed', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', PIPE);
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    const m = manifestOf(p, 'sq');
    const f = join(p.dir, 'artifacts/cache/squares', m.key, 'squares.arrow');
    const good = readFileSync(f);
    const bad = Buffer.from(good);
    bad[bad.length - 200] ^= 0xff; // same size, one byte flipped
    writeFileSync(f, bad);
    const st = JSON.parse((await xaiIn(p.dir, ['status', 'pipelines/p.yaml', '--json'])).stdout);
    assert.equal(st.stages[0].status, 'stale');
    assert.match(st.stages[0].reasons[0], /cache entry corrupted: file squares\.arrow checksum mismatch/);
    const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /sq: cache entry [0-9a-f]+ is corrupted \(file squares\.arrow checksum mismatch/);
    assert.deepEqual(statuses(p), { sq: 'done', total: 'cached' });
    assert.deepEqual(readFileSync(f), good);
    // A deleted file is caught too (size/mtime check, no re-hash needed).
    rmSync(join(p.dir, 'artifacts/cache/squares', m.key, 'notes/summary.txt'));
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    assert.equal(statuses(p).sq, 'done');
    // --verify re-hashes even files whose size and mtime look right (mtime restored to the nanosecond).
    const ns = statSync(f, { bigint: true }).mtimeNs;
    const b2 = readFileSync(f);
    b2[b2.length - 100] ^= 0x01;
    writeFileSync(f, b2);
    spawnSync('touch', ['-m', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, f]);
    assert.equal(statSync(f).mtimeMs, manifestOf(p, 'sq').files.find((x: any) => x.path === 'squares.arrow').mtimeMs);
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    assert.equal(statuses(p).sq, 'cached', 'default check trusts an unchanged size+mtime');
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml', '--verify']).code, 0);
    assert.equal(statuses(p).sq, 'done');
    assert.deepEqual(readFileSync(f), good);
  } finally {
    p.cleanup();
  }
});


test('two concurrent runs are safe: the second names the lock holder, or waits with --wait', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', PIPE.replace('count: 40', 'count: 12'));
    const gate = join(p.dir, 'gate');
    const first = xaiAsync(p.dir, ['run', 'pipelines/p.yaml'], { XAI_TEST_GATE: gate });
    await waitFor(() => existsSync(join(p.dir, 'artifacts/lock')), 20000, 'the lock');
    const second = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`locked by another xai process: pid ${first.child.pid} on ${hostname()}, started \\d{4}-`));
    const waiting = xaiAsync(p.dir, ['run', 'pipelines/p.yaml', '--wait']);
    await waitFor(() => /waiting for the artifacts lock held by pid/.test(waiting.output().stderr), 20000, 'the waiting message');
    writeFileSync(gate, '');
    const [r1, r3] = await Promise.all([first.done, waiting.done]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r3.code, 0, r3.stderr);
    // The waiting run saw the first one's results: computed once.
    assert.deepEqual(statuses(p), { sq: 'cached', total: 'cached' });
    assert.equal(completeEntries(p).length, 2);
    assert.ok(!existsSync(join(p.dir, 'artifacts/lock')));
  } finally {
    p.cleanup();
  }
});

test('a stale lock (dead pid on this host) is taken over; a live one is not', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', PIPE.replace('count: 40', 'count: 2'));
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    const lockFile = join(p.dir, 'artifacts/lock');
    const write = (pid: number) => {
      const fd = openSync(lockFile, 'w');
      writeSync(fd, JSON.stringify({ pid, host: hostname(), started: '2026-01-01T00:00:00.000Z', command: 'xai run x' }));
      closeSync(fd);
    };
    p.write('artifacts/.keep', '');
    write(deadPid);
    const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`took over a stale lock of pid ${deadPid}`));
    write(process.pid); // this test process: alive
    const r2 = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, new RegExp(`pid ${process.pid} on ${hostname()}, started 2026-01-01T00:00:00.000Z \\(xai run x\\)`));
  } finally {
    p.cleanup();
  }
});
