// The item module of the `compare` stage (executor contract: src/engine/executor.ts): one image in — its LIME
// explanations, segment map, CAMs and dataset item (for the ground-truth mask, loaded here) — its per_image rows out
// (compareRows; the ranks and the summary over all images are the stage's, finishCompare).
import type { ItemRunner } from '../engine/executor.ts';
import type { DatasetItem } from '../data/index.ts';
import type { LoadOptions } from '../image/io.ts';
import { compareRows, type BinarizeParams, type CamRow, type LimeRow } from './compare.ts';

export const url = import.meta.url;

export interface CompareItemConfig {
  width: number;
  height: number;
  binarize: BinarizeParams;
  limeLabel: 'cam-target' | 'top';
  pointingTolerance: number;
  /** The stage has a CAM input: an image without a wanted CAM has no row (without one, LIME vs ground truth only). */
  withCams: boolean;
  /** How the LIME stage fitted its images (the masks are fitted alike). */
  maskOpts: LoadOptions;
}

export interface CompareItem {
  id: string;
  lime: LimeRow[];
  segments?: Int32Array;
  cams: CamRow[];
  /** The dataset's item, when the stage has an images input (ground truth). */
  item?: DatasetItem;
}

export async function createCompare(c: CompareItemConfig): Promise<ItemRunner<CompareItem>> {
  const { loadItemMask } = await import('../data/index.ts');
  return {
    async run(it) {
      if (c.withCams && it.cams.length === 0) return { rows: [] };
      const gt = new Map<string, Uint8Array>();
      const m = it.item ? await loadItemMask(it.item, c.height, c.width, c.maskOpts) : undefined;
      if (m) gt.set(it.id, m);
      const rows = compareRows({
        width: c.width,
        cams: it.cams,
        lime: it.lime,
        segments: new Map(it.segments ? [[it.id, it.segments]] : []),
        gt,
        binarize: c.binarize,
        limeLabel: c.limeLabel,
        pointingTolerance: c.pointingTolerance,
      });
      return { rows, sums: { with_gt: m ? 1 : 0 } };
    },
  };
}
