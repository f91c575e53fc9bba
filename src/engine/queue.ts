// The distributed executor: ctx.map's units as BullMQ jobs on Redis, run by `xai worker --queue redis://host:port`
// processes on any machine that sees the same artifacts/ directory (a shared file system, e.g. NFS: the coordinator
// and the workers read the item module's config and write the shards under the stage's work dir, and open models from
// the same paths). Delivery is at-least-once: a worker writes a unit's outcomes (v8-serialised: rows with typed arrays,
// files, times) under a temporary name and renames it, so a repeated unit is harmless; a worker killed mid-unit loses
// its job lock and BullMQ's stalled-job check puts the job back in the queue for another worker. The coordinator pings
// Redis every second: when it stops answering, the map fails with a clear error (nothing is committed).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { errorMessage } from './errors.ts';
import { factoryOf, runUnit, type ItemFunction, type ItemRunner, type Outcome } from './executor.ts';

export const QUEUE_NAME = 'xai-items';

/** The job of one unit. */
interface UnitJob {
  url: string;
  factory: string;
  /** The item function's config, written once per map (v8). */
  configFile: string;
  projectRoot: string;
  /** The unit's items (v8: typed arrays survive; job data is JSON). */
  itemsFile: string;
  indices: number[];
  /** Where the worker writes the unit's outcomes (renamed into place when complete). */
  shard: string;
}

/** redis://host:port[/db] → ioredis options (loopback or any host; no credentials in the URL are supported). */
export function redisOptions(url: string): { host: string; port: number; db?: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue: '${url}' is not a URL (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:') throw new Error(`--queue: '${url}' is not a redis:// URL (expected redis://host:port)`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379), ...(db !== undefined && Number.isInteger(db) ? { db } : {}) };
}

/** The coordinator side: enqueues units and waits for their shards. */
export class QueueExecutor {
  private queue: import('bullmq').Queue | undefined;
  private events: import('bullmq').QueueEvents | undefined;
  private failure: Error | undefined;
  private readonly waiters = new Set<(e: Error) => void>();
  private pinger: NodeJS.Timeout | undefined;
  private configFile = '';
  concurrency = 32;

  constructor(
    private readonly url: string,
    private readonly fn: Pick<ItemFunction<unknown, unknown>, 'module' | 'factory' | 'config'>,
    private readonly dir: string,
    private readonly projectRoot: string,
  ) {}

  async open(): Promise<void> {
    const { Queue, QueueEvents } = await import('bullmq');
    const opts = redisOptions(this.url);
    // give up reconnecting after a few tries: a Redis that went away ends the run (below), it is not waited for
    const connection = { ...opts, maxRetriesPerRequest: null, retryStrategy: (n: number) => (n > 3 ? null : 200 * n) };
    this.queue = new Queue(QUEUE_NAME, { connection });
    this.events = new QueueEvents(QUEUE_NAME, { connection });
    this.queue.on('error', () => {});
    this.events.on('error', () => {});
    // every unit in flight waits on the events (job.waitUntilFinished adds a listener): not a leak
    this.queue.setMaxListeners(0);
    this.events.setMaxListeners(0);
    try {
      await this.ping();
      await this.events.waitUntilReady();
    } catch (e) {
      await this.close();
      throw new Error(`cannot reach Redis at ${this.url}: ${errorMessage(e)}`);
    }
    mkdirSync(join(this.dir, 'shards'), { recursive: true });
    this.configFile = join(this.dir, 'shards', 'config.bin');
    writeAtomicSync(this.configFile, serialize(this.fn.config));
    let misses = 0;
    this.pinger = setInterval(() => {
      this.ping().then(
        () => void (misses = 0),
        (e) => {
          if (++misses >= 3) this.fail(new Error(`lost the connection to Redis at ${this.url} (${errorMessage(e)}); nothing was committed, rerun to resume`));
        },
      );
    }, 1000);
  }

  private async ping(): Promise<void> {
    const client = await this.queue!.client;
    // the 2-s deadline is cleared once Redis answers: a pending timer would keep the process alive after the run
    let deadline: NodeJS.Timeout | undefined;
    try {
      await Promise.race([(client as unknown as { ping(): Promise<string> }).ping(), new Promise((_, rej) => (deadline = setTimeout(() => rej(new Error('no answer in 2 s')), 2000)))]);
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Fails every unit waited for, and every later one. */
  fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters) w(this.failure);
    this.waiters.clear();
  }

  async run(items: unknown[], indices: number[]): Promise<Outcome[]> {
    if (this.failure) throw this.failure;
    const shard = join(this.dir, 'shards', `unit-${String(indices[0]).padStart(9, '0')}.bin`);
    const itemsFile = join(this.dir, 'shards', `unit-${String(indices[0]).padStart(9, '0')}.in.bin`);
    rmSync(shard, { force: true });
    writeAtomicSync(itemsFile, serialize(items));
    const data: UnitJob = { url: this.fn.module.url, factory: this.fn.factory, configFile: this.configFile, projectRoot: this.projectRoot, itemsFile, indices, shard };
    const job = await this.queue!.add('unit', data, { removeOnComplete: { age: 3600 }, removeOnFail: { age: 3600 } });
    let reject!: (e: Error) => void;
    const failed = new Promise<never>((_, r) => (reject = r));
    this.waiters.add(reject);
    try {
      await Promise.race([job.waitUntilFinished(this.events!), failed]);
    } catch (e) {
      throw this.failure ?? new Error(`unit at item ${indices[0]} failed on a worker: ${errorMessage(e)}`);
    } finally {
      this.waiters.delete(reject);
    }
    const outcomes = deserialize(readFileSync(shard)) as Outcome[];
    rmSync(shard, { force: true });
    rmSync(itemsFile, { force: true });
    return outcomes;
  }

  async close(): Promise<void> {
    if (this.pinger) clearInterval(this.pinger);
    await Promise.allSettled([this.events?.close(), this.queue?.close()]);
    rmSync(join(this.dir, 'shards'), { recursive: true, force: true });
  }
}

function writeAtomicSync(path: string, data: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export interface WorkerOptions {
  url: string;
  /** Jobs at once in this process (default 1); onnxruntime's threads are split between them. */
  concurrency?: number;
  /** onnxruntime intra-op threads per job (default: cores / concurrency; lower it when several workers share a machine). */
  threads?: number;
  /** How long a job's lock lasts without renewal: a killed worker's job is re-queued after about this (default 30000). */
  lockMs?: number;
  log?: (msg: string) => void;
  signal?: AbortSignal;
}

/** `xai worker`: runs units from the queue until `signal` aborts. Runners are opened once per (module, config). */
export async function runWorker(o: WorkerOptions): Promise<void> {
  const { Queue, Worker } = await import('bullmq');
  // Redis must answer before the worker starts (a worker that cannot reach it says so and exits)
  const probe = new Queue(QUEUE_NAME, { connection: { ...redisOptions(o.url), maxRetriesPerRequest: null, retryStrategy: (n: number) => (n > 3 ? null : 200 * n) } });
  probe.on('error', () => {});
  try {
    const client = (await probe.client) as unknown as { ping(): Promise<string> };
    await client.ping();
  } catch (e) {
    throw new Error(`cannot reach Redis at ${o.url}: ${errorMessage(e)}`);
  } finally {
    await probe.close().catch(() => {});
  }
  const concurrency = Math.max(1, o.concurrency ?? 1);
  const threads = o.threads ?? Math.max(1, Math.floor(availableParallelism() / concurrency));
  const runners = new Map<string, Promise<ItemRunner<unknown>>>();
  const lockMs = o.lockMs ?? 30000;
  const connection = { ...redisOptions(o.url), maxRetriesPerRequest: null };
  const worker = new Worker<UnitJob>(
    QUEUE_NAME,
    async (job) => {
      const d = job.data;
      const key = `${d.url}\n${d.factory}\n${d.configFile}\n${createHash('sha256').update(readFileSync(d.configFile)).digest('hex')}`;
      let r = runners.get(key);
      if (!r) {
        r = (async () => {
          const mod = (await import(d.url)) as { url: string } & Record<string, unknown>;
          return factoryOf<unknown, unknown>({ module: mod, factory: d.factory })(deserialize(readFileSync(d.configFile)), { threads, projectRoot: d.projectRoot });
        })();
        runners.set(key, r);
      }
      const items = deserialize(readFileSync(d.itemsFile)) as unknown[];
      const outcomes = await runUnit(await r, items, d.indices, { now: () => performance.now(), aborted: () => false });
      for (const oc of outcomes) if (oc.error) delete oc.error.cause;
      writeAtomicSync(d.shard, serialize(outcomes));
      o.log?.(`unit at item ${d.indices[0]} (${d.indices.length} items) done`);
      return { shard: d.shard };
    },
    { connection, concurrency, lockDuration: lockMs, stalledInterval: Math.max(500, Math.floor(lockMs / 2)), maxStalledCount: 5 },
  );
  let last = '';
  worker.on('error', (e) => {
    // once per distinct message (a Redis that went away reports on every reconnect attempt)
    if (errorMessage(e) !== last) o.log?.(`queue error: ${(last = errorMessage(e))}`);
  });
  await worker.waitUntilReady();
  o.log?.(`worker on ${o.url}: concurrency ${concurrency}, ${threads} onnxruntime thread(s) per job`);
  await new Promise<void>((resolve) => {
    if (o.signal?.aborted) return resolve();
    o.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await worker.close();
}
