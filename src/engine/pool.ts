// The local executor: a pool of worker threads, each with its own runner of an item module (its own model session),
// fed units (batches of items) by ctx.map on the main thread, which only schedules, writes files, commits chunks and
// reports progress. Worker protocol: src/engine/item-host.ts.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ItemFunction, Outcome, WorkerEnv } from './executor.ts';

type FromWorker = { type: 'ready' } | { type: 'result'; id: number; outcomes: Outcome[] } | { type: 'fatal'; message: string };

/** Intra-op threads per worker so that all workers together use the machine's cores (at least 1 each). */
export function threadsPerWorker(workers: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / workers));
}

export class ItemPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private readonly pending = new Map<number, { worker: Worker; resolve: (o: Outcome[]) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;
  private nextId = 0;
  private closed = false;

  constructor(
    fn: Pick<ItemFunction<unknown, unknown>, 'module' | 'factory' | 'config'>,
    size: number,
    env: WorkerEnv,
    private readonly what: string,
  ) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./item-worker.mjs', import.meta.url), {
        workerData: { url: fn.module.url, factory: fn.factory, config: fn.config, env },
      });
      this.workers.push(w);
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') this.release(w);
        else if (m.type === 'result') {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          this.release(w);
          p?.resolve(m.outcomes);
        } else this.fail(new Error(`${what} worker ${i}: ${m.message}`));
      });
      w.on('error', (e) => this.fail(new Error(`${what} worker ${i}: ${e.message}`)));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`${what} worker ${i} exited (code ${code})`));
      });
    }
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  /** Fails every unit in flight and every later one with `e` (an interruption). */
  abort(e: Error): void {
    this.fail(e);
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    for (const wake of this.waiting.splice(0)) wake(undefined as unknown as Worker);
  }

  /** Runs one unit on the next free worker. */
  async run(items: unknown[], indices: number[]): Promise<Outcome[]> {
    if (this.failure) throw this.failure;
    const w = this.idle.pop() ?? (await new Promise<Worker>((r) => this.waiting.push(r)));
    if (this.failure || !w) throw this.failure ?? new Error(`${this.what}: pool closed`);
    const id = this.nextId++;
    return new Promise<Outcome[]>((resolve, reject) => {
      this.pending.set(id, { worker: w, resolve, reject });
      w.postMessage({ type: 'unit', id, items, indices });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
