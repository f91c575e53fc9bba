// The item module of the `clip-embeddings` stage (executor contract: src/engine/executor.ts): the CLIP image encoder
// opened once per worker (onnxruntime's intra-op threads as the executor splits them); a batch of probe images in,
// their L2-normalised embeddings out. An image whose embedding is zero or non-finite cannot be normalised: its batch
// fails, and the executor redoes the batch image by image so only that image is a bad item.
import type { ItemOutput, ItemRunner, WorkerEnv } from '../../engine/executor.ts';
import type { DatasetItem } from '../../data/index.ts';
import type { ModelConfig } from '../../model/index.ts';
import { l2NormalizeRows } from '../../algo/clipdissect/index.ts';

export const url = import.meta.url;

export interface EmbedItemConfig {
  /** The load-model stage's recorded config (meta.config) of the image encoder. */
  model: ModelConfig;
  /** Embedding size (the encoder's output width). */
  dim: number;
}

export async function createEmbed(c: EmbedItemConfig, env: WorkerEnv): Promise<ItemRunner<DatasetItem>> {
  const { openModel } = await import('../../model/index.ts');
  const { loadImages } = await import('../../data/index.ts');
  const { itemError } = await import('../../engine/errors.ts');
  const model = await openModel(env.threads ? { ...c.model, threads: env.threads } : c.model, { root: env.projectRoot });
  const D = c.dim;
  const runBatch = async (items: DatasetItem[], indices: number[]): Promise<ItemOutput[]> => {
    const batch = await loadImages(items, model.info.input);
    const { logits } = await model.predict(batch);
    const e = logits.data.slice();
    for (let j = 0; j < items.length; j++) {
      const row = e.subarray(j * D, (j + 1) * D);
      if (row.every((v) => v === 0) || row.some((v) => !Number.isFinite(v))) itemError(items[j].id, 'the image encoder gave a zero or non-finite embedding');
    }
    l2NormalizeRows(e, items.length, D);
    return items.map((it, j) => ({ rows: [{ image: indices[j], id: it.id, embedding: e.slice(j * D, (j + 1) * D) }] }));
  };
  return {
    runBatch,
    run: async (item, index) => (await runBatch([item], [index]))[0],
    // no close: openModel's models are cached per process and shared (the stage's own included), as in cam-item
  };
}
