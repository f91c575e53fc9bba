// The distributed executor (src/engine/queue.ts) on a real Redis (Debian's redis-server, started here on a free
// loopback port in a temp dir, stopped by pid) with real `xai worker` processes:
// - 3 workers, one kill -9ed while it holds a unit: its unit is re-queued (stalled job) and the table, bad items and
//   files equal those of a run in this thread;
// - Redis stopped mid-run: the map fails with a clear error naming Redis, and records nothing more.
// Skipped, with the reason printed, where redis-server is not installed (.ci/run installs it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Table } from 'apache-arrow';
import { tableToBytes } from '../../src/arrow/io.ts';
import { runMap, type MapEnv } from '../../src/engine/map.ts';
import { bin } from './helpers.ts';
import { mapEnv, mapOptions } from './fixtures/queue-coordinator.ts';

const missing = spawnSync('redis-server', ['--version']).error ? 'redis-server is not installed (apt-get install redis-server)' : false;
if (missing) console.log(`# skipping the queue tests: ${missing}`);

const procs: ChildProcess[] = [];
const coordinatorScript = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'queue-coordinator.ts');
let tmp = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function startRedis(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmp, 'redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  await until(() => /Ready to accept connections/.test(out), 'redis-server to start');
  return { url: `redis://127.0.0.1:${port}`, proc };
}

function startWorker(url: string): { proc: ChildProcess; log: () => string } {
  const proc = spawn(process.execPath, [bin, 'worker', '--queue', url, '--verbose'], { env: { ...process.env, XAI_QUEUE_LOCK_MS: '1000' }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  return { proc, log: () => log };
}

function stop(p: ChildProcess): void {
  if (p.exitCode === null && p.signalCode === null && p.pid) p.kill('SIGKILL');
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'xai-queue-'));
});
after(() => {
  for (const p of procs) stop(p);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function map(env: Partial<MapEnv>, sleepMs: number) {
  const tables: Record<string, Table> = {};
  const files: Record<string, string> = {};
  const r = await runMap(
    mapOptions(sleepMs),
    mapEnv(mkdtempSync(join(tmp, 'map-')), {
      writeTable: async (name, t) => void (tables[name] = t),
      writeFile: async (rel, data) => void (files[rel] = new TextDecoder().decode(data)),
      ...env,
    }),
  );
  return { r, tables, files };
}

test('queue: 3 xai worker processes, one kill -9ed holding a unit: the same table, bad items and files as a run in this thread', { skip: missing }, async () => {
  const { url } = await startRedis();
  const workers = [startWorker(url), startWorker(url), startWorker(url)];
  await until(() => workers.every((w) => /worker on redis/.test(w.log())), 'the workers to connect');
  const local = await map({ workers: 1 }, 0);
  const running = map({ queue: url }, 400);
  // every worker takes a unit of 2 × 400 ms at once; kill the first one while it holds its unit
  await new Promise((r) => setTimeout(r, 300));
  workers[0].proc.kill('SIGKILL');
  const q = await running;
  assert.deepEqual(Buffer.from(tableToBytes(q.r.table)), Buffer.from(tableToBytes(local.r.table)));
  assert.deepEqual(Buffer.from(tableToBytes(q.tables.t_errors)), Buffer.from(tableToBytes(local.tables.t_errors)));
  assert.deepEqual(q.r.errors, [{ item: 'i3', message: 'three is bad' }]);
  assert.deepEqual(q.files, local.files);
  assert.equal(q.r.computed, 12);
  assert.equal(q.r.sums.n, 11);
  // the killed worker finished nothing; the other two did every unit, the killed one's included (re-queued)
  const units = (log: string) => [...log.matchAll(/unit at item (\d+) /g)].map((m) => Number(m[1]));
  assert.deepEqual(units(workers[0].log()), []);
  assert.deepEqual([...new Set([...units(workers[1].log()), ...units(workers[2].log())])].sort((a, b) => a - b), [0, 2, 4, 6, 8, 10]);
  for (const w of workers) stop(w.proc);
});

test('queue: the coordinator kill -9ed mid-run and run again resumes the chunks it committed; the table equals a run in this thread', { skip: missing }, async () => {
  const { url } = await startRedis();
  const workers = [startWorker(url), startWorker(url)];
  await until(() => workers.every((w) => /worker on redis/.test(w.log())), 'the workers to connect');
  const local = await map({ workers: 1 }, 0);
  const dir = mkdtempSync(join(tmp, 'coordinator-'));
  const coordinator = spawn(process.execPath, ['--import', 'tsx', coordinatorScript, url, dir, '400'], { stdio: 'ignore' });
  procs.push(coordinator);
  // kill it once it has recorded a chunk as finished (and before the map is done)
  const records = () => (existsSync(join(dir, 't')) ? readdirSync(join(dir, 't')).filter((f) => /^chunk-\d+\.json$/.test(f)).length : 0);
  await until(() => records() >= 1, 'the coordinator to commit a chunk', 600);
  coordinator.kill('SIGKILL');
  await new Promise((r) => coordinator.once('exit', r));
  const done = records();
  assert.ok(done >= 1 && done < 3, `the kill came after ${done} of 3 chunks`);
  const tables: Record<string, Table> = {};
  const again = await runMap(mapOptions(400), mapEnv(dir, { queue: url, writeTable: async (name, t) => void (tables[name] = t) }));
  assert.ok(again.resumed >= 2 && again.resumed < 12, `resumed ${again.resumed} items`);
  assert.equal(again.resumed + again.computed, 12);
  assert.deepEqual(Buffer.from(tableToBytes(again.table)), Buffer.from(tableToBytes(local.r.table)));
  assert.deepEqual(again.errors, [{ item: 'i3', message: 'three is bad' }]);
  for (const w of workers) stop(w.proc);
});

test('queue: Redis stopped mid-run ends the map with an error naming Redis', { skip: missing }, async () => {
  const { url, proc } = await startRedis();
  const w = startWorker(url);
  await until(() => /worker on redis/.test(w.log()), 'the worker to connect');
  const running = map({ queue: url }, 300);
  await new Promise((r) => setTimeout(r, 500));
  proc.kill('SIGKILL');
  await assert.rejects(running, /Redis at redis:\/\/127\.0\.0\.1:\d+/);
  stop(w.proc);
});

test('queue: a Redis that is not there is a clear error before anything runs (coordinator, and xai worker: exit 1)', { skip: missing }, async () => {
  const port = await freePort();
  await assert.rejects(map({ queue: `redis://127.0.0.1:${port}` }, 0), /cannot reach Redis at redis:\/\/127\.0\.0\.1/);
  const w = spawnSync(process.execPath, [bin, 'worker', '--queue', `redis://127.0.0.1:${port}`], { encoding: 'utf8', timeout: 30000 });
  assert.equal(w.status, 1);
  assert.match(w.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1/);
});
