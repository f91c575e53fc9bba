// Stage `collect-activations` (Network Dissection, step 1): runs the model over a concept dataset in batches and
// stores, per listed layer, every unit's feature map and every image's per-unit maximum, as chunked Arrow IPC files
// (one per layer and model batch; layout in src/explain/dissect/store.ts). The forwards are an item module
// (src/explain/dissect/collect-item.ts) run by the executor — in this thread or on the worker pool (`--workers`), same
// files either way. Per-item resumable through ctx.map (a model batch's files are written before its chunk is
// recorded; an interrupted run recomputes only unfinished chunks), progress with ETA.
// Memory: one batch of images + its activations (+ the next batch's images, decoded ahead); the maps go to disk
// and are never concatenated in memory (ctx.map's own table holds only image index, id and part per image).
// `pool: avg | max` adds each image's per-unit spatial mean or max (CLIP-Dissect's pool_mode: output.mean / amax over
// H, W of the float32 activations) to the images table, one tensor column `pool_<layer>` [units] (Float32) per layer;
// `maps: false` then skips the maps (a 63,305-image probe costs units × images floats). `maps: false` without `pool`:
// disk-light dissection — no forward here, only the image list and the layers; quantile-thresholds and label-units
// recompute the maps in this stage's batches (src/explain/dissect/forward.ts), bit-identical to reading stored ones.
import type { Json, StageDef } from '../src/engine/types.ts';
import { ConfigError } from '../src/engine/errors.ts';

export interface CollectParams {
  layers: string[];
  batchSize: number;
  dtype: 'float32' | 'float16';
  limit?: number;
  pool?: 'avg' | 'max';
  maps?: boolean;
}

export default {
  kind: 'collect-activations',
  version: '2', // 2: maxima of the stored values (float16: rounded), NaN when a map holds a NaN
  description: 'Network Dissection: per-unit feature maps and per-image maxima of the listed layers over a dataset',
  params: {
    type: 'object',
    required: ['layers'],
    properties: {
      layers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'layer aliases or tensor names (4-D outputs)' },
      batchSize: { type: 'integer', minimum: 1, maximum: 1024, default: 32, description: 'images per forward (and per stored part)' },
      dtype: { enum: ['float32', 'float16'], default: 'float32', description: 'stored map precision (float16 halves disk; thresholds then use the rounded values)' },
      limit: { type: 'integer', minimum: 1, description: 'only the first N images of the dataset' },
      pool: { enum: ['avg', 'max'], description: 'also store each image’s per-unit spatial mean (avg) or max, as CLIP-Dissect’s pool_mode (images table, column pool_<layer>)' },
      maps: { type: 'boolean', description: 'store the feature maps (default true); false: none stored — with pool for describe-units, else quantile-thresholds and label-units recompute them (disk-light)' },
    },
  },
  inputs: {
    model: { description: 'a load-model stage (meta.config)', kinds: ['load-model'] },
    dataset: { description: 'a dataset stage (meta.dataset), Broden format for label-units', kinds: ['dataset', 'synth-dataset'] },
  },
  outputs: {
    images: { description: 'one row per image: image (dataset index), id, part, with pool: pool_<layer> (units floats)', type: 'table' },
    maps: { description: 'maps/index.json + maps/<layer>/p*.arrow: rows (image, unit, max, map[H·W])', type: 'files' },
  },
  async run(ctx) {
    const { existsSync, readdirSync, rmSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { Field, Float32, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tensorField } = await import('../src/arrow/conventions.ts');
    const { poolColumn } = await import('../src/explain/clipdissect/pooled.ts');
    const { openUpstreamModel } = await import('../src/model/index.ts');
    const { openDataset, refFromMeta } = await import('../src/data/index.ts');
    const { didYouMean } = await import('../src/engine/errors.ts');
    const io = await import('../src/explain/dissect/store.ts');
    const p = ctx.params;
    const storeMaps = p.maps !== false;

    const model = await openUpstreamModel(ctx.inputs.model, ctx.projectRoot);
    const ds = await openDataset(refFromMeta(ctx.inputs.dataset.meta, ctx.inputs.dataset.stageId), { baseDir: ctx.projectRoot });
    const items = p.limit ? ds.items.slice(0, p.limit) : ds.items;
    if (items.length === 0) throw new ConfigError(`dataset ${ds.root} has no items`);

    // Layers: aliases or tensor names; 4-D only.
    const taken = new Set<string>();
    const layers: import('../src/explain/dissect/store.ts').LayerEntry[] = p.layers.map((name, i) => {
      const info = model.info.layers.find((l) => l.alias === name) ?? model.info.layers.find((l) => l.name === name);
      if (!info) {
        const names = model.info.layers.flatMap((l) => (l.alias ? [l.alias, l.name] : [l.name]));
        throw new ConfigError(`model '${model.info.id}' has no layer '${name}'`, {
          path: `stages.${ctx.stageId}.params.layers[${i}]`,
          suggestion: didYouMean(name, names) ?? `aliases: ${model.info.layers.filter((l) => l.alias).map((l) => l.alias).join(', ') || 'none'} (see \`xai inspect\`)`,
        });
      }
      if (info.shape.length !== 4) throw new ConfigError(`layer '${name}' (${info.name}) has shape [${info.shape.join(', ')}], expected a 4-D feature map`, { path: `stages.${ctx.stageId}.params.layers[${i}]` });
      return { layer: name, tensor: info.name, units: info.shape[1], height: info.shape[2], width: info.shape[3], dir: io.layerDir(name, taken) };
    });
    const perImage = layers.reduce((s, l) => s + l.units * l.height * l.width, 0) * (p.dtype === 'float16' ? 2 : 4);
    ctx.log.info(
      `${items.length} images × ${layers.map((l) => `${l.layer} ${l.units}×${l.height}×${l.width}`).join(', ')}: ` +
        (storeMaps ? `${((perImage * items.length) / 2 ** 20).toFixed(0)} MiB of ${p.dtype} maps` : 'no maps') + (p.pool ? `, ${p.pool}-pooled units` : '') + `, batch ${p.batchSize}`,
    );

    const features = { dtype: p.dtype, layers: layers as unknown as Json, maps: storeMaps, batchSize: p.batchSize, ...(p.pool ? { pool: p.pool } : {}) };
    const passOn = () => {
      ctx.out.meta('dataset', ctx.inputs.dataset.meta.dataset as Json);
      ctx.out.meta('model', ctx.inputs.model.meta.config as Json);
      ctx.out.meta('backend', model.info.backend);
    };
    if (!storeMaps && !p.pool) {
      // disk-light: the downstream stages recompute the maps (their forwards find the images that fail to load)
      const { tableFromRows } = await import('../src/arrow/io.ts');
      const schema = new Schema([new Field('image', new Int32(), false), new Field('id', new Utf8(), false), new Field('part', new Utf8(), false)]);
      await ctx.out.table('images', tableFromRows(items.map((it, i) => ({ image: i, id: it.id, part: '' })), schema));
      ctx.out.meta('features', { ...features, images: items.length });
      passOn();
      ctx.log.info(`${items.length} images listed; maps: false — quantile-thresholds and label-units recompute the forward`);
      return;
    }

    const schema = new Schema([
      new Field('image', new Int32(), false),
      new Field('id', new Utf8(), false),
      new Field('part', new Utf8(), false),
      ...(p.pool ? layers.map((l) => tensorField(poolColumn(l.layer), new Float32(), [l.units], ['unit'], { description: `${p.pool}-pooled activation per unit of ${l.layer}` })) : []),
    ]);
    // The forwards as an item module (src/explain/dissect/collect-item.ts): in this thread or on the worker pool.
    const item = await import('../src/explain/dissect/collect-item.ts');
    const config: import('../src/explain/dissect/collect-item.ts').CollectItemConfig = {
      model: ctx.inputs.model.meta.config as unknown as import('../src/model/index.ts').ModelConfig,
      dataset: refFromMeta(ctx.inputs.dataset.meta, ctx.inputs.dataset.stageId),
      layers,
      batchSize: p.batchSize,
      dtype: p.dtype,
      ...(p.pool ? { pool: p.pool } : {}),
      storeMaps,
    };
    const res = await ctx.map({
      table: 'images',
      items,
      id: (it) => it.id,
      schema,
      batchSize: p.batchSize,
      chunkSize: p.batchSize * 2,
      worker: { module: item, factory: 'createCollect', config, prepare: (_it, i) => i },
    });
    if (res.errors.length) ctx.log.warn(`${res.errors.length} image(s) failed and are left out (table images_errors); first: ${res.errors[0].item}: ${res.errors[0].message}`);

    // Parts in order (from the per-image rows), then drop part files of abandoned attempts.
    const partCol = res.table.getChild('part')!;
    const imageCol = res.table.getChild('image')!;
    const parts: import('../src/explain/dissect/store.ts').PartEntry[] = [];
    for (let r = 0; r < res.table.numRows; r++) {
      const f = String(partCol.get(r));
      const last = parts[parts.length - 1];
      if (last && last.file === f) last.count++;
      else parts.push({ file: f, first: Number(imageCol.get(r)), count: 1 });
    }
    if (parts.length === 0) throw new Error('no image could be processed (see images_errors)');
    const keep = new Set(parts.map((x) => x.file));
    for (const l of layers) {
      const dir = ctx.out.path(`maps/${l.dir}`);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) if (!keep.has(f)) rmSync(join(dir, f), { force: true });
    }
    const index: import('../src/explain/dissect/store.ts').FeatureIndex = { format: 1, dtype: p.dtype, images: res.table.numRows, layers, parts };
    if (storeMaps) writeFileSync(ctx.out.path(io.INDEX_FILE), JSON.stringify(index, null, 1) + '\n');
    ctx.out.meta('features', { ...features, images: index.images });
    passOn();
    ctx.log.info(`${index.images} images, ${parts.length} parts per layer (${res.resumed} resumed)`);
  },
} satisfies StageDef<CollectParams>;
