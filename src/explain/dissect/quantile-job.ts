// quantile-thresholds' selection over one pass, inline or in a worker thread (src/explain/dissect/pool.ts): a pass
// holds unit groups of one or more layers (as many as fit the memory budget); each job keeps the exact TopQuantile
// selection of its own unit range of every group, fed the parts of the pass's layers. Units are independent, so any
// split gives the thresholds of one pass.
import { deserialize, serialize } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { TopQuantile, type TopQuantileState } from '../../algo/dissect/quantile.ts';
import type { Part } from './store.ts';

export interface QuantileSelection {
  /** Index of the layer's part in the parts of the pass (the pass's layers, in order). */
  part: number;
  /** Units of the layer (row stride of a part) and values per map. */
  units: number;
  hw: number;
  /** Unit range [u0, u1) of each job. */
  ranges: [number, number][];
}

export interface QuantilePass {
  type: 'pass';
  sels: QuantileSelection[];
  /** Images the pass will see at most (values per unit: images × hw), and q. */
  images: number;
  q: number;
  /** Per job, the selection states to continue from (a checkpoint). */
  restore?: TopQuantileState[][];
}

/** Adds one part's maps of units [u0, u1) to `tq` (maps whose maximum is at most the unit's cutoff are only counted). */
export function addPart(tq: TopQuantile, pt: Part, units: number, hw: number, u0: number, u1: number): void {
  for (let b = 0; b < pt.images.length; b++) {
    for (let u = u0; u < u1; u++) tq.addUnitValuesMax(u - u0, pt.maps, (b * units + u) * hw, hw, pt.maxima[b * units + u]);
  }
}

/**
 * A checkpoint of the selections with other (small) fields: `meta` and the states' counters through v8 serialize, the
 * kept values as raw float32 chunks after it (not copied again: they are most of the bytes, up to the buffers' size).
 */
export function encodeCheckpoint(meta: object, states: TopQuantileState[][]): Uint8Array[] {
  const values: Uint8Array[] = [];
  const small = states.map((job) =>
    job.map((t) => {
      values.push(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength));
      return { fill: t.fill, cutoff: t.cutoff, seen: t.seen, values: t.values.length };
    }),
  );
  const head = serialize({ meta, states: small });
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, head.byteLength, true);
  return [len, head, ...values];
}

/** The `meta` and states of an `encodeCheckpoint`. */
export function decodeCheckpoint<M>(bytes: Uint8Array): { meta: M; states: TopQuantileState[][] } {
  const n = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  const head = deserialize(bytes.subarray(4, 4 + n)) as { meta: M; states: (Omit<TopQuantileState, 'values'> & { values: number })[][] };
  let o = 4 + n;
  const states = head.states.map((job) =>
    job.map((t) => {
      const values = new Float32Array(t.values);
      new Uint8Array(values.buffer).set(bytes.subarray(o, (o += values.byteLength))); // copied: o need not be aligned
      return { ...t, values };
    }),
  );
  if (o !== bytes.byteLength) throw new Error(`selection checkpoint: ${bytes.byteLength} bytes, expected ${o}`);
  return { meta: head.meta, states };
}

/** Job `me`'s selections of a pass. */
export class QuantileJob {
  private readonly tqs: TopQuantile[];
  constructor(
    private readonly pass: QuantilePass,
    private readonly me: number,
  ) {
    this.tqs = pass.sels.map((s) => new TopQuantile(Math.max(1, s.ranges[me][1] - s.ranges[me][0]), pass.images * s.hw, pass.q));
    pass.restore?.[me].forEach((st, i) => this.tqs[i].restore(st));
  }

  /** One part set: per layer of the pass its Part. */
  add(parts: Part[]): void {
    this.pass.sels.forEach((s, i) => {
      const [u0, u1] = s.ranges[this.me];
      if (u1 > u0) addPart(this.tqs[i], parts[s.part], s.units, s.hw, u0, u1);
    });
  }

  state(): TopQuantileState[] {
    return this.tqs.map((t) => t.state());
  }

  /** Per selection the thresholds of this job's units, from the `images` images seen. */
  thresholds(images: number): Float64Array[] {
    return this.pass.sels.map((s, i) => {
      const [u0, u1] = s.ranges[this.me];
      return u1 > u0 ? this.tqs[i].thresholds(images * s.hw) : new Float64Array(0);
    });
  }
}

const init = workerData as { xaiQuantile?: { index: number } } | undefined;
if (parentPort && init?.xaiQuantile) {
  const me = init.xaiQuantile.index;
  const port = parentPort;
  let job: QuantileJob | undefined;
  port.on('message', (m: QuantilePass | { type: 'part'; k: number; parts: Part[] } | { type: 'snapshot' } | { type: 'end'; images: number }) => {
    try {
      if (m.type === 'pass') job = new QuantileJob(m, me);
      else if (m.type === 'part') {
        job!.add(m.parts);
        port.postMessage({ type: 'done', k: m.k });
      } else if (m.type === 'snapshot') {
        // moved, not copied: the state's arrays are fresh copies of the selection (its kept values: up to the selection
        // buffers' size), so the main thread holds them once
        const state = job!.state();
        port.postMessage({ type: 'snapshot', state }, state.flatMap((t) => [t.fill.buffer, t.cutoff.buffer, t.seen.buffer, t.values.buffer] as ArrayBuffer[]));
      } else {
        const results = job!.thresholds(m.images);
        port.postMessage({ type: 'results', results }, results.map((r) => r.buffer as ArrayBuffer));
      }
    } catch (e) {
      port.postMessage({ type: 'error', message: (e as Error).stack ?? String(e) });
    }
  });
}
