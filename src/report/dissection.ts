// Report sections of Network Dissection: per layer, the histogram of concepts (interpretable units per concept) and
// the interpretable units per category; the units table (sortable / filterable in the page by report.js) whose rows
// show each unit's top-activating images with the thresholded region highlighted, as NetDissect-Lite's report draws
// them (src/algo/dissect/overlay.ts: the unit's map upsampled to the image size with PIL bilinear, > T_k, then
// (mask·0.8 + 0.2)·image); and the comparison of two dissections (compare-concepts: shared / exclusive concepts).
import type { Entry } from './sources.ts';
import { column, scalarRows } from './sources.ts';
import { esc, kv, num, type Site } from './html.ts';

export interface DissectionOptions {
  /** Top images drawn per unit (≤ label-units' topN). */
  topImages: number;
  /** Side of each top-image thumbnail in pixels. */
  thumb: number;
  root: string;
  log?: (msg: string) => void;
}

interface UnitRow {
  layer: string;
  unit: number;
  label: string;
  category: string;
  iou: number;
  threshold: number;
  interpretable: boolean;
  strip?: string;
  ids?: string[];
}

export async function dissectionSections(site: Site, entries: Entry[], o: DissectionOptions): Promise<void> {
  const labels = entries.filter((e) => e.kind === 'label-units' && e.hasTable('units'));
  for (const [i, e] of labels.entries()) await dissection(site, e, labels.length > 1 ? `${e.stageId}` : '', i, o);
  for (const e of entries.filter((x) => x.kind === 'compare-concepts' && x.hasTable('concepts'))) await conceptComparison(site, e);
}

async function dissection(site: Site, e: Entry, name: string, n: number, o: DissectionOptions): Promise<void> {
  const log = o.log ?? (() => {});
  const { hBarChart, groupedBarChart } = await import('../viz/svg.ts');
  const { conceptCounts, layerSummary } = await import('../algo/dissect/stats.ts');
  const t = e.table('units');
  const c = {
    layer: column<string>(t, 'layer')!,
    unit: column<number>(t, 'unit')!,
    label: column<string>(t, 'label')!,
    category: column<string>(t, 'category')!,
    iou: column<number>(t, 'iou')!,
    threshold: column<number>(t, 'threshold')!,
    interpretable: column<boolean>(t, 'interpretable')!,
  };
  const units: UnitRow[] = c.layer.map((layer, r) => ({
    layer,
    unit: c.unit[r],
    label: c.label[r],
    category: c.category[r],
    iou: c.iou[r],
    threshold: c.threshold[r],
    interpretable: Boolean(c.interpretable[r]),
  }));
  const layers = [...new Set(units.map((u) => u.layer))];
  const categories = Array.isArray(e.meta.categories) ? (e.meta.categories as string[]) : [...new Set(units.map((u) => u.category))];
  const thr = typeof e.meta.iou_threshold === 'number' ? e.meta.iou_threshold : undefined;
  const asLabels = (us: UnitRow[]) => us.map((u) => ({ unit: u.unit, label: -1, name: u.label, category: u.category, iou: u.iou, interpretable: u.interpretable, perCategory: [] }));
  const sid = `dissection${n ? `-${n + 1}` : ''}`;
  const title = `Network dissection${name ? `: ${name}` : ''}`;

  // per layer: summary, histogram
  const blocks: string[] = [];
  const perCat: Record<string, Record<string, number>> = {};
  for (const layer of layers) {
    const us = units.filter((u) => u.layer === layer);
    const s = layerSummary(layer, asLabels(us), categories, 3);
    perCat[layer] = s.perCategory;
    const counts = conceptCounts(asLabels(us));
    const shown = counts.slice(0, 40);
    const hist = counts.length
      ? await site.chart(
          `histogram-${name}-${layer}.svg`,
          hBarChart({
            title: `${layer}: units per concept${counts.length > shown.length ? ` (top ${shown.length} of ${counts.length})` : ''}`,
            items: shown.map((x) => ({ label: x.name, value: x.count, group: x.category })),
            xLabel: 'interpretable units',
            width: 460,
            groupOrder: categories, // a category has the same colour in every chart and in the units table
          }),
        )
      : '<p class="muted">no interpretable unit in this layer</p>';
    const stats = kv([
      ['units', String(s.units)],
      ['interpretable', `${s.interpretable} (${s.units ? ((100 * s.interpretable) / s.units).toFixed(0) : 0}%)`],
      ['unique concepts', String(s.uniqueConcepts)],
      ['most frequent', s.top.length ? s.top.map((x) => `${esc(x.name)} <span class="muted">(${x.count})</span>`).join(', ') : '–'],
      ...categories.map((cat): [string, string] => [cat, String(s.perCategory[cat] ?? 0)]),
    ]);
    blocks.push(`<div class="layer"><h3>${esc(layer)}</h3><div class="layerbody">${stats}${hist}</div></div>`);
  }
  const catChart = await site.chart(
    `categories-${name || 'dissection'}.svg`,
    groupedBarChart({
      title: 'Interpretable units per category',
      groups: categories,
      series: layers.map((l) => ({ name: l, values: categories.map((cat) => perCat[l][cat] ?? 0) })),
      yLabel: 'units',
      width: Math.max(420, 120 + categories.length * (30 + 14 * layers.length)),
    }),
  );

  // top images with the region highlighted
  await strips(site, e, units, o, log);

  // CSV tallies (NetDissect-Lite's tally.csv) for download
  const csvs: string[] = [];
  for (const f of e.files().filter((x) => /^tally-.*\.csv$/.test(x))) {
    const rel = await site.copy(site.name('data', `${name ? name + '-' : ''}${f}`), e.file(f)!);
    csvs.push(`<a href="${esc(rel)}">${esc(f)}</a>`);
  }

  const info = [
    `${units.length} units in ${layers.length} layer(s) (${layers.map(esc).join(', ')}), concepts from ${categories.length} categories (${categories.map(esc).join(', ')})`,
    thr !== undefined ? `a unit is interpretable when its best IoU ≥ ${thr}` : '',
    typeof e.meta.images === 'number' ? `${e.meta.images} dataset images` : '',
  ].filter(Boolean);
  const html = [
    `<p>${info.join('; ')}. ${csvs.length ? `Tallies: ${csvs.join(' ')}` : ''}</p>`,
    `<div class="layers">${blocks.join('\n')}</div>`,
    catChart,
    `<h3 id="${sid}-units">Units</h3>`,
    `<p class="muted">Top-activating images of each unit; the bright part is where the unit's activation, upsampled to the image, exceeds its threshold T<sub>k</sub> (NetDissect: (mask·0.8 + 0.2)·image). Click a column head to sort.</p>`,
    unitsTable(units, layers, categories, thr),
  ].join('\n');
  site.add({ id: sid, title, html });
}

function unitsTable(units: UnitRow[], layers: string[], categories: string[], thr: number | undefined): string {
  const opt = (v: string) => `<option value="${esc(v)}">${esc(v)}</option>`;
  const labels = [...new Set(units.map((u) => u.label))].sort();
  const filters = `<div class="filters" data-for="units">
  <label>layer <select data-filter="layer"><option value="">all</option>${layers.map(opt).join('')}</select></label>
  <label>category <select data-filter="category"><option value="">all</option>${categories.map(opt).join('')}</select></label>
  <label>label <input type="search" data-filter="label" list="unit-labels" placeholder="any"></label>
  <datalist id="unit-labels">${labels.map(opt).join('')}</datalist>
  <label>IoU ≥ <input type="number" data-filter="iou" min="0" max="1" step="0.01" value="" placeholder="${thr ?? 0}"></label>
  <label><input type="checkbox" data-filter="interpretable"> interpretable only</label>
  <span class="count" data-count></span>
</div>`;
  const sorted = [...units].sort((a, b) => b.iou - a.iou || layers.indexOf(a.layer) - layers.indexOf(b.layer) || a.unit - b.unit);
  const rows = sorted
    .map(
      (u) =>
        `<tr data-layer="${esc(u.layer)}" data-category="${esc(u.category)}" data-label="${esc(u.label)}" data-iou="${u.iou}" data-interpretable="${u.interpretable ? 1 : 0}"${u.interpretable ? '' : ' class="dim"'}>` +
        `<td data-v="${layers.indexOf(u.layer)}">${esc(u.layer)}</td><td class="num" data-v="${u.unit}">${u.unit}</td>` +
        `<td data-v="${esc(u.label)}"><b>${esc(u.label)}</b></td><td data-v="${esc(u.category)}"><span class="cat cat-${categories.indexOf(u.category) % 10}">${esc(u.category)}</span></td>` +
        `<td class="num" data-v="${u.iou}">${num(u.iou, 3)}</td><td class="num" data-v="${u.threshold}">${num(u.threshold, 3)}</td>` +
        `<td class="tops">${u.strip ? `<img src="${esc(u.strip)}" alt="top images of ${esc(u.layer)} unit ${u.unit}" title="${esc((u.ids ?? []).join(', '))}" loading="lazy">` : '<span class="muted">–</span>'}</td></tr>`,
    )
    .join('\n');
  return `${filters}<div class="tablewrap"><table class="data sortable units" id="units"><thead><tr>
<th data-sort="num">layer</th><th data-sort="num" class="num">unit</th><th data-sort="text">label</th><th data-sort="text">category</th><th data-sort="num" class="num" aria-sort="descending">IoU</th><th data-sort="num" class="num">T<sub>k</sub></th><th>top-activating images</th></tr></thead><tbody>
${rows}
</tbody></table></div>`;
}

/** One PNG per unit: its top images side by side, the thresholded region highlighted. */
async function strips(site: Site, e: Entry, units: UnitRow[], o: DissectionOptions, log: (m: string) => void): Promise<void> {
  if (!e.hasTable('top_maps')) {
    log(`'${e.stageId}' has no top_maps table: units are shown without their top images`);
    return;
  }
  const { openDataset, refFromMeta } = await import('../data/index.ts');
  const { decodeImage, encodePng, fitPixels } = await import('../image/io.ts');
  const { unitMask, highlightRegion } = await import('../algo/dissect/overlay.ts');
  let ds;
  try {
    ds = await openDataset(refFromMeta(e.meta, e.stageId), { baseDir: o.root });
  } catch (err) {
    log(`dataset of '${e.stageId}' not readable (${(err as Error).message}): units are shown without their top images`);
    return;
  }
  const upsample = (['pil', 'cv2', 'align-corners'] as const).find((m) => m === e.meta.upsample) ?? 'pil';
  const t = e.table('top_maps');
  const L = column<string>(t, 'layer')!;
  const U = column<number>(t, 'unit')!;
  const R = column<number>(t, 'rank')!;
  const I = column<number>(t, 'image')!;
  const ID = column<string>(t, 'id')!;
  const FH = column<number>(t, 'height')!;
  const FW = column<number>(t, 'width')!;
  const M = t.getChild('map')!;
  const rowsOf = new Map<string, number[]>();
  for (let r = 0; r < t.numRows; r++) {
    if (R[r] > o.topImages) continue;
    const k = `${L[r]}|${U[r]}`;
    let a = rowsOf.get(k);
    if (!a) rowsOf.set(k, (a = []));
    a.push(r);
  }
  const cache = new Map<number, { data: Uint8Array; width: number; height: number }>();
  const image = async (i: number) => {
    let im = cache.get(i);
    if (!im) {
      const it = ds.items[i];
      if (!it) throw new Error(`image ${i} is not in the dataset (${ds.items.length} items)`);
      im = await decodeImage(it.path);
      if (cache.size >= 256) cache.delete(cache.keys().next().value!);
      cache.set(i, im);
    }
    return im;
  };
  const T = o.thumb;
  const gap = 3;
  let done = 0;
  let failed = 0;
  for (const u of units) {
    const rs = (rowsOf.get(`${u.layer}|${u.unit}`) ?? []).sort((a, b) => R[a] - R[b]);
    if (!rs.length) continue;
    const W = rs.length * T + (rs.length - 1) * gap;
    const strip = new Uint8Array(W * T * 3).fill(255);
    try {
      for (const [j, r] of rs.entries()) {
        const im = await image(I[r]);
        const map = (M.get(r) as { toArray(): Float32Array }).toArray();
        const mask = unitMask(map, FH[r], FW[r], im.height, im.width, u.threshold, upsample);
        const hi = highlightRegion(im.data, im.height, im.width, mask);
        const th = fitPixels(hi, im.width, im.height, 3, T, T, { fit: 'stretch' }, 'linear');
        const x0 = j * (T + gap);
        for (let y = 0; y < T; y++) strip.set(th.subarray(y * T * 3, (y + 1) * T * 3), (y * W + x0) * 3);
      }
      u.strip = await site.write(site.name('img/units', `${e.stageId}-${u.layer}-${u.unit}.png`), encodePng(strip, W, T, 3));
      u.ids = rs.map((r) => ID[r]);
      done++;
    } catch (err) {
      if (failed++ === 0) log(`unit ${u.layer}/${u.unit}: top images not drawn: ${(err as Error).message}`);
    }
  }
  log(`drew the top ${o.topImages} images of ${done} units${failed ? ` (${failed} failed)` : ''}`);
}

async function conceptComparison(site: Site, e: Entry): Promise<void> {
  const names = (e.meta.names ?? {}) as { a?: string; b?: string };
  const a = names.a ?? 'a';
  const b = names.b ?? 'b';
  const rows = scalarRows(e.table('concepts')) as { concept: string; category: string; units_a: number; units_b: number; status: string }[];
  const counts = { shared: rows.filter((r) => r.status === 'shared').length, a: rows.filter((r) => r.status === 'only_a').length, b: rows.filter((r) => r.status === 'only_b').length };
  const figs: string[] = [];
  for (const [f, cap, n] of [
    ['overlap.svg', '', 1],
    ['shared.svg', '', counts.shared],
    ['only-a.svg', '', counts.a],
    ['only-b.svg', '', counts.b],
  ] as const) {
    const p = n > 0 ? e.file(f) : undefined; // an empty chart says nothing the counts do not
    if (p) figs.push(`<figure class="chart"><img src="${esc(await site.copy(site.name('charts', `${e.stageId}-${f}`), p))}" alt="${esc(f)}">${cap}</figure>`);
  }
  const list = (status: string, side: 'units_a' | 'units_b' | 'both') => {
    const rs = rows.filter((r) => r.status === status);
    if (!rs.length) return '<p class="muted">none</p>';
    return `<ul class="concepts">${rs
      .map((r) => `<li><b>${esc(r.concept)}</b> <span class="muted">${esc(r.category)} · ${side === 'both' ? `${r.units_a} / ${r.units_b}` : r[side]} unit(s)</span></li>`)
      .join('')}</ul>`;
  };
  const html = [
    `<p>Interpretable concepts of <b>${esc(a)}</b> and <b>${esc(b)}</b>: ${counts.shared} shared, ${counts.a} only in ${esc(a)}, ${counts.b} only in ${esc(b)}.</p>`,
    `<div class="charts">${figs.join('')}</div>`,
    `<div class="three"><div><h3>Shared <span class="muted">(units ${esc(a)} / ${esc(b)})</span></h3>${list('shared', 'both')}</div><div><h3>Only ${esc(a)}</h3>${list('only_a', 'units_a')}</div><div><h3>Only ${esc(b)}</h3>${list('only_b', 'units_b')}</div></div>`,
  ].join('\n');
  site.add({ id: `concepts-${e.stageId}`, title: `Concepts: ${a} vs ${b}`, html });
}
