// The compare stage's computation, over plain data (no engine, no I/O): per image, the CAM (binarised by a rule) vs
// the LIME mask, and — where a ground-truth mask exists — each method vs the mask (IoU, pointing game, relevance
// mass). Metrics are src/algo/compare (IoU: |A∩B|/|A∪B|, 0 when both empty; pointing: argmax, first in row-major
// order on ties; relevance mass: share of the positive mass inside the mask).
import { Bool, Field, Float64, Int32, Schema, Utf8 } from 'apache-arrow';
import { binarize, maskIoU, pointingGame, relevanceMass, summarize, type BinarizeRule } from '../algo/compare/index.ts';
import { spearman } from '../algo/evaluate/stats.ts';
import { summaryStatFields } from '../arrow/conventions.ts';

export type RuleName = 'same-count' | 'top-percent' | 'threshold' | 'otsu';

export interface BinarizeParams {
  rule: RuleName;
  /** top-percent: share of pixels kept (0..100). */
  percent?: number;
  /** threshold: a pixel is in when cam ≥ value (cams are in [0, 1]). */
  value?: number;
}

/** The rule as stated in the outputs. */
export function ruleText(b: BinarizeParams): string {
  switch (b.rule) {
    case 'same-count':
      return 'same-count (the CAM keeps as many top pixels as the mask it is compared with)';
    case 'top-percent':
      return `top-percent ${b.percent ?? 20}% of the CAM's pixels`;
    case 'threshold':
      return `threshold cam >= ${b.value ?? 0.5}`;
    case 'otsu':
      return "otsu (cam > Otsu's threshold, skimage threshold_otsu with 256 bins)";
  }
}

/** Binarises a CAM for a comparison with `reference` (used by same-count only). */
export function binarizeCam(cam: ArrayLike<number>, b: BinarizeParams, reference: ArrayLike<number>): Uint8Array {
  const r: BinarizeRule =
    b.rule === 'same-count'
      ? { rule: 'same-count', reference }
      : b.rule === 'top-percent'
        ? { rule: 'top-percent', percent: b.percent ?? 20 }
        : b.rule === 'threshold'
          ? { rule: 'threshold', value: b.value ?? 0.5 }
          : { rule: 'otsu' };
  return binarize(cam, r);
}

export interface CamRow {
  image: string;
  index: number;
  method: string;
  layer: string;
  target: number;
  targetName: string;
  label: string | null;
  cam: Float32Array;
}

export interface LimeRow {
  id: string;
  index: number;
  label: number;
  labelName: string | null;
  rank: number;
  nSegments: number;
  mask: Int8Array | Uint8Array;
  /** LIME's local_exp for this label: superpixel ids and their weights. */
  segIds: ArrayLike<number>;
  weights: ArrayLike<number>;
}

export interface CompareInput {
  width: number;
  /** Rows of the cams table (already filtered to the wanted methods/layers); empty when there is no CAM input. */
  cams: CamRow[];
  /** Rows of the LIME explanations table (all labels). */
  lime: LimeRow[];
  /** Segment map per image id (LIME's superpixels), for LIME's pixel weight map. */
  segments: Map<string, Int32Array>;
  /** Ground-truth mask per image id (absent = no mask). */
  gt: Map<string, Uint8Array>;
  binarize: BinarizeParams;
  /** Which LIME explanation a CAM is compared with: the one of the CAM's target class, or LIME's top label. */
  limeLabel: 'cam-target' | 'top';
  pointingTolerance: number;
}

export const perImageSchema = new Schema([
  new Field('image', new Utf8(), false),
  new Field('index', new Int32(), false),
  new Field('label', new Utf8(), true),
  new Field('method', new Utf8(), true),
  new Field('layer', new Utf8(), true),
  new Field('cam_target', new Int32(), true),
  new Field('cam_target_name', new Utf8(), true),
  new Field('lime_label', new Int32(), false),
  new Field('lime_label_name', new Utf8(), true),
  new Field('lime_label_matches', new Bool(), true),
  new Field('n_segments', new Int32(), false),
  new Field('rule', new Utf8(), false),
  new Field('cam_pixels', new Int32(), true),
  new Field('lime_pixels', new Int32(), false),
  new Field('iou', new Float64(), true),
  new Field('rank', new Int32(), true),
  new Field('gt_pixels', new Int32(), true),
  new Field('cam_gt_iou', new Float64(), true),
  new Field('cam_pointing', new Bool(), true),
  new Field('cam_relevance_mass', new Float64(), true),
  new Field('lime_gt_iou', new Float64(), true),
  new Field('lime_pointing', new Bool(), true),
  new Field('lime_relevance_mass', new Float64(), true),
]);

export const summarySchema = new Schema([
  new Field('a', new Utf8(), false),
  new Field('b', new Utf8(), false),
  new Field('metric', new Utf8(), false),
  new Field('rule', new Utf8(), true),
  ...summaryStatFields(),
  new Field('best', new Utf8(), true),
  new Field('worst', new Utf8(), true),
]);

const count = (m: ArrayLike<number>) => {
  let n = 0;
  for (let i = 0; i < m.length; i++) if (m[i] !== 0) n++;
  return n;
};

/** LIME's per-pixel weight map: each pixel gets its superpixel's weight (0 for superpixels not in the explanation). */
export function limeWeightMap(segments: Int32Array, segIds: ArrayLike<number>, weights: ArrayLike<number>): Float64Array {
  let mx = -1;
  for (let i = 0; i < segments.length; i++) if (segments[i] > mx) mx = segments[i];
  const w = new Float64Array(mx + 1);
  for (let k = 0; k < segIds.length; k++) if (segIds[k] >= 0 && segIds[k] <= mx) w[segIds[k]] = weights[k];
  const out = new Float64Array(segments.length);
  for (let i = 0; i < segments.length; i++) out[i] = w[segments[i]];
  return out;
}

/** Name of a CAM in outputs: `method@layer`. */
export const camName = (method: string, layer: string) => `${method}@${layer}`;

export interface CompareResult {
  perImage: Record<string, unknown>[];
  summary: Record<string, unknown>[];
  /** Per CAM name: best and worst agreement with LIME (the seed's discussion), and IoU vs image complexity. */
  extremes: Record<string, { best: { image: string; iou: number; label: string | null }; worst: { image: string; iou: number; label: string | null }; spearman_iou_vs_segments: number | null }>;
  /** Flat key metrics (means) for run listings. */
  metrics: Record<string, number>;
}

/** Every comparison: rows + ranks + summary (compareRows over all images, then finishCompare). */
export function computeCompare(inp: CompareInput): CompareResult {
  return finishCompare(compareRows(inp), inp.binarize);
}

/**
 * The per_image rows of the images in `inp` (rank left null: finishCompare ranks them over all images). Called per
 * image by the compare item module (src/explain/compare-item.ts), so only one image's maps are in memory at a time.
 */
export function compareRows(inp: CompareInput): Record<string, unknown>[] {
  const rule = ruleText(inp.binarize);
  const limeByImage = new Map<string, LimeRow[]>();
  for (const r of inp.lime) {
    const l = limeByImage.get(r.id) ?? [];
    l.push(r);
    limeByImage.set(r.id, l);
  }
  for (const l of limeByImage.values()) l.sort((a, b) => a.rank - b.rank);
  const top = (id: string) => limeByImage.get(id)?.[0];

  // LIME vs GT per (image, label), memoised: the same LIME explanation may be compared with several CAMs.
  const limeGt = new Map<string, { iou: number; pointing: boolean; mass: number }>();
  const limeVsGt = (r: LimeRow) => {
    const gt = inp.gt.get(r.id);
    if (!gt) return undefined;
    const k = `${r.id}\u0000${r.label}`;
    let v = limeGt.get(k);
    if (!v) {
      const seg = inp.segments.get(r.id);
      const wmap = seg ? limeWeightMap(seg, r.segIds, r.weights) : undefined;
      v = {
        iou: maskIoU(r.mask, gt),
        pointing: wmap ? pointingGame(wmap, gt, inp.width, inp.pointingTolerance) : false,
        mass: wmap ? relevanceMass(wmap, gt) : 0,
      };
      limeGt.set(k, v);
    }
    return v;
  };

  const rows: Record<string, unknown>[] = [];
  if (inp.cams.length === 0) {
    // No CAM: one row per image, LIME (top label) vs ground truth only.
    const ids = [...limeByImage.keys()].sort((a, b) => top(a)!.index - top(b)!.index);
    for (const id of ids) {
      const r = top(id)!;
      const gt = inp.gt.get(id);
      const lg = limeVsGt(r);
      rows.push({
        image: id, index: r.index, label: null, method: null, layer: null, cam_target: null, cam_target_name: null,
        lime_label: r.label, lime_label_name: r.labelName, lime_label_matches: null, n_segments: r.nSegments,
        rule, cam_pixels: null, lime_pixels: count(r.mask), iou: null, rank: null, gt_pixels: gt ? count(gt) : null,
        cam_gt_iou: null, cam_pointing: null, cam_relevance_mass: null,
        lime_gt_iou: lg?.iou ?? null, lime_pointing: lg?.pointing ?? null, lime_relevance_mass: lg?.mass ?? null,
      });
    }
  } else {
    for (const c of inp.cams) {
      const list = limeByImage.get(c.image);
      if (!list?.length) continue; // LIME failed (or was limited) for this image: nothing to compare
      const match = inp.limeLabel === 'cam-target' ? list.find((r) => r.label === c.target) : undefined;
      const r = match ?? list[0];
      if (r.mask.length !== c.cam.length) {
        throw new Error(`image '${c.image}': the CAM has ${c.cam.length} pixels, the LIME mask ${r.mask.length}; run CAM and LIME at the same input size`);
      }
      const camMask = binarizeCam(c.cam, inp.binarize, r.mask);
      const gt = inp.gt.get(c.image);
      let camGt: { iou: number; pointing: boolean; mass: number } | undefined;
      if (gt) {
        const camMaskGt = inp.binarize.rule === 'same-count' ? binarizeCam(c.cam, inp.binarize, gt) : camMask;
        camGt = { iou: maskIoU(camMaskGt, gt), pointing: pointingGame(c.cam, gt, inp.width, inp.pointingTolerance), mass: relevanceMass(c.cam, gt) };
      }
      const lg = limeVsGt(r);
      rows.push({
        image: c.image, index: c.index, label: c.label, method: c.method, layer: c.layer, cam_target: c.target, cam_target_name: c.targetName,
        lime_label: r.label, lime_label_name: r.labelName, lime_label_matches: r.label === c.target, n_segments: r.nSegments,
        rule, cam_pixels: count(camMask), lime_pixels: count(r.mask), iou: maskIoU(camMask, r.mask), rank: null,
        gt_pixels: gt ? count(gt) : null,
        cam_gt_iou: camGt?.iou ?? null, cam_pointing: camGt?.pointing ?? null, cam_relevance_mass: camGt?.mass ?? null,
        lime_gt_iou: lg?.iou ?? null, lime_pointing: lg?.pointing ?? null, lime_relevance_mass: lg?.mass ?? null,
      });
    }
  }
  return rows;
}

/** Ranks the rows of all images within each CAM, and summarises them (mean / median / spread per method pair). */
export function finishCompare(rows: Record<string, unknown>[], binarize: BinarizeParams): CompareResult {
  const rule = ruleText(binarize);
  if (rows.some((r) => r.method !== null)) {
    // Rank images by agreement within each CAM (1 = best; ties by dataset order).
    const groups = new Map<string, Record<string, unknown>[]>();
    for (const row of rows) {
      const k = camName(row.method as string, row.layer as string);
      const g = groups.get(k) ?? [];
      g.push(row);
      groups.set(k, g);
    }
    for (const g of groups.values()) {
      [...g].sort((a, b) => (b.iou as number) - (a.iou as number) || (a.index as number) - (b.index as number)).forEach((row, i) => (row.rank = i + 1));
    }
  }

  // Summary: mean / median / spread per method pair and metric.
  const summary: Record<string, unknown>[] = [];
  const metrics: Record<string, number> = {};
  const extremes: CompareResult['extremes'] = {};
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const add = (a: string, b: string, metric: string, sel: Record<string, unknown>[], value: (r: Record<string, unknown>) => number | null, withRule: boolean) => {
    const pts = sel.map((r) => ({ r, v: value(r) })).filter((p): p is { r: Record<string, unknown>; v: number } => p.v !== null && Number.isFinite(p.v));
    if (pts.length === 0) return;
    const s = summarize(pts.map((p) => p.v));
    let best = pts[0], worst = pts[0];
    for (const p of pts) {
      if (p.v > best.v) best = p;
      if (p.v < worst.v) worst = p;
    }
    summary.push({ a, b, metric, rule: withRule ? rule : null, n: s.n, mean: s.mean, median: s.median, std: s.std, min: s.min, max: s.max, best: best.r.image, worst: worst.r.image });
    metrics[`${metric}:${a}~${b}`] = r4(s.mean);
  };
  const num = (k: string) => (r: Record<string, unknown>) => (r[k] === null || r[k] === undefined ? null : Number(r[k]));
  const camNames = [...new Set(rows.filter((r) => r.method !== null).map((r) => camName(r.method as string, r.layer as string)))];
  for (const name of camNames) {
    const sel = rows.filter((r) => r.method !== null && camName(r.method as string, r.layer as string) === name);
    add(name, 'lime', 'iou', sel, num('iou'), true);
    add(name, 'gt', 'iou', sel, num('cam_gt_iou'), true);
    add(name, 'gt', 'pointing', sel, (r) => (r.cam_pointing === null ? null : r.cam_pointing ? 1 : 0), false);
    add(name, 'gt', 'relevance_mass', sel, num('cam_relevance_mass'), false);
    const sorted = [...sel].sort((a, b) => (a.rank as number) - (b.rank as number));
    const b = sorted[0], w = sorted[sorted.length - 1];
    const rho = spearman(sel.map((r) => r.iou as number), sel.map((r) => r.n_segments as number));
    extremes[name] = {
      best: { image: b.image as string, iou: r4(b.iou as number), label: (b.label as string | null) ?? null },
      worst: { image: w.image as string, iou: r4(w.iou as number), label: (w.label as string | null) ?? null },
      spearman_iou_vs_segments: Number.isFinite(rho) ? r4(rho) : null,
    };
  }
  // LIME vs GT: once per image (the LIME explanation of the first CAM's row, or the top label without CAMs).
  const firstPerImage = new Map<string, Record<string, unknown>>();
  for (const r of rows) if (!firstPerImage.has(r.image as string)) firstPerImage.set(r.image as string, r);
  const limeRows = [...firstPerImage.values()];
  add('lime', 'gt', 'iou', limeRows, num('lime_gt_iou'), false);
  add('lime', 'gt', 'pointing', limeRows, (r) => (r.lime_pointing === null ? null : r.lime_pointing ? 1 : 0), false);
  add('lime', 'gt', 'relevance_mass', limeRows, num('lime_relevance_mass'), false);
  return { perImage: rows, summary, extremes, metrics };
}
