// Per-unit agreement of two labellings of the same model's units — Network Dissection (label-units) and CLIP-Dissect
// (describe-units) — as the CLIP-Dissect paper cross-checks them: the same concept, or the same category.
// Concept names are compared case-insensitively, '_' as ' ', without Broden's one-letter category suffix
// ('red-c' = 'red', 'street-s' = 'street').

export interface LabelledUnit {
  layer: string;
  unit: number;
  label: string;
  category: string;
  interpretable: boolean;
}

export interface UnitAgreement {
  layer: string;
  unit: number;
  a: LabelledUnit;
  b: LabelledUnit;
  sameConcept: boolean;
  sameCategory: boolean;
}

export interface LayerAgreement {
  layer: string;
  units: number;
  /** Units interpretable under labelling a (Network Dissection's IoU threshold). */
  interpretableA: number;
  sameConcept: number;
  sameCategory: number;
  /** Among the units interpretable under a. */
  sameConceptInterpretable: number;
  sameCategoryInterpretable: number;
}

/** The comparable form of a concept name. */
export function conceptKey(name: string): string {
  return name.trim().toLowerCase().replace(/_/g, ' ').replace(/-[a-z]$/, '').trim();
}

/** Units present in both labellings (a's order), with their agreement. */
export function unitAgreement(a: readonly LabelledUnit[], b: readonly LabelledUnit[]): UnitAgreement[] {
  const byKey = new Map(b.map((u) => [`${u.layer}\u0000${u.unit}`, u]));
  const out: UnitAgreement[] = [];
  for (const u of a) {
    const v = byKey.get(`${u.layer}\u0000${u.unit}`);
    if (!v) continue;
    out.push({
      layer: u.layer,
      unit: u.unit,
      a: u,
      b: v,
      sameConcept: conceptKey(u.label) === conceptKey(v.label),
      sameCategory: u.category !== '' && u.category.toLowerCase() === v.category.toLowerCase(),
    });
  }
  return out;
}

/** Per layer (order of first appearance): counts of agreeing units. */
export function layerAgreement(rows: readonly UnitAgreement[]): LayerAgreement[] {
  const m = new Map<string, LayerAgreement>();
  for (const r of rows) {
    let s = m.get(r.layer);
    if (!s) m.set(r.layer, (s = { layer: r.layer, units: 0, interpretableA: 0, sameConcept: 0, sameCategory: 0, sameConceptInterpretable: 0, sameCategoryInterpretable: 0 }));
    s.units++;
    if (r.sameConcept) s.sameConcept++;
    if (r.sameCategory) s.sameCategory++;
    if (r.a.interpretable) {
      s.interpretableA++;
      if (r.sameConcept) s.sameConceptInterpretable++;
      if (r.sameCategory) s.sameCategoryInterpretable++;
    }
  }
  return [...m.values()];
}
