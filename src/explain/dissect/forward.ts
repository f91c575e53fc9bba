// Disk-light dissection (collect-activations `maps: false`): quantile-thresholds and label-units recompute the feature
// maps with the model instead of reading stored parts. The batches are collect-activations' own — the listed images in
// model batches of its `batchSize`, aligned to multiples of it in dataset order, a batch that fails redone image by
// image (as ctx.map redoes a failed batch) — and each comes out as the Parts readPart gives for a stored part
// (store.ts batchPart: float16 rounded as stored, maxima of the stored values), so thresholds and labels are
// bit-identical to the stored-maps path. The next batch's images are decoded while the current one runs.
import type { DatasetItem } from '../../data/types.ts';
import type { Model, Tensor } from '../../model/types.ts';
import { TopQuantile } from '../../algo/dissect/quantile.ts';
import { addPart } from './quantile-job.ts';
import { batchPart, type LayerEntry, type Part, type RecomputeSource } from './store.ts';

export interface ForwardBatch {
  /** Per layer (in `layers` order) the batch's part. */
  parts: Part[];
  /** Images of the batch that failed (to load or in the forward), with the error. */
  failed: { image: number; message: string }[];
}

/** The model batches of `images` (increasing dataset indices), each as its Parts (none: every image failed), in order. */
export async function* recomputeBatches(opts: {
  model: Model;
  items: readonly DatasetItem[];
  images: readonly number[];
  source: RecomputeSource;
  signal: AbortSignal;
}): AsyncGenerator<ForwardBatch> {
  const { model, items, images, source, signal } = opts;
  const { loadImages } = await import('../../data/index.ts');
  const bs = source.batchSize;
  const names = source.layers.map((l) => l.layer);
  // collect-activations' units: images grouped by aligned batch [b·bs, (b + 1)·bs) of dataset indices
  const batches: number[][] = [];
  for (const i of images) {
    const last = batches[batches.length - 1];
    if (last && Math.floor(last[0] / bs) === Math.floor(i / bs)) last.push(i);
    else batches.push([i]);
  }
  const spec = model.info.input;
  const load = (idx: number[]) => {
    const p = loadImages(idx.map((i) => items[i]), spec);
    p.catch(() => undefined); // surfaces when the batch is used
    return p;
  };
  const forward = async (idx: number[], batch: Promise<Tensor>): Promise<Part[]> => {
    const acts = await model.activations(await batch, names);
    return source.layers.map((l) => {
      const a = acts[l.layer];
      if (a.shape[0] !== idx.length || a.shape[1] !== l.units || a.shape[2] !== l.height || a.shape[3] !== l.width) {
        throw new Error(`layer '${l.layer}' gave shape [${a.shape.join(', ')}], expected [${idx.length}, ${l.units}, ${l.height}, ${l.width}]`);
      }
      return batchPart(Int32Array.from(idx), a.data, l.units, l.height, l.width, source.dtype);
    });
  };
  let ahead = batches.length ? load(batches[0]) : undefined;
  for (let k = 0; k < batches.length; k++) {
    if (signal.aborted) throw signal.reason ?? new Error('interrupted');
    const idx = batches[k];
    const mine = ahead!;
    ahead = k + 1 < batches.length ? load(batches[k + 1]) : undefined;
    let parts: Part[] | undefined;
    try {
      parts = await forward(idx, mine);
    } catch {
      parts = undefined;
    }
    if (parts) {
      yield { parts, failed: [] };
      continue;
    }
    // one image at a time, as ctx.map redoes a failed batch (each good image its own part)
    const failed: { image: number; message: string }[] = [];
    const good: Part[][] = [];
    for (const i of idx) {
      try {
        good.push(await forward([i], load([i])));
      } catch (e) {
        failed.push({ image: i, message: e instanceof Error ? e.message : String(e) });
      }
    }
    if (good.length === 0) yield { parts: [], failed };
    for (let j = 0; j < good.length; j++) yield { parts: good[j], failed: j === 0 ? failed : [] };
  }
}

export interface ThresholdPassLayer {
  layer: LayerEntry;
  /** Unit groups [u0, u1) done in this pass. */
  groups: [number, number][];
}

/**
 * Exact per-unit thresholds (np.percentile(a_k, 100·(1 − q)), linear, as quantile-thresholds' stored path) of the
 * recomputed maps: one forward over the images per pass, every pass holding the unit groups of any layers that fit its
 * budget (usually all of them: one pass). Returns per layer its thresholds, and the images that failed.
 */
export async function recomputeThresholds(opts: {
  model: Model;
  items: readonly DatasetItem[];
  images: readonly number[];
  source: RecomputeSource;
  q: number;
  passes: ThresholdPassLayer[][];
  signal: AbortSignal;
  progress(done: number, total: number): void;
}): Promise<{ thresholds: Map<string, Float64Array>; failed: { image: number; message: string }[] }> {
  const { images, q, passes } = opts;
  const thresholds = new Map(opts.source.layers.map((l) => [l.layer, new Float64Array(l.units)]));
  const li = new Map(opts.source.layers.map((l, i) => [l.layer, i]));
  let failed: { image: number; message: string }[] = [];
  let done = 0;
  for (const pass of passes) {
    const sel = pass.flatMap(({ layer, groups }) => groups.map(([u0, u1]) => ({ layer, u0, u1, tq: new TopQuantile(u1 - u0, images.length * layer.height * layer.width, q) })));
    const passFailed: typeof failed = [];
    let good = 0;
    for await (const b of recomputeBatches(opts)) {
      passFailed.push(...b.failed);
      if (b.parts.length) {
        for (const s of sel) addPart(s.tq, b.parts[li.get(s.layer.layer)!], s.layer.units, s.layer.height * s.layer.width, s.u0, s.u1);
        good += b.parts[0].images.length;
      }
      done += b.failed.length + (b.parts[0]?.images.length ?? 0);
      opts.progress(done, passes.length * images.length);
    }
    if (good === 0) throw new Error(`no image could be processed (first: ${passFailed[0]?.message ?? 'none listed'})`);
    for (const s of sel) thresholds.get(s.layer.layer)!.set(s.tq.thresholds(good * s.layer.height * s.layer.width), s.u0);
    failed = passFailed;
  }
  return { thresholds, failed };
}
