// Concept statistics over labelled units: units per concept (the seed's per-layer histograms), unique concepts,
// interpretable units per category, the top concepts per layer, and the comparison of two dissections (shared and
// exclusive concepts). A concept is identified by its label name. Orders are deterministic: count descending, then
// name ascending.
import type { UnitLabel } from './label.ts';

export interface ConceptCount {
  name: string;
  category: string;
  count: number;
}

function byCountThenName(a: ConceptCount, b: ConceptCount): number {
  return b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Units per concept (only interpretable units unless `all`), count descending then name. */
export function conceptCounts(units: readonly UnitLabel[], opts: { all?: boolean } = {}): ConceptCount[] {
  const m = new Map<string, ConceptCount>();
  for (const u of units) {
    if (!opts.all && !u.interpretable) continue;
    const c = m.get(u.name);
    if (c) c.count++;
    else m.set(u.name, { name: u.name, category: u.category, count: 1 });
  }
  return [...m.values()].sort(byCountThenName);
}

export interface LayerSummary {
  layer: string;
  units: number;
  interpretable: number;
  uniqueConcepts: number;
  /** Interpretable units per category (every category of `categories` present, 0 when none). */
  perCategory: Record<string, number>;
  /** The `topN` most frequent concepts (default 3). */
  top: ConceptCount[];
}

/** Summary of one layer's labelled units. */
export function layerSummary(layer: string, units: readonly UnitLabel[], categories: readonly string[], topN = 3): LayerSummary {
  const counts = conceptCounts(units);
  const perCategory: Record<string, number> = {};
  for (const c of categories) perCategory[c] = 0;
  let interpretable = 0;
  for (const u of units) {
    if (!u.interpretable) continue;
    interpretable++;
    perCategory[u.category] = (perCategory[u.category] ?? 0) + 1;
  }
  return { layer, units: units.length, interpretable, uniqueConcepts: counts.length, perCategory, top: counts.slice(0, topN) };
}

export interface SharedConcept {
  name: string;
  category: string;
  countA: number;
  countB: number;
}

export interface DissectionComparison {
  shared: SharedConcept[];
  onlyA: ConceptCount[];
  onlyB: ConceptCount[];
}

/**
 * Compare the interpretable concepts of two dissections (e.g. two models, all layers pooled): shared concepts (with
 * unit counts on each side, ordered by countA + countB descending then name) and those found only in A or only in B.
 */
export function compareDissections(a: readonly UnitLabel[], b: readonly UnitLabel[]): DissectionComparison {
  const ca = new Map(conceptCounts(a).map((c) => [c.name, c]));
  const cb = new Map(conceptCounts(b).map((c) => [c.name, c]));
  const shared: SharedConcept[] = [];
  const onlyA: ConceptCount[] = [];
  const onlyB: ConceptCount[] = [];
  for (const [name, c] of ca) {
    const o = cb.get(name);
    if (o) shared.push({ name, category: c.category, countA: c.count, countB: o.count });
    else onlyA.push(c);
  }
  for (const [name, c] of cb) if (!ca.has(name)) onlyB.push(c);
  shared.sort((x, y) => y.countA + y.countB - (x.countA + x.countB) || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return { shared, onlyA: onlyA.sort(byCountThenName), onlyB: onlyB.sort(byCountThenName) };
}
