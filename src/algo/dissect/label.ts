// Unit labelling, per NetDissect-Lite feature_operation.tally: per category, the best label among the labels whose
// primary category it is (argmax of IoU; the first on ties; label 0 when no label of the category has IoU > 0); the
// unit's label is the best of the per-category bests (on ties the later category, as Lite's reversed argsort over
// the few categories); interpretable when its IoU ≥ threshold (SCORE_THRESHOLD 0.04).
import { iouMatrix, labelActivation, type ConceptSpace, type TallyResult } from './tally.ts';

export interface CategoryBest {
  category: string;
  label: number;
  name: string;
  iou: number;
  /** G: pixels of the label. */
  truth: number;
  /** A: activated pixels counted for the label's categories. */
  activation: number;
  /** I: intersection. */
  intersect: number;
}

export interface UnitLabel {
  unit: number;
  label: number;
  name: string;
  category: string;
  iou: number;
  interpretable: boolean;
  /** Best label per category, in `concepts.categories` order (Lite's tally.csv `{cat}-*` columns). */
  perCategory: CategoryBest[];
}

export interface LabelOptions {
  /** Interpretability threshold on the IoU (default 0.04). */
  threshold?: number;
}

/** Label every unit of a tally (results in unit order; sort by iou for Lite's ordering). */
export function labelUnits(t: TallyResult, concepts: ConceptSpace, opts: LabelOptions = {}): UnitLabel[] {
  const threshold = opts.threshold ?? 0.04;
  const iou = iouMatrix(t, concepts);
  const A = labelActivation(t, concepts);
  const L = t.numLabels;
  const cats = concepts.categories;
  const out: UnitLabel[] = [];
  for (let u = 0; u < t.units; u++) {
    const perCategory: CategoryBest[] = [];
    for (let c = 0; c < cats.length; c++) {
      let best = 0;
      let bestIou = 0; // masked-out labels count as 0, as Lite's pciou
      for (let l = 0; l < L; l++) {
        if (concepts.primaryCategory[l] !== c) continue;
        const v = iou[u * L + l];
        if (v > bestIou) {
          bestIou = v;
          best = l;
        }
      }
      const i = u * L + best;
      perCategory.push({
        category: cats[c],
        label: best,
        name: concepts.names[best],
        iou: concepts.primaryCategory[best] === c ? iou[i] : 0,
        truth: t.truth[best],
        activation: A[i],
        intersect: t.intersection[i],
      });
    }
    let bc = 0;
    for (let c = 1; c < perCategory.length; c++) if (perCategory[c].iou >= perCategory[bc].iou) bc = c;
    const b = perCategory[bc];
    out.push({ unit: u, label: b.label, name: b.name, category: b.category, iou: b.iou, interpretable: b.iou >= threshold, perCategory });
  }
  return out;
}

/**
 * Top-N images per unit by their maximum activation (NetDissect-Lite's TOPN = 10 report images). Ties: the lower
 * image index first.
 */
export class TopImages {
  private readonly vals: Float64Array;
  private readonly ids: Int32Array;
  private readonly size: Int32Array;
  constructor(
    readonly units: number,
    readonly n = 10,
  ) {
    this.vals = new Float64Array(units * n);
    this.ids = new Int32Array(units * n);
    this.size = new Int32Array(units);
  }

  // "a ranks below b": smaller value, or equal value and larger index.
  private below(av: number, ai: number, bv: number, bi: number): boolean {
    return av < bv || (av === bv && ai > bi);
  }

  /** Record one image's per-unit maxima (`maxima[maxOffset + u]`). */
  add(image: number, maxima: ArrayLike<number>, maxOffset = 0): void {
    const { n } = this;
    for (let u = 0; u < this.units; u++) {
      const v = maxima[maxOffset + u];
      const o = u * n;
      let s = this.size[u];
      // min-heap of size ≤ n rooted at o (root = lowest ranked)
      if (s < n) {
        let i = s++;
        this.size[u] = s;
        while (i > 0) {
          const p = (i - 1) >> 1;
          if (!this.below(v, image, this.vals[o + p], this.ids[o + p])) break;
          this.vals[o + i] = this.vals[o + p];
          this.ids[o + i] = this.ids[o + p];
          i = p;
        }
        this.vals[o + i] = v;
        this.ids[o + i] = image;
      } else if (this.below(this.vals[o], this.ids[o], v, image)) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= n) break;
          let m = l;
          if (l + 1 < n && this.below(this.vals[o + l + 1], this.ids[o + l + 1], this.vals[o + l], this.ids[o + l])) m = l + 1;
          if (!this.below(this.vals[o + m], this.ids[o + m], v, image)) break;
          this.vals[o + i] = this.vals[o + m];
          this.ids[o + i] = this.ids[o + m];
          i = m;
        }
        this.vals[o + i] = v;
        this.ids[o + i] = image;
      }
    }
  }

  /** The top images of a unit, best first. */
  top(unit: number): { image: number; value: number }[] {
    const o = unit * this.n;
    const items: { image: number; value: number }[] = [];
    for (let i = 0; i < this.size[unit]; i++) items.push({ image: this.ids[o + i], value: this.vals[o + i] });
    return items.sort((a, b) => b.value - a.value || a.image - b.image);
  }
}
