// The item module of `collect-activations` (executor contract: src/engine/executor.ts): `createCollect` opens the model
// (onnxruntime's intra-op threads as the executor splits them) and the dataset once per runner; an item is a dataset
// index, a unit one model batch. Per image its row (image, id, part, with `pool` its pooled units); with the batch's
// first image the batch's part files (one per layer: store.ts encodePart), which ctx.map writes before it records the
// chunk. In the stage's own thread the next batch's images are decoded while the current one runs.
import type { ItemOutput, ItemRunner, WorkerEnv } from '../../engine/executor.ts';
import type { DatasetRef } from '../../data/types.ts';
import type { ModelConfig } from '../../model/index.ts';
import type { Tensor } from '../../model/types.ts';
import { encodePart, partFile, type LayerEntry, type MapDtype } from './store.ts';
import { poolColumn, poolMaps } from '../clipdissect/pooled.ts';

export const url = import.meta.url;

export interface CollectItemConfig {
  model: ModelConfig;
  dataset: DatasetRef;
  layers: LayerEntry[];
  batchSize: number;
  dtype: MapDtype;
  pool?: 'avg' | 'max';
  storeMaps: boolean;
}

export async function createCollect(c: CollectItemConfig, env: WorkerEnv): Promise<ItemRunner<number>> {
  const { openModel } = await import('../../model/index.ts');
  const { openDataset, loadImages } = await import('../../data/index.ts');
  const model = await openModel(env.threads ? { ...c.model, threads: env.threads } : c.model, { root: env.projectRoot });
  const items = (await openDataset(c.dataset, { baseDir: env.projectRoot })).items;
  const spec = model.info.input;
  const names = c.layers.map((l) => l.layer);
  // Prefetch only in the stage's own thread (env.threads unset): its units come in order; a pool worker's do not.
  const prefetching = env.threads === undefined;
  let ahead: { first: number; count: number; p: Promise<Tensor> } | undefined;
  const load = (idx: number[]) => {
    if (ahead && ahead.first === idx[0] && ahead.count === idx.length) {
      const got = ahead.p;
      ahead = undefined;
      return got;
    }
    return loadImages(idx.map((i) => items[i]), spec);
  };
  const prefetch = (from: number) => {
    if (!prefetching || from >= items.length) return;
    const idx = Array.from({ length: Math.min(c.batchSize, items.length - from) }, (_, j) => from + j);
    const pr = loadImages(idx.map((i) => items[i]), spec);
    pr.catch(() => undefined); // a bad image surfaces when the batch is used
    ahead = { first: from, count: idx.length, p: pr };
  };
  const runBatch = async (_xs: number[], idx: number[]): Promise<ItemOutput[]> => {
    const batch = await load(idx);
    if (idx.length === c.batchSize) prefetch(idx[idx.length - 1] + 1);
    const acts = await model.activations(batch, names);
    for (const l of c.layers) {
      const a = acts[l.layer];
      if (a.shape[0] !== idx.length || a.shape[1] !== l.units || a.shape[2] !== l.height || a.shape[3] !== l.width) {
        throw new Error(`layer '${l.layer}' gave shape [${a.shape.join(', ')}], expected [${idx.length}, ${l.units}, ${l.height}, ${l.width}]`);
      }
    }
    const file = partFile(idx[0]);
    const rows: Record<string, unknown>[] = idx.map((i) => ({ image: i, id: items[i].id, part: file }));
    if (c.pool) {
      for (const l of c.layers) {
        const pooled = poolMaps(acts[l.layer].data, idx.length, l.units, l.height * l.width, c.pool);
        rows.forEach((r, j) => (r[poolColumn(l.layer)] = pooled.slice(j * l.units, (j + 1) * l.units)));
      }
    }
    const files = c.storeMaps
      ? c.layers.map((l) => ({ rel: `maps/${l.dir}/${file}`, data: join(encodePart(idx, acts[l.layer].data, l.units, l.height, l.width, c.dtype, { layer: l.layer, tensor: l.tensor, dtype: c.dtype })) }))
      : [];
    // the batch's files go with its first image (written before its chunk is recorded)
    return rows.map((r, j) => (j === 0 ? { rows: [r], files } : { rows: [r] }));
  };
  return {
    runBatch,
    run: async (i, index) => (await runBatch([i], [index]))[0],
  };
}

/** One buffer of the IPC file's chunks (transferable from a worker thread). */
function join(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
