// The item modules of the `lime` stage (executor contract: src/engine/executor.ts): `createSegments` (the segment map
// of an image; no model) and `createExplain` (the model opened once per worker, onnxruntime's intra-op threads as the
// executor splits them; an item is the image with its segment map, posted by the stage). Overlays come back as files.
import type { ItemRunner, WorkerEnv } from '../engine/executor.ts';
import type { DatasetItem } from '../data/index.ts';
import type { LoadOptions } from '../image/io.ts';
import type { ModelConfig } from '../model/index.ts';
import { explainItem, segmentImage, type ItemContext, type LimeParams } from './lime.ts';

export const url = import.meta.url;

export interface LimeItemConfig {
  params: LimeParams;
  /** The load-model stage's recorded config (meta.config). */
  model: ModelConfig;
  height: number;
  width: number;
  loadOpts: LoadOptions;
}

export async function createSegments(c: LimeItemConfig): Promise<ItemRunner<DatasetItem>> {
  const { loadItemRgb } = await import('../data/index.ts');
  const { height: H, width: W } = c;
  return {
    async run(it, index) {
      const rgb = await loadItemRgb(it, H, W, c.loadOpts);
      const s = segmentImage(rgb, c.params, it.id);
      return { rows: [{ id: it.id, index, height: H, width: W, n_segments: s.nSegments, random_seed: s.randomSeed, segments: s.segments }] };
    },
  };
}

/** An item of `createExplain`: the image and its segment map (undefined when its segmentation failed). */
export interface ExplainItem {
  it: DatasetItem;
  seg: ItemContext['seg'] | undefined;
}

export async function createExplain(c: LimeItemConfig, env: WorkerEnv): Promise<ItemRunner<ExplainItem>> {
  const { openModel } = await import('../model/index.ts');
  const { loadItemRgb, loadItemMask } = await import('../data/index.ts');
  const { encodePng } = await import('../image/io.ts');
  const model = await openModel(env.threads ? { ...c.model, threads: env.threads } : c.model, { root: env.projectRoot });
  const { height: H, width: W } = c;
  const png = (d: Uint8Array, w: number, h: number) => encodePng(d, w, h, 3);
  return {
    async run({ it, seg }, index, timer) {
      if (!seg) throw new Error('no segment map (its segmentation failed: see table segments_errors)');
      const rgb = await loadItemRgb(it, H, W, c.loadOpts);
      const gt = await loadItemMask(it, H, W, c.loadOpts);
      const { rows, files } = await explainItem(c.params, model, { id: it.id, index, datasetLabel: it.label, rgb, gt, seg }, png, (ph, ms) => timer.phase(ph, ms));
      return { rows, files };
    },
  };
}
