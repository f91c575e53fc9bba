// Report sections about individual images: every CAM method's overlay and the LIME overlay side by side (with the
// input image, the true and the predicted class), and the Grad-CAM vs LIME agreement (per-image IoU bar chart and
// ranking) — from a `compare` stage when the run has one, else computed here from the cams and the LIME masks.
import type { Entry } from './sources.ts';
import { column, scalarRows } from './sources.ts';
import { esc, num, rowsTable, table, type Site } from './html.ts';
import { maskIoU, sameCountMask } from '../algo/compare/index.ts';

export interface ImagesOptions {
  /** Images shown in the gallery (the agreement chart covers all). */
  maxImages: number;
  /** Project root: base of relative dataset roots. */
  root: string;
  log?: (msg: string) => void;
}

interface CamCol {
  key: string;
  title: string;
  entry: Entry;
  method: string;
  layer: string;
}

interface Img {
  id: string;
  index: number;
  label?: string;
  pred?: { name: string; prob?: number; from: string };
  input?: string;
  cams: Map<string, string>;
  lime?: { overlay?: string; label: string; prob: number; score?: number };
  iou?: number;
}

/** IoU of the CAM (binarised to the LIME mask's pixel count) and the LIME mask, per image. */
export interface Agreement {
  method: string;
  rule: string;
  rows: { id: string; index: number; iou: number; cls?: string }[];
  source: string;
  /** The compare stage's summary table (mean / median / spread per method pair and metric). */
  summary?: Record<string, unknown>[];
}

/** Display names of pytorch-grad-cam's method names. */
const METHOD_NAMES: Record<string, string> = {
  gradcam: 'Grad-CAM',
  'gradcam++': 'Grad-CAM++',
  xgradcam: 'XGrad-CAM',
  hirescam: 'HiResCAM',
  layercam: 'LayerCAM',
  eigencam: 'EigenCAM',
  ablationcam: 'Ablation-CAM',
  scorecam: 'Score-CAM',
};
export const methodName = (m: string) => METHOD_NAMES[m] ?? m;

/** Short image labels for charts: the file name without extension when those are unique, else the id. */
function shortIds(ids: string[]): string[] {
  const short = ids.map((id) => id.replace(/^.*\//, '').replace(/\.[A-Za-z0-9]+$/, ''));
  return new Set(short).size === short.length ? short : ids;
}

const num01 = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export async function imagesSection(site: Site, entries: Entry[], o: ImagesOptions): Promise<Agreement | undefined> {
  const cams = entries.filter((e) => e.kind === 'cam' && e.hasTable('cams'));
  const limes = entries.filter((e) => e.kind === 'lime' && e.hasTable('explanations'));
  if (!cams.length && !limes.length) return undefined;
  const log = o.log ?? (() => {});
  const imgs = new Map<string, Img>();
  const get = (id: string, index: number) => {
    let r = imgs.get(id);
    if (!r) imgs.set(id, (r = { id, index, cams: new Map() }));
    return r;
  };
  const cols: CamCol[] = [];
  for (const e of cams) {
    const first = cols.length; // this entry's columns, titled once all its layers are known
    const layers = new Set<string>();
    const top1 = ((e.manifest.params as Record<string, unknown>)?.target ?? 'top1') === 'top1';
    // batch by batch: the maps of a large cams table are never all in memory
    for await (const t of e.batches('cams')) {
      const ids = column<string>(t, 'image')!;
      const idx = column<number>(t, 'index')!;
      const method = column<string>(t, 'method')!;
      const layer = column<string>(t, 'layer')!;
      const target = column<string>(t, 'target_name');
      const prob = column<number>(t, 'probability');
      const label = column<string | null>(t, 'label');
      const overlay = column<string | null>(t, 'overlay');
      for (let r = 0; r < t.numRows; r++) {
        const key = `${e.key}|${method[r]}|${layer[r]}`;
        if (!cols.some((c) => c.key === key)) {
          cols.push({ key, title: '', entry: e, method: method[r], layer: layer[r] });
        }
        layers.add(layer[r]);
        const im = get(ids[r], idx[r]);
        if (label?.[r] && !im.label) im.label = label[r]!;
        if (top1 && target && !im.pred) im.pred = { name: target[r], prob: prob?.[r], from: e.stageId };
        const ov = overlay?.[r] && e.file(overlay[r]!);
        if (ov) im.cams.set(key, ov);
      }
    }
    const prefix = cams.length > 1 ? `${e.stageId}: ` : '';
    for (const c of cols.slice(first)) c.title = `${prefix}${methodName(c.method)}${layers.size > 1 ? ` @ ${c.layer}` : ''}`;
  }
  for (const e of limes) {
    const topLabels = (e.manifest.params as Record<string, unknown>)?.top_labels;
    for await (const t of e.batches('explanations')) {
      const ids = column<string>(t, 'id')!;
      const idx = column<number>(t, 'index')!;
      const rank = column<number>(t, 'rank')!;
      const name = column<string | null>(t, 'label_name');
      const labelNo = column<number>(t, 'label')!;
      const prob = column<number>(t, 'prob')!;
      const score = column<number>(t, 'score');
      const overlay = column<string | null>(t, 'overlay');
      for (let r = 0; r < t.numRows; r++) {
        if (rank[r] !== 0) continue;
        const im = get(ids[r], idx[r]);
        if (im.lime) continue;
        const ov = overlay?.[r] && e.file(overlay[r]!);
        im.lime = { overlay: ov || undefined, label: name?.[r] ?? `class ${labelNo[r]}`, prob: prob[r], score: score?.[r] };
        // with top_labels, rank 0 is the most probable class: the prediction
        if (topLabels && !im.pred) im.pred = { name: im.lime.label, prob: prob[r], from: e.stageId };
      }
    }
  }
  const all = [...imgs.values()].sort((a, b) => a.index - b.index || (a.id < b.id ? -1 : 1));

  // true labels and input pixels from the dataset behind the stages
  const dsEntry = [...cams, ...limes].map((e) => e.inputs.images).find((x) => x?.meta?.dataset);
  const geomFrom = cams[0] ?? limes[0];
  const size = geomFrom.meta.input_size as [number, number] | undefined;
  const fit = ((geomFrom.manifest.params as { image?: { fit?: 'stretch' | 'center-crop'; resize?: number } })?.image ?? {}) as { fit?: 'stretch' | 'center-crop'; resize?: number };
  const shown = all.slice(0, o.maxImages);
  if (dsEntry && size) {
    try {
      const { openDataset, refFromMeta, loadItemRgb } = await import('../data/index.ts');
      const { encodePng } = await import('../image/io.ts');
      const ds = await openDataset(refFromMeta(dsEntry.meta, dsEntry.stageId), { baseDir: o.root });
      const byId = new Map(ds.items.map((it) => [it.id, it]));
      for (const im of all) {
        const it = byId.get(im.id) ?? ds.items[im.index];
        if (!it) continue;
        if (!im.label) im.label = it.labelName ?? (it.label !== undefined ? ds.classNames?.[it.label] : undefined);
      }
      for (const [i, im] of shown.entries()) {
        const it = byId.get(im.id) ?? ds.items[im.index];
        if (!it) continue;
        try {
          const rgb = await loadItemRgb(it, size[0], size[1], { fit: fit.fit ?? 'stretch', resize: fit.resize });
          im.input = await site.write(site.name('img/input', `${i}-${im.id}.png`), encodePng(rgb.data, size[1], size[0], 3));
        } catch (e) {
          log(`image ${im.id}: ${(e as Error).message}`);
        }
      }
    } catch (e) {
      log(`dataset of '${dsEntry.stageId}' not readable (${(e as Error).message}): input images left out`);
    }
  }

  // agreement: from a compare stage, else computed here
  const agreement = compareAgreement(entries) ?? (await computeAgreement(cams, limes, log));
  if (agreement) for (const r of agreement.rows) if (imgs.has(r.id)) imgs.get(r.id)!.iou = r.iou;

  // copy the overlays of the images shown
  const colsShown = cols.filter((c) => shown.some((im) => im.cams.has(c.key)));
  const cards: string[] = [];
  for (const [i, im] of shown.entries()) {
    const cells: string[] = [];
    cells.push(cell(im.input, 'input', im.input ? '' : 'no input image'));
    for (const c of colsShown) {
      const src = im.cams.get(c.key);
      const rel = src ? await site.copy(site.name('img/cam', `${i}-${c.method}-${c.layer}.png`), src) : undefined;
      cells.push(cell(rel, c.title));
    }
    if (limes.length) {
      const src = im.lime?.overlay;
      const rel = src ? await site.copy(site.name('img/lime', `${i}-${im.id}.png`), src) : undefined;
      cells.push(cell(rel, im.lime ? `LIME: ${im.lime.label}` : 'LIME'));
    }
    const facts = [
      im.label ? `<span class="chip">true: <b>${esc(im.label)}</b></span>` : '',
      im.pred ? `<span class="chip ${im.label && im.label !== im.pred.name ? 'bad' : 'good'}">predicted: <b>${esc(im.pred.name)}</b>${im.pred.prob !== undefined ? ` ${(100 * im.pred.prob).toFixed(1)}%` : ''}</span>` : '',
      im.iou !== undefined ? `<span class="chip">${esc(methodName(agreement!.method))}–LIME IoU <b>${im.iou.toFixed(2)}</b></span>` : '',
      im.lime?.score !== undefined ? `<span class="chip muted">LIME fit R² ${num(im.lime.score, 2)}</span>` : '',
    ].join('');
    cards.push(`<article class="imgcard" id="img-${esc(slugId(im.id))}"><header><span class="imgid">${esc(im.id)}</span>${facts}</header><div class="strip">${cells.join('')}</div></article>`);
  }
  const legend = `<div class="legends">${cols.length ? `<span class="legend"><span class="jet"></span> CAM: low → high (jet, blended with the image)</span>` : ''}${
    limes.length ? `<span class="legend"><span class="sw" style="background:#0c0"></span> LIME: superpixels for the class <span class="sw" style="background:#c00"></span> against it, yellow: mask boundary</span>` : ''
  }</div>`;
  const methods = [...new Set(cols.map((c) => methodName(c.method)))];
  const intro = `<p>${all.length} image(s)${shown.length < all.length ? `, the first ${shown.length} shown` : ''}; ${methods.length ? `CAM methods: ${esc(methods.join(', '))}` : 'no CAM stage'}; ${limes.length ? 'LIME: top label' : 'no LIME stage'}.</p>`;
  site.add({ id: 'images', title: 'Explanations per image', html: intro + localisation(cams, limes) + legend + `<div class="gallery">${cards.join('\n')}</div>` });

  if (agreement && agreement.rows.length) await agreementSection(site, agreement, imgs, shown);
  return agreement;
}

/** The stages' own ground-truth scores: the cam stage's pointing game, the lime stage's mask IoU. */
function localisation(cams: Entry[], limes: Entry[]): string {
  const rows: { what: string; value: string; detail: string }[] = [];
  for (const e of cams) {
    const pg = e.meta.pointing_game as Record<string, { hits: number; total: number; rate: number }> | undefined;
    for (const [k, v] of Object.entries(pg ?? {})) {
      if (!v || typeof v.rate !== 'number' || !v.total) continue;
      const [m, l] = k.split('@');
      rows.push({ what: `${methodName(m)}${l ? ` @ ${l}` : ''}`, value: `${(100 * v.rate).toFixed(1)}%`, detail: `pointing game: the CAM's maximum inside the object's mask in ${v.hits} of ${v.total} images` });
    }
  }
  for (const e of limes) {
    const sm = e.meta.summary as { mean_gt_iou?: number | null; mean_gt_iou_chance?: number | null; images?: number } | undefined;
    if (typeof sm?.mean_gt_iou === 'number') {
      rows.push({ what: 'LIME', value: sm.mean_gt_iou.toFixed(3), detail: `mean IoU of the LIME mask (top label) with the object's mask${typeof sm.mean_gt_iou_chance === 'number' ? `; a random mask of the same area: ${sm.mean_gt_iou_chance.toFixed(3)}` : ''}` });
    }
  }
  if (!rows.length) return '';
  return `<details open><summary>Localisation against the ground truth</summary>${table(rows, [
    { head: 'explanation', cell: (r) => esc(r.what) },
    { head: 'score', cell: (r) => r.value, cls: 'num' },
    { head: '', cell: (r) => `<span class="muted">${esc(r.detail)}</span>` },
  ], 'class="data"')}</details>`;
}

function slugId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]+/g, '_');
}

function cell(src: string | undefined, caption: string, missing = 'not computed'): string {
  return `<figure class="tile">${src ? `<img src="${esc(src)}" alt="${esc(caption)}" loading="lazy">` : `<div class="missing">${esc(missing)}</div>`}<figcaption>${esc(caption)}</figcaption></figure>`;
}

/**
 * Per-image IoU rows from a `compare` stage (stages/compare.ts, table per_image: one row per image × CAM with `iou`
 * = binarised CAM vs LIME mask): Grad-CAM's rows (else the first CAM's) at its first layer.
 */
function compareAgreement(entries: Entry[]): Agreement | undefined {
  for (const e of entries.filter((x) => x.kind === 'compare' && x.hasTable('per_image'))) {
    const t = e.table('per_image');
    const ids = column<string>(t, 'image');
    const ious = column<number | null>(t, 'iou');
    const method = column<string | null>(t, 'method');
    const layer = column<string | null>(t, 'layer');
    if (!ids || !ious || !method || !layer) continue;
    const idx = column<number>(t, 'index');
    const cls = column<string | null>(t, 'cam_target_name');
    const methods = [...new Set(method.filter((m): m is string => m !== null))];
    const want = methods.includes('gradcam') ? 'gradcam' : methods[0];
    if (!want) continue;
    const wantLayer = layer[method.indexOf(want)];
    const rows: Agreement['rows'] = [];
    for (let r = 0; r < t.numRows; r++) {
      if (method[r] !== want || layer[r] !== wantLayer) continue;
      const v = num01(ious[r]);
      if (v === undefined) continue;
      rows.push({ id: String(ids[r]), index: idx ? idx[r] : r, iou: v, cls: cls?.[r] ?? undefined });
    }
    if (!rows.length) continue;
    const b = e.meta.binarize as { text?: string } | undefined;
    const summary = e.hasTable('summary') ? e.table('summary') : undefined;
    return {
      method: want,
      rule: `the CAM binarised by the rule ${b?.text ?? '(see the compare stage)'}, against LIME's mask`,
      rows,
      source: `stage '${e.stageId}' (table per_image)`,
      summary: summary ? scalarRows(summary) : undefined,
    };
  }
  return undefined;
}

/**
 * Without a compare stage: Grad-CAM (or the first CAM method) binarised to the same pixel count as the LIME mask of
 * the top label (src/algo/compare sameCountMask), IoU with that mask (maskIoU).
 */
async function computeAgreement(cams: Entry[], limes: Entry[], log: (m: string) => void): Promise<Agreement | undefined> {
  if (!cams.length || !limes.length) return undefined;
  return computeWith(cams[0], limes[0], log);
}

/** Image by image, the tables read one record batch at a time (BatchCursor): only the IoUs are kept. */
async function computeWith(cam: Entry, lime: Entry, log: (m: string) => void): Promise<Agreement | undefined> {
  const { BatchCursor } = await import('../arrow/io.ts');
  // one pass over the cams (the cursor's key scan): each method's first layer, in table order
  const firstLayerOf = new Map<string, string>();
  const camCur = await BatchCursor.over(
    () => cam.batches('cams'),
    'image',
    (b) => {
      const m = column<string>(b, 'method')!, l = column<string>(b, 'layer')!;
      for (let r = 0; r < b.numRows; r++) if (!firstLayerOf.has(m[r])) firstLayerOf.set(m[r], l[r]);
    },
  );
  const want = firstLayerOf.has('gradcam') ? 'gradcam' : [...firstLayerOf.keys()][0];
  if (want === undefined) return undefined;
  const firstLayer = firstLayerOf.get(want);
  const limeCur = await BatchCursor.over(() => lime.batches('explanations'), 'id');
  const rows: Agreement['rows'] = [];
  let skipped = 0;
  for (const id of camCur.keys) {
    const c = (await camCur.rows(id)).find(({ batch: b, row: r }) => b.getChild('method')!.get(r) === want && b.getChild('layer')!.get(r) === firstLayer);
    if (!c) continue;
    const target = c.batch.getChild('target')!.get(c.row) as number;
    // the LIME row explaining the CAM's target class (any rank), so both explain the same class
    const l = (await limeCur.rows(id)).find(({ batch: b, row: r }) => b.getChild('label')!.get(r) === target);
    if (!l) {
      skipped++;
      continue;
    }
    const camMap = (c.batch.getChild('cam')!.get(c.row) as { toArray(): Float32Array }).toArray();
    const mask = (l.batch.getChild('mask')!.get(l.row) as { toArray(): Int8Array }).toArray();
    if (camMap.length !== mask.length) {
      skipped++;
      continue;
    }
    const tname = c.batch.getChild('target_name')?.get(c.row) as string | undefined;
    rows.push({ id, index: l.batch.getChild('index')!.get(l.row) as number, iou: maskIoU(sameCountMask(camMap, mask), mask), cls: tname });
  }
  await camCur.close();
  await limeCur.close();
  if (skipped) log(`agreement: ${skipped} image(s) without a LIME explanation of the CAM's target class (or of another size) left out`);
  if (!rows.length) return undefined;
  return {
    method: want,
    rule: 'the CAM binarised to the same pixel count as the LIME mask (its top pixels, ties by lower index), against the LIME mask of the CAM target class',
    rows,
    source: `computed from stages '${cam.stageId}' and '${lime.stageId}'`,
  };
}

async function agreementSection(site: Site, a: Agreement, imgs: Map<string, Img>, shown: Img[]): Promise<void> {
  const { barChart } = await import('../viz/svg.ts');
  const sorted = [...a.rows].sort((x, y) => y.iou - x.iou || x.index - y.index);
  const vals = sorted.map((r) => r.iou);
  const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
  const mid = [...vals].sort((x, y) => x - y);
  const median = mid.length % 2 ? mid[(mid.length - 1) / 2] : (mid[mid.length / 2 - 1] + mid[mid.length / 2]) / 2;
  const w = Math.max(520, Math.min(1240, 80 + sorted.length * 26));
  const name = methodName(a.method);
  const chart = await site.chart(
    'agreement-iou.svg',
    barChart({ title: `${name} vs LIME: IoU per image, best first`, labels: shortIds(sorted.map((r) => r.id)), values: vals, yLabel: 'IoU', width: w, height: 300, showValues: sorted.length <= 30 }),
    `mean ${mean.toFixed(3)}, median ${median.toFixed(3)} over ${vals.length} images`,
    'wide',
  );
  const inShown = new Set(shown.map((s) => s.id));
  const cls = (r: Agreement['rows'][number]) => r.cls ?? imgs.get(r.id)?.pred?.name ?? '';
  const rank = sorted.map((r, i) => ({ ...r, rank: i + 1 }));
  const idCell = (r: { id: string }) => (inShown.has(r.id) ? `<a href="#img-${esc(slugId(r.id))}">${esc(r.id)}</a>` : esc(r.id));
  const cols = [
    { head: '#', cell: (r: (typeof rank)[number]) => String(r.rank), cls: 'num' },
    { head: 'image', cell: idCell },
    { head: 'class', cell: (r: (typeof rank)[number]) => esc(cls(r)) },
    { head: 'true', cell: (r: (typeof rank)[number]) => esc(imgs.get(r.id)?.label ?? '') },
    { head: 'IoU', cell: (r: (typeof rank)[number]) => `<span class="bar" style="--v:${Math.max(0, Math.min(1, r.iou)).toFixed(3)}"></span>${r.iou.toFixed(3)}`, cls: 'num' },
  ];
  const k = Math.min(5, Math.ceil(rank.length / 2));
  const html = [
    `<p>How much ${esc(name)} and LIME agree on where the evidence is: ${esc(a.rule)}. Source: ${esc(a.source)}.</p>`,
    chart,
    `<div class="two"><div><h3>Best agreement</h3>${table(rank.slice(0, k), cols, 'class="data"')}</div><div><h3>Worst agreement</h3>${table(rank.slice(-k).reverse(), cols, 'class="data"')}</div></div>`,
    `<details><summary>Full ranking (${rank.length} images)</summary>${table(rank, cols, 'class="data"')}</details>`,
    a.summary?.length
      ? `<h3>Summary per method pair and metric</h3><p class="muted">a vs b: lime = LIME's mask, gt = the ground-truth mask; pointing: share of images whose map maximum lies in the mask; relevance mass: share of the map's mass inside the mask.</p><div class="tablewrap">${rowsTable(a.summary.map(({ rule: _rule, ...rest }) => rest))}</div>`
      : '',
  ].join('\n');
  site.add({ id: 'agreement', title: `${name} vs LIME`, html });
}
