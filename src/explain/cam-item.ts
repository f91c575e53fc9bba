// The item module of the `cam` stage (executor contract: src/engine/executor.ts): `createCam` opens the model once per
// worker (onnxruntime's intra-op threads as the executor splits them) and computes batches of images with computeCams;
// overlays come back as files; model-call counts, pointing-game counts and phase times as sums (counts under their
// names, ms under `ms.`).
import type { ItemOutput, ItemRunner, WorkerEnv } from '../engine/executor.ts';
import type { DatasetItem } from '../data/index.ts';
import type { ModelConfig } from '../model/index.ts';
import { addPointing, computeCams, type ComputeArgs } from './cam.ts';

export const url = import.meta.url;

export type CamItemConfig = Pick<ComputeArgs, 'methods' | 'layerSets' | 'targets' | 'target' | 'eigenSmooth' | 'ablation' | 'scoreBatchSize' | 'overlay' | 'loadOpts'> & {
  /** The load-model stage's recorded config (meta.config). */
  model: ModelConfig;
};

export async function createCam(c: CamItemConfig, env: WorkerEnv): Promise<ItemRunner<DatasetItem>> {
  const { openModel } = await import('../model/index.ts');
  const model = await openModel(env.threads ? { ...c.model, threads: env.threads } : c.model, { root: env.projectRoot });
  const runBatch = async (items: DatasetItem[], indices: number[]): Promise<ItemOutput[]> => {
    const timing: Record<string, number> = {};
    const counts = { forwards: 0, gradientCalls: 0, headRows: 0, maskedForwards: 0 };
    const files: { rel: string; data: Uint8Array }[] = [];
    const rows = await computeCams({ ...c, model, items, indices, timing, counts, writeFile: async (rel, data) => void files.push({ rel, data }) });
    const sums: Record<string, number> = { ...counts };
    for (const [k, v] of Object.entries(timing)) sums[`ms.${k}`] = v;
    addPointing(rows.flat(), sums);
    // the batch's files and sums go with its first item (they are written and summed alike)
    return rows.map((r, j) => (j === 0 ? { rows: r, files, sums } : { rows: r }));
  };
  return {
    runBatch,
    run: async (item, index) => (await runBatch([item], [index]))[0],
  };
}
