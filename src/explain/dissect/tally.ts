// The IoU tally of label-units over a range of units of each layer, runnable inline or in a worker thread
// (src/explain/dissect/worker.mjs). Units are independent in NetDissect's tally, so splitting them across workers gives
// exactly the counts of one pass (integer sums); the main thread reads and parses each part once (shared memory) and
// decodes its label maps once, and posts both to every worker.
import { parentPort, workerData } from 'node:worker_threads';
import type { ConceptSpace, DenominatorRule, ImageAnnotations, PreparedImage, TallyResult } from '../../algo/dissect/index.ts';
import type { ResizeMode } from '../../algo/resize.ts';
import { IouTally } from '../../algo/dissect/index.ts';
import type { LayerEntry, Part } from './store.ts';
import { TopMaps } from './topmaps.ts';

export interface JobLayer {
  entry: LayerEntry;
  /** Unit range [u0, u1) of this job. */
  u0: number;
  u1: number;
  /** Thresholds of units u0..u1−1. */
  thresholds: Float64Array;
}

export interface JobOptions {
  concepts: ConceptSpace;
  denominator: DenominatorRule;
  upsample: ResizeMode;
  topN: number;
}

export interface JobLayerResult {
  tally: TallyResult;
  top: { vals: Float64Array; ids: Int32Array; size: Int32Array; maps: Float32Array };
}

export class TallyJob {
  private readonly tallies: IouTally[];
  private readonly tops: TopMaps[];
  constructor(
    readonly layers: JobLayer[],
    opts: JobOptions,
  ) {
    this.tallies = layers.map(
      (l) =>
        new IouTally({
          units: l.u1 - l.u0,
          featureH: l.entry.height,
          featureW: l.entry.width,
          thresholds: l.thresholds,
          concepts: opts.concepts,
          denominator: opts.denominator,
          upsample: opts.upsample,
        }),
    );
    this.tops = layers.map((l) => new TopMaps(l.u1 - l.u0, opts.topN, l.entry.height * l.entry.width));
  }

  /**
   * One part: per layer its Part (all units), and per image its annotations or their label sets from `prepareImage`
   * (null = skipped image).
   */
  addPart(pts: Part[], anns: (ImageAnnotations | PreparedImage | null)[]): void {
    const imgs = pts[0].images;
    for (let b = 0; b < imgs.length; b++) {
      const ann = anns[b];
      if (!ann) continue;
      // the image's label sets, once for all layers (same concepts)
      const prep = 'runSet' in ann ? ann : this.tallies.length > 0 ? this.tallies[0].prepare(ann) : undefined;
      this.layers.forEach((l, li) => {
        const pt = pts[li];
        const n = l.entry.units;
        const hw = l.entry.height * l.entry.width;
        this.tallies[li].addPrepared(pt.maps, (b * n + l.u0) * hw, prep!, pt.maxima, b * n + l.u0);
        const top = this.tops[li];
        for (let u = l.u0; u < l.u1; u++) top.offer(u - l.u0, imgs[b], pt.maxima[b * n + u], pt.maps, (b * n + u) * hw);
      });
    }
  }

  /** Continues from the results of a job over the same layers and units (a checkpoint; counts add up exactly). */
  restore(state: JobLayerResult[]): void {
    state.forEach((r, li) => {
      this.tallies[li].merge(r.tally);
      this.tops[li].restore(r.top);
    });
  }

  results(): JobLayerResult[] {
    return this.layers.map((_, li) => {
      const t = this.tops[li];
      return { tally: this.tallies[li].result(), top: { vals: t.vals, ids: t.ids, size: t.size, maps: t.maps } };
    });
  }
}

/**
 * The label sets of a part's images, computed once (e.g. in the main thread) for jobs over the same concepts (the
 * result is what TallyJob.addPart would compute from the annotations).
 */
export function prepareImages(concepts: ConceptSpace, anns: (ImageAnnotations | null)[]): (PreparedImage | null)[] {
  let t = preparers.get(concepts);
  if (!t) preparers.set(concepts, (t = new IouTally({ units: 0, featureH: 1, featureW: 1, thresholds: [], concepts })));
  const tally = t;
  return anns.map((a) => (a ? tally.prepare(a) : null));
}
const preparers = new WeakMap<ConceptSpace, IouTally>();

// ── worker side ──────────────────────────────────────────────────────────────────────────────────────────────
export interface WorkerInit {
  layers: JobLayer[];
  opts: JobOptions;
  /** The job's state to continue from (a checkpoint). */
  restore?: JobLayerResult[];
}
/**
 * `parts`: per layer the decoded part (its maps and maxima are views on shared memory, read and parsed once by the main
 * thread, so the worker needs no Arrow reader).
 */
export type ToWorker = { type: 'part'; k: number; anns: (ImageAnnotations | PreparedImage | null)[]; parts: Part[] } | { type: 'snapshot' } | { type: 'end' };
export type FromWorker = import('./pool.ts').FromPoolWorker<JobLayerResult[]>;

if (parentPort && workerData && (workerData as { xaiTally?: WorkerInit }).xaiTally) {
  const init = (workerData as { xaiTally: WorkerInit }).xaiTally;
  const job = new TallyJob(init.layers, init.opts);
  if (init.restore) job.restore(init.restore);
  const port = parentPort;
  port.on('message', (m: ToWorker) => {
    try {
      if (m.type === 'part') {
        job.addPart(m.parts, m.anns);
        port.postMessage({ type: 'done', k: m.k } satisfies FromWorker);
      } else if (m.type === 'snapshot') {
        port.postMessage({ type: 'snapshot', state: job.results() } satisfies FromWorker); // copied (structured clone)
      } else {
        const results = job.results();
        const transfer = results.flatMap((r) => [r.tally.intersection.buffer, r.tally.activationCat.buffer, r.tally.truth.buffer, r.tally.activated.buffer, r.top.vals.buffer, r.top.ids.buffer, r.top.size.buffer, r.top.maps.buffer]);
        port.postMessage({ type: 'results', results } satisfies FromWorker, transfer as ArrayBuffer[]);
      }
    } catch (e) {
      port.postMessage({ type: 'error', message: (e as Error).stack ?? String(e) } satisfies FromWorker);
    }
  });
}
