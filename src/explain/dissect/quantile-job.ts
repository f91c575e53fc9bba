// quantile-thresholds' work in a worker thread (src/explain/dissect/pool.ts): for one pass (a layer, or a unit group of
// it) each worker keeps the exact TopQuantile selection of its own unit range; the main thread streams the parts.
// Units are independent, so any split gives the thresholds of one pass.
import { parentPort, workerData } from 'node:worker_threads';
import { TopQuantile } from '../../algo/dissect/quantile.ts';
import type { Part } from './store.ts';

export interface QuantilePass {
  type: 'pass';
  /** Units of the layer (row stride of a part) and values per map. */
  units: number;
  hw: number;
  /** Values each unit receives over the dataset, and q. */
  total: number;
  q: number;
  /** Unit range [u0, u1) of each worker. */
  ranges: [number, number][];
}

/** Adds one part's maps of units [u0, u1) to `tq` (maps whose maximum is at most the unit's cutoff are only counted). */
export function addPart(tq: TopQuantile, pt: Part, units: number, hw: number, u0: number, u1: number): void {
  for (let b = 0; b < pt.images.length; b++) {
    for (let u = u0; u < u1; u++) tq.addUnitValuesMax(u - u0, pt.maps, (b * units + u) * hw, hw, pt.maxima[b * units + u]);
  }
}

const init = workerData as { xaiQuantile?: { index: number } } | undefined;
if (parentPort && init?.xaiQuantile) {
  const me = init.xaiQuantile.index;
  const port = parentPort;
  let pass: QuantilePass | undefined;
  let tq: TopQuantile | undefined;
  port.on('message', (m: QuantilePass | { type: 'part'; k: number; parts: Part[] } | { type: 'end' }) => {
    try {
      if (m.type === 'pass') {
        pass = m;
        const [u0, u1] = m.ranges[me];
        tq = new TopQuantile(u1 - u0, m.total, m.q);
      } else if (m.type === 'part') {
        const [u0, u1] = pass!.ranges[me];
        addPart(tq!, m.parts[0], pass!.units, pass!.hw, u0, u1);
        port.postMessage({ type: 'done', k: m.k });
      } else {
        const results = tq!.thresholds();
        port.postMessage({ type: 'results', results }, [results.buffer as ArrayBuffer]);
      }
    } catch (e) {
      port.postMessage({ type: 'error', message: (e as Error).stack ?? String(e) });
    }
  });
}
