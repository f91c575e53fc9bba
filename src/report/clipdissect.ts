// Report sections of CLIP-Dissect: per describe-units stage, each layer's top concepts, unique concepts and
// histogram (every unit has a description), the units table and descriptions.csv for download; per unit-agreement
// stage, the per-layer agreement with Network Dissection and the units where the two disagree.
import type { Entry } from './sources.ts';
import { scalarRows } from './sources.ts';
import { esc, kv, rowsTable, type Site } from './html.ts';

export async function clipDissectSections(site: Site, entries: Entry[]): Promise<void> {
  for (const e of entries.filter((x) => x.kind === 'describe-units' && x.hasTable('units'))) await descriptions(site, e);
  for (const e of entries.filter((x) => x.kind === 'unit-agreement' && x.hasTable('layers'))) await agreement(site, e);
}

async function descriptions(site: Site, e: Entry): Promise<void> {
  const { hBarChart } = await import('../viz/svg.ts');
  const { conceptCounts } = await import('../algo/dissect/stats.ts');
  const rows = scalarRows(e.table('units')) as { layer: string; unit: number; label: string; category: string; similarity: number | null }[];
  const layers = [...new Set(rows.map((r) => r.layer))];
  const method = (e.meta.method ?? {}) as { similarity?: string; pool?: string };
  const blocks: string[] = [];
  for (const layer of layers) {
    const us = rows.filter((r) => r.layer === layer);
    const counts = conceptCounts(us.map((u) => ({ unit: u.unit, label: -1, name: u.label, category: u.category, iou: u.similarity ?? NaN, interpretable: true, perCategory: [] })));
    const shown = counts.slice(0, 40);
    const chart = await site.chart(
      `clipdissect-${e.stageId}-${layer}.svg`,
      hBarChart({
        title: `${layer}: units per concept${counts.length > shown.length ? ` (top ${shown.length} of ${counts.length})` : ''}`,
        items: shown.map((x) => ({ label: x.name, value: x.count, group: x.category })),
        xLabel: 'units',
        width: 460,
      }),
    );
    const stats = kv([
      ['units', String(us.length)],
      ['unique concepts', String(counts.length)],
      ['most frequent', counts.slice(0, 3).map((x) => `${esc(x.name)} <span class="muted">(${x.count})</span>`).join(', ') || '–'],
    ]);
    blocks.push(`<div class="layer"><h3>${esc(layer)}</h3><div class="layerbody">${stats}${chart}</div></div>`);
  }
  const csv = e.file('descriptions.csv');
  const link = csv ? ` <a href="${esc(await site.copy(site.name('data', `${e.stageId}-descriptions.csv`), csv))}">descriptions.csv</a>` : '';
  const html = [
    `<p>CLIP-Dissect descriptions: similarity <code>${esc(method.similarity ?? '?')}</code>, activations pooled by <code>${esc(method.pool ?? '?')}</code>; ${rows.length} units in ${layers.length} layer(s).${link}</p>`,
    `<div class="layers">${blocks.join('\n')}</div>`,
    `<details><summary>Units (${rows.length})</summary><div class="tablewrap">${rowsTable(rows.map((r) => ({ layer: r.layer, unit: r.unit, description: r.label, category: r.category, similarity: r.similarity })))}</div></details>`,
  ].join('\n');
  site.add({ id: `clipdissect-${e.stageId}`, title: `CLIP-Dissect: ${e.stageId}`, html });
}

async function agreement(site: Site, e: Entry): Promise<void> {
  const layers = scalarRows(e.table('layers')) as Record<string, number | string>[];
  const units = e.hasTable('units') ? (scalarRows(e.table('units')) as Record<string, unknown>[]) : [];
  const pct = (a: number, b: number) => (b ? `${a}/${b} (${((100 * a) / b).toFixed(0)}%)` : '–');
  const summary = layers.map((l) => ({
    layer: l.layer,
    units: l.units,
    'same concept': pct(Number(l.same_concept), Number(l.units)),
    'same category': pct(Number(l.same_category), Number(l.units)),
    'same concept (ND-interpretable)': pct(Number(l.same_concept_interpretable), Number(l.interpretable)),
    'same category (ND-interpretable)': pct(Number(l.same_category_interpretable), Number(l.interpretable)),
  }));
  const differ = units.filter((u) => !u.same_concept).map((u) => ({ layer: u.layer, unit: u.unit, 'Network Dissection': `${u.netdissect} (${u.netdissect_category})`, interpretable: u.interpretable ? 'yes' : 'no', 'CLIP-Dissect': `${u.clipdissect} (${u.clipdissect_category})` }));
  const html = [
    `<p>Per unit, the Network Dissection label (label-units) against the CLIP-Dissect description (describe-units) of the same model: the same concept, or the same category.</p>`,
    rowsTable(summary),
    `<details><summary>Units with different concepts (${differ.length})</summary><div class="tablewrap">${rowsTable(differ)}</div></details>`,
  ].join('\n');
  site.add({ id: `nd-vs-clip-${e.stageId}`, title: 'Network Dissection vs CLIP-Dissect', html });
}
