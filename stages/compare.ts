// Stage `compare`: agreement between CAMs and LIME per image, and of each with the ground truth where masks exist
// (the seed's "Grad-CAM vs LIME by IoU per image" study). Inputs: `lime` (a lime stage: explanations + segments),
// `cams` (optional, a cam stage: the cams table) and `images` (optional, the dataset: ground-truth masks). The CAM is
// binarised by a configurable rule, stated in every output row; the metrics are src/algo/compare. Outputs: per_image
// (with the ranking by agreement), summary (mean / median / spread per method pair), charts/iou_*.svg. The
// computation is src/explain/compare.ts.
import { ConfigError } from '../src/engine/errors.ts';
import type { Json, StageDef, UpstreamOutputs } from '../src/engine/types.ts';
import type { BinarizeParams } from '../src/explain/compare.ts';

interface Params {
  binarize: BinarizeParams;
  methods?: string[];
  layers?: string[];
  lime_label: 'cam-target' | 'top';
  pointing_tolerance: number;
  chart: { enabled: boolean; max_bars: number };
}

export default {
  kind: 'compare',
  version: '1',
  description: 'CAM vs LIME agreement per image (IoU of the binarised CAM and the LIME mask) and each vs ground truth (IoU, pointing game, relevance mass)',
  params: {
    type: 'object',
    properties: {
      binarize: {
        type: 'object',
        default: {},
        description: 'how the CAM becomes a mask',
        properties: {
          rule: {
            enum: ['same-count', 'top-percent', 'threshold', 'otsu'],
            default: 'same-count',
            description: "same-count: as many top CAM pixels as the mask it is compared with (LIME's, or the ground truth's); top-percent: the top `percent` % pixels; threshold: cam ≥ `value`; otsu: cam > Otsu's threshold",
          },
          percent: { type: 'number', minimum: 0, maximum: 100, default: 20, description: 'top-percent: % of pixels kept' },
          value: { type: 'number', default: 0.5, description: 'threshold: the CAM value (cams are in [0, 1])' },
        },
      },
      methods: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'CAM methods to compare (default: every method in the cams table)' },
      layers: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'CAM layers to compare (default: all)' },
      lime_label: {
        enum: ['cam-target', 'top'],
        default: 'cam-target',
        description: "which LIME explanation a CAM is compared with: the one of the CAM's target class (falls back to LIME's top label when LIME did not explain that class), or LIME's top label",
      },
      pointing_tolerance: { type: 'number', minimum: 0, default: 0, description: 'pointing game: a hit within this many pixels of the mask (Zhang et al. use 15 at 224²)' },
      chart: {
        type: 'object',
        default: {},
        properties: {
          enabled: { type: 'boolean', default: true },
          max_bars: { type: 'integer', minimum: 2, default: 200, description: 'more images than this: the chart shows the best and worst max_bars/2' },
        },
      },
    },
  },
  inputs: {
    lime: { description: 'a lime stage (tables explanations and segments)' },
    cams: { description: 'a cam stage (table cams); without it only LIME vs ground truth is computed', optional: true },
    images: { description: 'the dataset stage the explanations were computed on, for ground-truth masks', optional: true, kinds: ['dataset', 'synth-dataset'] },
  },
  outputs: {
    per_image: {
      description:
        'one row per image × CAM (method, layer): image, index, label, method, layer, cam_target, cam_target_name, lime_label, lime_label_name, lime_label_matches, ' +
        'n_segments (LIME superpixels: an image-complexity proxy), rule, cam_pixels, lime_pixels, iou (binarised CAM vs LIME mask), rank (1 = best agreement ' +
        'for that CAM), gt_pixels, cam_gt_iou, cam_pointing, cam_relevance_mass, lime_gt_iou, lime_pointing, lime_relevance_mass (ground-truth columns null without a mask)',
      type: 'table',
    },
    summary: { description: 'one row per method pair × metric: a, b (lime | gt), metric (iou | pointing | relevance_mass), rule, n, mean, median, std, min, max, best, worst (image ids)', type: 'table' },
    charts: { description: 'charts/iou_<method>_<layer>.svg: per-image IoU with LIME, best first (charts/lime_gt_iou.svg without CAMs)', type: 'files' },
  },
  async run(ctx) {
    const { finishCompare, perImageSchema, summarySchema, ruleText, camName } = await import('../src/explain/compare.ts');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { barChart } = await import('../src/viz/svg.ts');
    const p = ctx.params;
    const limeIn = ctx.inputs.lime as UpstreamOutputs;
    const camsIn = ctx.inputs.cams as UpstreamOutputs | undefined;
    const imagesIn = ctx.inputs.images as UpstreamOutputs | undefined;
    for (const t of ['explanations', 'segments']) {
      if (!limeIn.tables.includes(t)) throw new ConfigError(`input 'lime' (stage '${limeIn.stageId}', kind ${limeIn.kind}) has no table '${t}': is it a lime stage?`);
    }
    if (camsIn && !camsIn.tables.includes('cams')) throw new ConfigError(`input 'cams' (stage '${camsIn.stageId}', kind ${camsIn.kind}) has no table 'cams': is it a cam stage?`);

    // The tables are read one record batch at a time, image by image, in the LIME stage's image order (bounded memory).
    const { BatchCursor } = await import('../src/arrow/io.ts');
    const needColumns = (cur: import('../src/arrow/io.ts').BatchCursor, stage: string, table: string, names: string[]) => {
      for (const n of names) if (cur.schema && !cur.schema.fields.some((f) => f.name === n)) throw new ConfigError(`stage '${stage}': table ${table} has no column '${n}'`);
    };
    const exCur = await BatchCursor.over(() => limeIn.batches('explanations'), 'id');
    needColumns(exCur, limeIn.stageId, 'explanations', ['id', 'index', 'label', 'label_name', 'rank', 'n_segments', 'mask', 'local_exp_segments', 'local_exp_weights']);
    // the explanations' size, from the first segment map (seen during the key scan)
    let H = 0, W = 0;
    const segCur = await BatchCursor.over(() => limeIn.batches('segments'), 'id', (b) => {
      if (W || !b.numRows) return;
      H = b.getChild('height')!.get(0) as number;
      W = b.getChild('width')!.get(0) as number;
    });
    if (exCur.keys.size === 0) throw new Error(`stage '${limeIn.stageId}' explained no image`);

    // CAMs: which methods/layers the table has and which are wanted.
    const { canonicalMethod } = await import('../src/algo/cam/methods.ts');
    const norm = (x: string) => canonicalMethod(x) ?? x.toLowerCase();
    const want = (list: string[] | undefined, v: string) => !list || list.some((x) => norm(x) === norm(v) || x === v);
    let camCur: import('../src/arrow/io.ts').BatchCursor | undefined;
    const cams = new Set<string>();
    if (camsIn) {
      const seen = { methods: new Set<string>(), layers: new Set<string>() };
      camCur = await BatchCursor.over(() => camsIn.batches('cams'), 'image', (b) => {
        const method = b.getChild('method'), layer = b.getChild('layer');
        for (let r = 0; method && layer && r < b.numRows; r++) {
          const m = method.get(r) as string, l = layer.get(r) as string;
          seen.methods.add(m);
          seen.layers.add(l);
          if (want(p.methods, m) && want(p.layers, l)) cams.add(camName(m, l));
        }
      });
      needColumns(camCur, camsIn.stageId, 'cams', ['image', 'index', 'method', 'layer', 'target', 'target_name', 'label', 'width', 'cam']);
      if (cams.size === 0) {
        throw new ConfigError(`no CAM of stage '${camsIn.stageId}' matches methods ${JSON.stringify(p.methods ?? 'all')} / layers ${JSON.stringify(p.layers ?? 'all')}`, {
          path: `stages.${ctx.stageId}.params.${p.methods ? 'methods' : 'layers'}`,
          suggestion: `the table has methods ${[...seen.methods].join(', ')} and layers ${[...seen.layers].join(', ')}`,
        });
      }
    }
    // The images compared: LIME's (those with CAMs, when there are CAMs), in LIME's order.
    const camIds = camCur?.keys;
    const ids = [...exCur.keys].filter((id) => !camIds || camIds.has(id));

    // Ground-truth masks come from the dataset items (loaded per image, at the explanations' resolution, with the LIME
    // stage's image fit; a non-lime upstream without params.image: stretch).
    let byId: Map<string, import('../src/data/index.ts').DatasetItem> | undefined;
    if (imagesIn) {
      const { openDataset, refFromMeta } = await import('../src/data/index.ts');
      const ds = await openDataset(refFromMeta(imagesIn.meta, imagesIn.stageId), { baseDir: ctx.projectRoot });
      byId = new Map(ds.items.map((it) => [it.id, it]));
    }
    const image = ((limeIn.params as { image?: { fit?: 'stretch' | 'center-crop'; resize?: number } } | null)?.image ?? {}) as { fit?: 'stretch' | 'center-crop'; resize?: number };
    const arr = <T>(v: unknown) => (v as { toArray(): T }).toArray();
    const item = await import('../src/explain/compare-item.ts');
    const config: import('../src/explain/compare-item.ts').CompareItemConfig = {
      width: W,
      height: H || W,
      binarize: p.binarize,
      limeLabel: p.lime_label,
      pointingTolerance: p.pointing_tolerance,
      withCams: Boolean(camsIn),
      maskOpts: { fit: image.fit ?? 'stretch', resize: image.resize },
    };
    const mapped = await ctx.map({
      table: 'per_image',
      output: false, // ranked over all images below, then written
      items: ids,
      id: (id) => id,
      schema: perImageSchema,
      worker: {
        module: item,
        factory: 'createCompare',
        config,
        prepare: async (id): Promise<import('../src/explain/compare-item.ts').CompareItem> => {
          const lime = (await exCur.rows(id)).map(({ batch: b, row: r }) => ({
            id,
            index: b.getChild('index')!.get(r) as number,
            label: b.getChild('label')!.get(r) as number,
            labelName: (b.getChild('label_name')!.get(r) as string | null) ?? null,
            rank: b.getChild('rank')!.get(r) as number,
            nSegments: b.getChild('n_segments')!.get(r) as number,
            mask: arr<Int8Array>(b.getChild('mask')!.get(r)),
            segIds: arr<Int32Array>(b.getChild('local_exp_segments')!.get(r)),
            weights: arr<Float64Array>(b.getChild('local_exp_weights')!.get(r)),
          }));
          const seg = await segCur.get(id);
          const camRows = [];
          for (const { batch: b, row: r } of camCur ? await camCur.rows(id) : []) {
            const method = b.getChild('method')!.get(r) as string, layer = b.getChild('layer')!.get(r) as string;
            if (!cams.has(camName(method, layer))) continue;
            const w = b.getChild('width')!.get(r) as number;
            if (w !== W) throw new ConfigError(`the CAMs of stage '${camsIn!.stageId}' are ${w} pixels wide, the LIME masks of '${limeIn.stageId}' ${W}: run both on the same model input size`);
            camRows.push({
              image: id,
              index: b.getChild('index')!.get(r) as number,
              method,
              layer,
              target: b.getChild('target')!.get(r) as number,
              targetName: b.getChild('target_name')!.get(r) as string,
              label: (b.getChild('label')!.get(r) as string | null) ?? null,
              cam: arr<Float32Array>(b.getChild('cam')!.get(r)),
            });
          }
          return {
            id,
            lime,
            cams: camRows,
            ...(seg ? { segments: Int32Array.from(arr<Int32Array>(seg.batch.getChild('segments')!.get(seg.row))) } : {}),
            ...(byId?.has(id) ? { item: byId.get(id) } : {}),
          };
        },
      },
    });
    for (const c of [exCur, segCur, camCur]) await c?.close();
    if (mapped.errors.length === ids.length && ids.length) throw new Error(`every image failed; first: ${mapped.errors[0].item}: ${mapped.errors[0].message}`);
    if (mapped.errors.length) ctx.log.warn(`${mapped.errors.length} image(s) failed (table per_image_errors); first: ${mapped.errors[0].item}: ${mapped.errors[0].message}`);
    const withGt = mapped.sums.with_gt ?? 0;
    if (imagesIn && withGt === 0) ctx.log.warn(`dataset of stage '${imagesIn.stageId}' has no ground-truth masks for these images: no comparison with ground truth`);
    // the rows are scalars: all of them in memory for the ranks and the summary (the maps never are)
    const rows: Record<string, unknown>[] = [];
    for await (const b of mapped.batches()) for (const r of b) rows.push(r.toJSON());
    const res = finishCompare(rows, p.binarize);
    await ctx.out.table('per_image', tableFromRows(res.perImage, perImageSchema));
    await ctx.out.table('summary', tableFromRows(res.summary, summarySchema));

    // Charts: per-image IoU, best first.
    const charts: string[] = [];
    if (p.chart.enabled) {
      const shortId = (s: string) => s.replace(/^.*\//, '').replace(/\.[A-Za-z0-9]+$/, '');
      const bars = (rows: Record<string, unknown>[], key: string) => {
        const sorted = rows.filter((r) => r[key] !== null).sort((a, b) => (b[key] as number) - (a[key] as number));
        const half = Math.floor(p.chart.max_bars / 2);
        return sorted.length > p.chart.max_bars ? [...sorted.slice(0, half), ...sorted.slice(sorted.length - half)] : sorted;
      };
      const names = [...new Set(res.perImage.filter((r) => r.method !== null).map((r) => camName(r.method as string, r.layer as string)))];
      for (const name of names) {
        const rows = bars(res.perImage.filter((r) => r.method !== null && camName(r.method as string, r.layer as string) === name), 'iou');
        const rel = `charts/iou_${name.replace(/[^A-Za-z0-9_.+-]+/g, '_')}.svg`;
        await ctx.out.file(rel, barChart({ title: `IoU of ${name} (${ruleText(p.binarize).split(' (')[0]}) with LIME per image`, labels: rows.map((r) => shortId(r.image as string)), values: rows.map((r) => r.iou as number), yLabel: 'IoU' }));
        charts.push(rel);
      }
      if (names.length === 0 && withGt) {
        const rows = bars(res.perImage, 'lime_gt_iou');
        await ctx.out.file('charts/lime_gt_iou.svg', barChart({ title: 'IoU of the LIME mask with ground truth per image', labels: rows.map((r) => shortId(r.image as string)), values: rows.map((r) => r.lime_gt_iou as number), yLabel: 'IoU' }));
        charts.push('charts/lime_gt_iou.svg');
      }
    }

    for (const [name, e] of Object.entries(res.extremes)) {
      const lbl = (x: { label: string | null }) => (x.label ? ` "${x.label}"` : '');
      ctx.log.info(`${name} vs LIME: highest IoU ${e.best.iou} ${e.best.image}${lbl(e.best)}, lowest ${e.worst.iou} ${e.worst.image}${lbl(e.worst)}; Spearman(IoU, LIME superpixels) ${e.spearman_iou_vs_segments ?? 'n/a'}`);
    }
    ctx.out.meta('binarize', { ...p.binarize, text: ruleText(p.binarize) } as unknown as Json);
    ctx.out.meta('images', new Set(res.perImage.map((r) => r.image)).size);
    ctx.out.meta('with_gt', withGt);
    ctx.out.meta('cams', [...new Set(res.perImage.filter((r) => r.method !== null).map((r) => camName(r.method as string, r.layer as string)))]);
    ctx.out.meta('extremes', res.extremes as unknown as Json);
    ctx.out.meta('metrics', res.metrics);
    ctx.out.meta('charts', charts);
  },
} satisfies StageDef<Params>;
