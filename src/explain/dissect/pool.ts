// Worker threads fed the same stream of stored parts (label-units' tally, quantile-thresholds' selection): the main
// thread reads and parses each part file once, into shared memory reused round-robin, and posts it to every worker;
// workers acknowledge each part ('done'), and the main thread stays at most `ahead` parts in front of the slowest, which
// also bounds the shared buffers (a slot is reused only once every worker is done with its previous part).
// Worker protocol (see worker.mjs): workerData { xaiModule, ...init }; messages in: { type: 'part', k, parts, ...extra }
// and { type: 'end' }; messages out: { type: 'done', k }, { type: 'results', results }, { type: 'error', message }.
// Checkpoints (resume): { type: 'snapshot' } in → { type: 'snapshot', state } out, the worker's state after every part
// sent before it; a worker restores a state given in its init or pass message.
import { Worker } from 'node:worker_threads';
import { readPart, readReusing, type Part } from './store.ts';

export type FromPoolWorker<R> = { type: 'done'; k: number } | { type: 'results'; results: R } | { type: 'snapshot'; state: unknown } | { type: 'error'; message: string };

export interface PartShape {
  units: number;
  height: number;
  width: number;
}

export class PartPool<R> {
  private readonly workers: Worker[];
  private readonly doneUpTo: number[];
  private readonly results: (R | undefined)[];
  private readonly states: unknown[];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** Per slot, per file of a part: its reusable shared buffer. */
  private readonly slots: { buf?: Uint8Array }[][];
  private sent = 0;

  /** `module`: the worker module beside worker.mjs (e.g. './tally.ts'); `inits`: one workerData per worker. */
  constructor(
    module: string,
    inits: object[],
    private readonly what: string,
    private readonly signal: AbortSignal,
    private readonly ahead = 3,
  ) {
    this.workers = inits.map((init) => new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { ...init, xaiModule: module } }));
    this.doneUpTo = this.workers.map(() => -1);
    this.results = this.workers.map(() => undefined);
    this.states = this.workers.map(() => undefined);
    this.slots = Array.from({ length: ahead + 1 }, () => []);
    this.workers.forEach((w, i) => {
      w.on('message', (m: FromPoolWorker<R>) => {
        if (m.type === 'done') this.doneUpTo[i] = m.k;
        else if (m.type === 'results') this.results[i] = m.results;
        else if (m.type === 'snapshot') this.states[i] = m.state;
        else this.failure ??= new Error(`${what} worker ${i}: ${m.message}`);
        this.notify();
      });
      w.on('error', (e) => {
        this.failure ??= new Error(`${what} worker ${i}: ${e.message}`);
        this.notify();
      });
      w.on('exit', (code) => {
        if (this.results[i] === undefined && code !== 0) this.failure ??= new Error(`${what} worker ${i} exited with code ${code}`);
        this.notify();
      });
    });
    signal.addEventListener('abort', () => this.notify(), { once: true });
  }

  /** Parts every worker has finished (−1: none). */
  get finished(): number {
    return Math.min(...this.doneUpTo);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async waitFor(cond: () => boolean): Promise<void> {
    while (!cond()) {
      if (this.failure) throw this.failure;
      if (this.signal.aborted) throw this.signal.reason ?? new Error('interrupted');
      await new Promise<void>((r) => (this.wake = r));
    }
    if (this.failure) throw this.failure;
  }

  /** Waits until part number `k` (counting every `send` of this pool from 0) may be read into its slot. */
  async ready(): Promise<void> {
    const k = this.sent;
    await this.waitFor(() => this.finished >= k - this.ahead);
  }

  /**
   * Reads and parses the part files `paths` (one per shape) into the next slot and posts them, with `extra`, to every
   * worker; call `ready()` first.
   */
  send(paths: string[], shapes: PartShape[], extra: object = {}): void {
    const k = this.sent++;
    const slot = this.slots[k % this.slots.length];
    const parts: Part[] = paths.map((path, i) => {
      const s = shapes[i];
      return readPart(path, s.units, s.height, s.width, readReusing(path, (slot[i] ??= {}), true));
    });
    for (const w of this.workers) w.postMessage({ ...extra, type: 'part', k, parts });
  }

  /** `send` for parts already in memory (recomputed maps): copied into the next slot's shared buffers and posted. */
  sendParts(parts: Part[], extra: object = {}): void {
    const k = this.sent++;
    const slot = this.slots[k % this.slots.length];
    const shared: Part[] = parts.map((p, i) => {
      const bytes = p.images.byteLength + p.maps.byteLength + p.maxima.byteLength;
      const s = (slot[i] ??= {});
      if (!s.buf || s.buf.length < bytes) s.buf = new Uint8Array(new SharedArrayBuffer(Math.ceil(bytes * 1.25) + 8));
      const { buffer, byteOffset } = s.buf;
      const images = new Int32Array(buffer, byteOffset, p.images.length);
      const maps = new Float32Array(buffer, byteOffset + p.images.byteLength, p.maps.length);
      const maxima = new Float32Array(buffer, byteOffset + p.images.byteLength + p.maps.byteLength, p.maxima.length);
      images.set(p.images);
      maps.set(p.maps);
      maxima.set(p.maxima);
      return { ...p, images, maps, maxima };
    });
    for (const w of this.workers) w.postMessage({ ...extra, type: 'part', k, parts: shared });
  }

  /** Posts `msg` to every worker (e.g. the start of a new pass). */
  broadcast(msg: object): void {
    for (const w of this.workers) w.postMessage(msg);
  }

  /** Ends the stream and returns each worker's results (the pool can take a new stream afterwards). */
  async end(extra: object = {}): Promise<R[]> {
    this.results.fill(undefined);
    for (const w of this.workers) w.postMessage({ ...extra, type: 'end' });
    await this.waitFor(() => this.results.every((r) => r !== undefined));
    return this.results.slice() as R[];
  }

  /** Each worker's state after all parts sent so far (for a checkpoint). */
  async snapshot(): Promise<unknown[]> {
    this.states.fill(undefined);
    for (const w of this.workers) w.postMessage({ type: 'snapshot' });
    await this.waitFor(() => this.states.every((r) => r !== undefined));
    return this.states.slice();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
