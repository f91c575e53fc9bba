// Stage `label-units` (Network Dissection, step 3), NetDissect-Lite's tally: for every image and every unit whose image
// maximum exceeds T_k, the unit's map is upsampled to the mask resolution (bilinear, PIL's / scipy imresize mode 'F'
// convention: half-pixel centres, as resize.ts 'pil'; 7×7 → 112×112 for ResNet-18 layer4 on broden1_224), binarised
// `> T_k`, and intersections / activations / label pixels are accumulated over the whole dataset with Lite's
// category-aware denominator (src/algo/dissect/tally.ts); IoU = I / (A + G − I); label = best IoU per category, then
// the best category; interpretable when IoU ≥ iouThreshold. Streams the stored parts once — or, after `maps: false`,
// the maps recomputed with the model (src/explain/dissect/forward.ts) — all layers of a batch together, the batch's
// label maps read once, decoded ahead; through ctx.map with the tally as its checkpointed fold (resumable). Also keeps the top-N images per unit by maximum
// activation with their feature maps, so a report can draw each unit's region on its top images
// (src/algo/dissect/overlay.ts: upsample to the image size, > threshold, (mask·0.8 + 0.2)·image).
import type { Json, StageDef } from '../src/engine/types.ts';

export interface LabelParams {
  iouThreshold: number;
  denominator: 'lite' | 'annotated';
  upsample: 'pil' | 'cv2' | 'align-corners';
  topN: number;
  categories?: string[];
  workers?: number;
}

export default {
  kind: 'label-units',
  version: '1',
  description: 'Network Dissection: upsample + threshold unit maps, IoU with every concept over the dataset, label each unit',
  keyExclude: ['workers'], // any thread count gives the same outputs
  params: {
    type: 'object',
    properties: {
      iouThreshold: { type: 'number', minimum: 0, maximum: 1, default: 0.04, description: 'a unit is interpretable when its best IoU ≥ this (NetDissect SCORE_THRESHOLD)' },
      denominator: { enum: ['lite', 'annotated'], default: 'lite', description: "'lite': activated pixels counted on images where the activation hits the category (NetDissect-Lite); 'annotated': on images annotated in the category" },
      upsample: { enum: ['pil', 'cv2', 'align-corners'], default: 'pil', description: "map → mask resolution: 'pil' = scipy imresize mode F (NetDissect-Lite)" },
      topN: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'top activating images kept per unit (NetDissect TOPN)' },
      categories: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'concept categories to use (default: all of the dataset)' },
      workers: { type: 'integer', minimum: 1, maximum: 64, description: 'threads for the tally, units split between them (default: min(4, CPU cores)); same result for any value' },
    },
  },
  inputs: {
    activations: { description: 'a collect-activations stage (maps, maxima, meta.dataset)', kinds: ['collect-activations'] },
    thresholds: { description: 'a quantile-thresholds stage over the same activations', kinds: ['quantile-thresholds'] },
  },
  outputs: {
    units: { description: 'layer, unit, label, category, iou, threshold, interpretable, <category>_label, <category>_iou', type: 'table' },
    unit_categories: { description: "best label per (unit, category) with Lite's truth / activation / intersect counts", type: 'table' },
    top_images: { description: 'top-N images per unit: layer, unit, rank, image, id, value (max activation)', type: 'table' },
    top_maps: { description: 'the feature maps of those images (height, width, map) for report overlays', type: 'table' },
    'tally-<layer>.csv': { description: "NetDissect-Lite's tally.csv per layer (units by score)", type: 'files' },
    parts: {
      description: 'the streamed work, one row per part (the resume record)',
      type: 'table',
      columns: { part: 'stored part file, or recomputed model batch (b<first image>)', images: 'images of the part' },
    },
  },
  async run(ctx) {
    const { Bool, Field, Float64, Int32, Schema, Utf8 } = await import('apache-arrow');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { labelUnits } = await import('../src/algo/dissect/index.ts');
    const { availableParallelism } = await import('node:os');
    const { openDataset, refFromMeta, isBroden } = await import('../src/data/index.ts');
    const { ConfigError } = await import('../src/engine/errors.ts');
    const { formatCsv } = await import('../src/data/csv.ts');
    const io = await import('../src/explain/dissect/store.ts');
    const p = ctx.params;
    const up = ctx.inputs.activations;
    const source = io.featureSource(up);
    const layers = source.index?.layers ?? source.recompute!.layers;

    const ds = await openDataset(refFromMeta(up.meta, up.stageId), { baseDir: ctx.projectRoot });
    if (!isBroden(ds)) {
      throw new ConfigError(`label-units needs a Broden-format concept dataset (pixel label maps); '${up.stageId}' ran on a '${ds.kind}' dataset (${ds.root})`);
    }
    for (const c of p.categories ?? []) {
      if (!ds.categories.includes(c)) throw new ConfigError(`category '${c}' is not in the dataset (has ${ds.categories.join(', ')})`, { path: `stages.${ctx.stageId}.params.categories` });
    }
    const categories = p.categories ? ds.categories.filter((c) => p.categories!.includes(c)) : [...ds.categories];
    if (categories.length > 32) throw new ConfigError(`at most 32 categories, the dataset has ${categories.length}: list the ones to use`, { path: `stages.${ctx.stageId}.params.categories` });
    const concepts = io.conceptSpace(ds, categories);

    // Thresholds per layer.
    const tt = await ctx.inputs.thresholds.table('thresholds');
    const thr = new Map<string, Float64Array>();
    for (const l of layers) thr.set(l.layer, new Float64Array(l.units).fill(NaN));
    const tl = tt.getChild('layer')!;
    const tu = tt.getChild('unit')!;
    const tv = tt.getChild('threshold')!;
    for (let r = 0; r < tt.numRows; r++) {
      const a = thr.get(String(tl.get(r)));
      if (a) a[Number(tu.get(r))] = Number(tv.get(r));
    }
    for (const l of layers) {
      if (thr.get(l.layer)!.some(Number.isNaN)) {
        throw new ConfigError(`input 'thresholds' (stage '${ctx.inputs.thresholds.stageId}') lacks thresholds for layer '${l.layer}': it must read the same activations as this stage`);
      }
    }

    // The tally, over unit ranges in worker threads (or inline for workers: 1); the label maps are decoded here once.
    const { TallyJob, prepareImages } = await import('../src/explain/dissect/tally.ts');
    const { serialize, deserialize } = await import('node:v8');
    const { passItems, openPassReader } = await import('../src/explain/dissect/forward.ts');
    const totalUnits = layers.reduce((s, l) => s + l.units, 0);
    let nWorkers = Math.max(1, Math.min(p.workers ?? Math.min(4, availableParallelism()), totalUnits));
    const jobOpts = { concepts, denominator: p.denominator, upsample: p.upsample, topN: p.topN };
    const rangesFor = (n: number) =>
      Array.from({ length: n }, (_, w) =>
        layers.map((l) => {
          const u0 = Math.floor((w * l.units) / n);
          const u1 = Math.floor(((w + 1) * l.units) / n);
          return { entry: l, u0, u1, thresholds: thr.get(l.layer)!.slice(u0, u1) };
        }),
      );

    // The listed images, in order; their label maps are read ahead (skipping, with a warning, images whose masks fail).
    const order = io.listedImages(await up.table('images'));
    const items = ds.items;
    const known = io.knownLabels(ds);
    const AHEAD = 32;
    const pending = new Map<number, Promise<import('../src/data/types.ts').ItemLabels | Error>>();
    let nextRead = 0;
    const readAhead = () => {
      while (nextRead < order.length && pending.size < AHEAD) {
        const i = order[nextRead++];
        const item = items[i];
        if (!item) throw new Error(`image index ${i} is outside the dataset (${items.length} items): the dataset changed since collect-activations ran`);
        pending.set(i, io.readLabelsFast(ds, item, categories, known).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
      }
    };
    let skipped: { id: string; message: string }[] = [];
    let done = 0;
    let cursor = 0;
    /**
     * Annotations of a part's images (increasing, in the listed order), null for images whose labels could not be read;
     * listed images before them that are not there (their recomputed forward failed, or resumed) are passed over.
     */
    const annotationsOf = async (imgs: ArrayLike<number>) => {
      const anns: (import('../src/algo/dissect/index.ts').ImageAnnotations | null)[] = [];
      for (let b = 0; b < imgs.length; b++) {
        if (!pending.has(imgs[b])) {
          // not requested yet (after a resume): read ahead from there
          const pos = order.indexOf(imgs[b], nextRead);
          if (pos > nextRead) {
            pending.clear();
            cursor = nextRead = pos;
          }
        }
        let i: number;
        let got: import('../src/data/types.ts').ItemLabels | Error | undefined;
        do {
          readAhead();
          i = order[cursor++];
          if (i === undefined) throw new Error(`internal: image ${imgs[b]} is not listed`);
          got = await pending.get(i);
          pending.delete(i);
          if (got === undefined) throw new Error(`internal: labels of image ${i} were not requested`);
        } while (i !== imgs[b]);
        if (got instanceof Error) {
          skipped.push({ id: items[i].id, message: got.message });
          ctx.log.warn(`image ${items[i].id}: labels unreadable, skipped: ${got.message}`);
          anns.push(null);
          continue;
        }
        anns.push(io.annotations(got, categories));
        done++;
      }
      return anns;
    };

    // The fold over the parts (stored part files, or — maps: false — the recomputed model batches), resumable through
    // ctx.map's checkpoints: the tally inline, or in worker threads fed each part once through shared memory.
    type Results = import('../src/explain/dissect/tally.ts').JobLayerResult[];
    const reader = await openPassReader(up, source, items, ctx.projectRoot);
    const work = passItems(up, source, order);
    let job: InstanceType<typeof TallyJob> | undefined;
    let pool: import('../src/explain/dissect/pool.ts').PartPool<Results> | undefined;
    let restore: Results[] | undefined;
    const start = async () => {
      if (job || pool) return;
      const ranges = rangesFor(nWorkers);
      if (nWorkers === 1) {
        job = new TallyJob(ranges[0], jobOpts);
        if (restore) job.restore(restore[0]);
      } else {
        const { PartPool } = await import('../src/explain/dissect/pool.ts');
        pool = new PartPool<Results>('./tally.ts', ranges.map((layers, w) => ({ xaiTally: { layers, opts: jobOpts, ...(restore ? { restore: restore[w] } : {}) } })), 'tally', ctx.signal);
      }
    };
    const fold = {
      save: async () => [serialize({ done, skipped, states: pool ? await pool.snapshot() : [job!.results()] })],
      load: (bytes: Uint8Array) => {
        const st = deserialize(bytes) as { done: number; skipped: typeof skipped; states: Results[] };
        done = st.done;
        skipped = st.skipped;
        restore = st.states;
        nWorkers = st.states.length; // the states are split as the checkpointed run split them
      },
    };
    const t0 = performance.now();
    const { Field: F, Int32: I32, Schema: S, Utf8: U } = await import('apache-arrow');
    let results: Results[];
    try {
      const res = await ctx.map({
        table: 'parts',
        items: work,
        id: (it) => it.id,
        schema: new S([new F('part', new U(), false), new F('images', new I32(), false)]),
        chunkSize: 1 << 30, // chunks end every ~2 s of work (flushMs)
        fold,
        fn: async (it, i) => {
          await start();
          const maps = await reader.get(it, work[i + 1], !pool);
          for (const f of maps.failed) {
            skipped.push({ id: items[f.image].id, message: f.message });
            ctx.log.warn(`image ${items[f.image].id}: ${f.message} (skipped)`);
          }
          if (pool && maps.paths) {
            await pool.ready();
            // the label sets once here rather than in every worker
            pool.send(maps.paths, layers, { anns: prepareImages(concepts, await annotationsOf(it.images)) });
          }
          for (const set of maps.sets) {
            const anns = await annotationsOf(set[0].images);
            if (pool) {
              await pool.ready();
              pool.sendParts(set, { anns: prepareImages(concepts, anns) });
            } else job!.addPart(set, anns);
          }
          return [{ part: it.id, images: it.images.length }];
        },
      });
      if (res.errors.length) throw new Error(`part ${res.errors[0].item}: ${res.errors[0].message}`);
      await start();
      results = pool ? await pool.end() : [job!.results()];
    } finally {
      await pool?.close();
    }
    const ranges = rangesFor(nWorkers);
    // merge the unit ranges back into whole layers
    const tallies = layers.map((l, li) => {
      const first = results[0][li].tally;
      const L = first.numLabels;
      const C = first.numCategories;
      const merged = { units: l.units, numLabels: L, numCategories: C, intersection: new Float64Array(l.units * L), activationCat: new Float64Array(l.units * C), truth: first.truth, activated: new Float64Array(l.units), images: first.images };
      results.forEach((r, w) => {
        const u0 = ranges[w][li].u0;
        merged.intersection.set(r[li].tally.intersection, u0 * L);
        merged.activationCat.set(r[li].tally.activationCat, u0 * C);
        merged.activated.set(r[li].tally.activated, u0);
      });
      return merged;
    });
    const topOf = (li: number, u: number) => {
      const w = ranges.findIndex((r) => u >= r[li].u0 && u < r[li].u1);
      const t = results[w][li].top;
      const lu = u - ranges[w][li].u0;
      const hw = layers[li].height * layers[li].width;
      const o = lu * p.topN;
      const out: { image: number; value: number; map: Float32Array }[] = [];
      for (let i = 0; i < t.size[lu]; i++) out.push({ image: t.ids[o + i], value: t.vals[o + i], map: t.maps.slice((o + i) * hw, (o + i + 1) * hw) });
      return out.sort((a, b) => b.value - a.value || a.image - b.image);
    };
    const secs = (performance.now() - t0) / 1000;
    ctx.log.info(`tallied ${done} images × ${layers.length} layer(s) in ${secs.toFixed(1)} s with ${nWorkers} thread(s)${skipped.length ? ` (${skipped.length} skipped)` : ''}`);

    // Labels.
    const unitRows: Record<string, unknown>[] = [];
    const catRows: Record<string, unknown>[] = [];
    const topRows: Record<string, unknown>[] = [];
    const mapCols = { layer: [] as string[], unit: [] as number[], rank: [] as number[], image: [] as number[], id: [] as string[], value: [] as number[], height: [] as number[], width: [] as number[] };
    const maps: Float32Array[] = [];
    const summary: Record<string, Json> = {};
    for (const [li, l] of layers.entries()) {
      const th = thr.get(l.layer)!;
      const labels = labelUnits(tallies[li], concepts, { threshold: p.iouThreshold });
      let interpretable = 0;
      for (const u of labels) {
        if (u.interpretable) interpretable++;
        const row: Record<string, unknown> = { layer: l.layer, unit: u.unit, label: u.name, category: u.category, iou: u.iou, threshold: th[u.unit], interpretable: u.interpretable };
        for (const c of u.perCategory) {
          row[`${c.category}_label`] = c.name;
          row[`${c.category}_iou`] = c.iou;
          catRows.push({ layer: l.layer, unit: u.unit, category: c.category, label: c.name, iou: c.iou, intersect: c.intersect, activation: c.activation, truth: c.truth });
        }
        unitRows.push(row);
      }
      for (let u = 0; u < l.units; u++) {
        topOf(li, u).forEach((e, r) => {
          topRows.push({ layer: l.layer, unit: u, rank: r + 1, image: e.image, id: items[e.image].id, value: e.value });
          mapCols.layer.push(l.layer);
          mapCols.unit.push(u);
          mapCols.rank.push(r + 1);
          mapCols.image.push(e.image);
          mapCols.id.push(items[e.image].id);
          mapCols.value.push(e.value);
          mapCols.height.push(l.height);
          mapCols.width.push(l.width);
          maps.push(e.map);
        });
      }
      summary[l.layer] = { units: l.units, interpretable };
      ctx.log.info(`${l.layer}: ${interpretable}/${l.units} interpretable units (IoU ≥ ${p.iouThreshold})`);

      // NetDissect-Lite's tally.csv (units by score, 1-based unit numbers).
      const header = ['unit', 'category', 'label', 'score', ...categories.flatMap((c) => [`${c}-label`, `${c}-truth`, `${c}-activation`, `${c}-intersect`, `${c}-iou`])];
      const sorted = [...labels].sort((a, b) => b.iou - a.iou || a.unit - b.unit);
      const csv: (string | number)[][] = [header];
      for (const u of sorted) {
        csv.push([u.unit + 1, u.category, u.name, u.iou, ...u.perCategory.flatMap((c) => [c.name, c.truth, c.activation, c.intersect, c.iou])]);
      }
      await ctx.out.file(`tally-${l.dir}.csv`, formatCsv(csv));
    }

    const unitSchema = new Schema([
      new Field('layer', new Utf8(), false),
      new Field('unit', new Int32(), false),
      new Field('label', new Utf8(), false),
      new Field('category', new Utf8(), false),
      new Field('iou', new Float64(), false),
      new Field('threshold', new Float64(), false),
      new Field('interpretable', new Bool(), false),
      ...categories.flatMap((c) => [new Field(`${c}_label`, new Utf8(), false), new Field(`${c}_iou`, new Float64(), false)]),
    ]);
    await ctx.out.table('units', tableFromRows(unitRows, unitSchema));
    const catSchema = new Schema([
      new Field('layer', new Utf8(), false),
      new Field('unit', new Int32(), false),
      new Field('category', new Utf8(), false),
      new Field('label', new Utf8(), false),
      new Field('iou', new Float64(), false),
      new Field('intersect', new Float64(), false),
      new Field('activation', new Float64(), false),
      new Field('truth', new Float64(), false),
    ]);
    await ctx.out.table('unit_categories', tableFromRows(catRows, catSchema));
    const topSchema = new Schema([
      new Field('layer', new Utf8(), false),
      new Field('unit', new Int32(), false),
      new Field('rank', new Int32(), false),
      new Field('image', new Int32(), false),
      new Field('id', new Utf8(), false),
      new Field('value', new Float64(), false),
    ]);
    await ctx.out.table('top_images', tableFromRows(topRows, topSchema));
    await ctx.out.table(
      'top_maps',
      io.mapsTable(
        [
          { name: 'layer', type: 'utf8', values: mapCols.layer },
          { name: 'unit', type: 'int32', values: mapCols.unit },
          { name: 'rank', type: 'int32', values: mapCols.rank },
          { name: 'image', type: 'int32', values: mapCols.image },
          { name: 'id', type: 'utf8', values: mapCols.id },
          { name: 'value', type: 'float64', values: mapCols.value },
          { name: 'height', type: 'int32', values: mapCols.height },
          { name: 'width', type: 'int32', values: mapCols.width },
        ],
        'map',
        maps,
      ),
    );
    ctx.out.meta('summary', summary);
    ctx.out.meta('categories', categories);
    ctx.out.meta('iou_threshold', p.iouThreshold);
    ctx.out.meta('upsample', p.upsample);
    ctx.out.meta('denominator', p.denominator);
    ctx.out.meta('dataset', up.meta.dataset as Json);
    ctx.out.meta('model', (up.meta.model ?? null) as Json);
    ctx.out.meta('layers', layers.map((l) => ({ layer: l.layer, tensor: l.tensor, units: l.units, height: l.height, width: l.width })) as unknown as Json);
    ctx.out.meta('images', done);
    if (skipped.length) ctx.out.meta('skipped', skipped.slice(0, 100) as unknown as Json);
  },
} satisfies StageDef<LabelParams>;
