// Stage `synth-dataset`: generates the synthetic "shapes" concept dataset (src/data/synth/shapes.ts) into the
// stage's output directory (Broden format + classification labels + ground-truth masks) and records
// `meta.dataset` (a DatasetRef for openDataset). Same params → byte-identical files.
import type { StageDef } from '../src/engine/types.ts';

export interface SynthDatasetParams {
  count: number;
  size: number;
  seed: number;
  valFraction: number;
  maxObjects: number;
}

export default {
  kind: 'synth-dataset',
  version: '1',
  description: 'Synthetic concept dataset: coloured shapes on textured scenes, Broden format with exact ground truth',
  params: {
    type: 'object',
    properties: {
      count: { type: 'integer', minimum: 1, maximum: 1000000, default: 200, description: 'number of images' },
      size: { type: 'integer', minimum: 16, maximum: 1024, default: 128, description: 'image side in pixels (masks at half)' },
      seed: { type: 'integer', default: 0, description: 'PRNG seed (xoshiro128**)' },
      valFraction: { type: 'number', minimum: 0, maximum: 1, default: 0.1, description: "fraction of images (the last ones) in split 'val'" },
      maxObjects: { type: 'integer', minimum: 1, maximum: 3, default: 3, description: 'objects per image: 1 to this' },
    },
  },
  outputs: {
    dataset: { description: 'the dataset directory (index.csv, label.csv, c_*.csv, classes.txt, labels.csv, images/)', type: 'files' },
    items: { description: 'one row per image: id, label, label_name, split, has_mask, note (null: generated RGB)', type: 'table' },
  },
  async run(ctx) {
    const { generateShapes } = await import('../src/data/synth/shapes.ts');
    const { openDataset, refToJson } = await import('../src/data/index.ts');
    const { itemsTable } = await import('../src/data/table.ts');
    const p = ctx.params;
    const dir = ctx.out.path('dataset');
    const res = await generateShapes(dir, {
      count: p.count,
      size: p.size,
      seed: p.seed,
      valFraction: p.valFraction,
      maxObjects: p.maxObjects,
      force: true,
      signal: ctx.signal,
      onProgress: (done, total) => ctx.progress(done, total, 'images'),
    });
    ctx.log.info(`${res.count} images ${p.size}×${p.size} in ${res.seconds.toFixed(1)} s`);
    const ds = await openDataset(res.ref);
    await ctx.out.table('items', itemsTable(ds.items));
    ctx.out.meta('dataset', refToJson(res.ref));
    ctx.out.meta('classes', res.classes);
    ctx.out.meta('count', res.count);
  },
} satisfies StageDef<SynthDatasetParams>;
