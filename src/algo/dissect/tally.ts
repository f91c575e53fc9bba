// IoU accumulation of Network Dissection, per NetDissect-Lite feature_operation.tally_job / tally:
// for every image and every unit whose image maximum exceeds T_k, the unit's map is upsampled to the mask resolution
// (PIL bilinear, as scipy.misc.imresize(mode='F'); resize.ts 'pil'), binarised `up > float32(T_k)` (strict; numpy
// compares the float32 map with the threshold rounded to float32, while the skip test `max > T_k` is in float64), and
//   intersection[u, l] += activated pixels carrying label l (each pixel map counted separately, as Lite's bincount
//                         over the concatenated maps), and += all activated pixels for each image-level (scalar) label;
//   activationCat[u, c] += activated pixels, when the image counts for category c (see `denominator`);
//   truth[l]            += pixels of label l (scalar labels: the whole mask), for every image.
// IoU[u, l] = I / (A[u, l] + G[l] − I + 1e-10) with A[u, l] = Σ_{c ∈ categories(l)} activationCat[u, c]
// (Lite's tally_units_cat · labelcat.T; Lite's labelcat, as conceptSpace builds it, gives each label one category:
// its primary one).
//
// `denominator` (which images count in A for category c):
//   'lite' (default) — Lite's rule: the image counts for c when some *activated* pixel carries a label of category c,
//        or the image has a scalar label of category c (Lite's `tally_cat > 0`). One departure: when an image has only
//        scalar labels, Lite reuses a stale `tally_cat` from the previous iteration; we use the scalars alone.
//   'annotated' — the image counts for c when it carries any annotation of category c anywhere (pixel or scalar).
//
// Speed: per image the pixel maps are folded once into "label-set" ids (pixels with the same combination of labels
// share an id), stored as runs along each mask row; per unit the activated pixels come as spans of output rows
// (src/algo/dissect/upsample.ts, exact without visiting every pixel), counted per set id by overlapping them with the
// runs; sparse accumulation over the touched sets only.
import type { ResizeMode } from '../resize.ts';
import { upsamplerFor } from './upsample.ts';

export interface ConceptSpace {
  /** Label names by label number; label 0 is "unlabelled" (Broden's '-'). */
  names: string[];
  /** Category names (≤ 32). */
  categories: string[];
  /** Categories of each label (Broden's labelcat rows), as indices into `categories`. */
  labelCategories: ReadonlyArray<ReadonlyArray<number>>;
  /** Primary category of each label (used to pick the best label per category). */
  primaryCategory: ArrayLike<number>;
}

export interface ImageAnnotations {
  /** Mask resolution (Broden: image size / 2). */
  height: number;
  width: number;
  /** Pixel label maps, height·width label numbers each (0 = none), any number of them, from any categories. */
  maps: ReadonlyArray<ArrayLike<number>>;
  /** Image-level labels (scene, texture): they cover the whole mask. */
  scalars: ReadonlyArray<number>;
}

export type DenominatorRule = 'lite' | 'annotated';

/** One image's label sets (IouTally.prepare), reusable across tallies over the same concepts. */
export interface PreparedImage {
  height: number;
  width: number;
  numLabels: number;
  labelMask: Uint32Array;
  /**
   * Runs of labelled pixels along each mask row (set 0, no label, is left out): row y's runs are
   * [rowRun[y], rowRun[y + 1]), run r covers columns [runX0[r], runX1[r]) with label set runSet[r]; null without
   * pixel maps.
   */
  rowRun: Int32Array | null;
  runX0: Int32Array;
  runX1: Int32Array;
  runSet: Int32Array;
  setLabels: number[][];
  setMasks: number[];
  /** Pixels per label over the pixel maps: labelPixels[k] pixels of label pixelLabels[k]. */
  pixelLabels: Int32Array;
  labelPixels: Float64Array;
  /** Non-zero image-level labels. */
  scalars: number[];
  scalarMask: number;
  imageMask: number;
}

export interface TallyOptions {
  units: number;
  /** Feature map size of the layer. */
  featureH: number;
  featureW: number;
  /** T_k per unit. */
  thresholds: ArrayLike<number>;
  concepts: ConceptSpace;
  denominator?: DenominatorRule;
  /** Upsampling convention (default 'pil', NetDissect-Lite's). */
  upsample?: ResizeMode;
}

export interface TallyResult {
  units: number;
  numLabels: number;
  numCategories: number;
  /** [units·labels] intersection pixel counts. */
  intersection: Float64Array;
  /** [units·categories] activated pixels on images counting for the category. */
  activationCat: Float64Array;
  /** [labels] pixels of each label over the dataset (G). */
  truth: Float64Array;
  /** [units] activated pixels over the dataset. */
  activated: Float64Array;
  /** Images added. */
  images: number;
}

export class IouTally {
  readonly units: number;
  readonly numLabels: number;
  readonly numCategories: number;
  readonly intersection: Float64Array;
  readonly activationCat: Float64Array;
  readonly truth: Float64Array;
  readonly activated: Float64Array;
  images = 0;
  private readonly thresholds: Float64Array;
  private readonly labelMask: Uint32Array;
  private readonly rule: DenominatorRule;
  private readonly mode: ResizeMode;
  private readonly fh: number;
  private readonly fw: number;
  /** Per-label pixel counts while preparing an image (all zero between calls). */
  private readonly labelScratch: Float64Array;
  /** A label mask of another tally found equal to ours (prepared images from it are accepted). */
  private sameMask: Uint32Array | null = null;

  constructor(opts: TallyOptions) {
    const { units, featureH, featureW, concepts } = opts;
    if (concepts.categories.length > 32) throw new RangeError(`dissect: at most 32 categories supported, got ${concepts.categories.length}`);
    if (opts.thresholds.length !== units) throw new RangeError(`dissect: ${opts.thresholds.length} thresholds for ${units} units`);
    if (concepts.labelCategories.length !== concepts.names.length) {
      throw new RangeError(`dissect: labelCategories has ${concepts.labelCategories.length} rows for ${concepts.names.length} labels`);
    }
    this.units = units;
    this.fh = featureH;
    this.fw = featureW;
    this.numLabels = concepts.names.length;
    this.numCategories = concepts.categories.length;
    this.intersection = new Float64Array(units * this.numLabels);
    this.activationCat = new Float64Array(units * this.numCategories);
    this.truth = new Float64Array(this.numLabels);
    this.activated = new Float64Array(units);
    this.thresholds = Float64Array.from(opts.thresholds);
    this.labelMask = new Uint32Array(this.numLabels);
    for (let l = 0; l < this.numLabels; l++) {
      let m = 0;
      for (const c of concepts.labelCategories[l]) {
        if (!(Number.isInteger(c) && c >= 0 && c < this.numCategories)) throw new RangeError(`dissect: label ${l} has category index ${c} outside 0..${this.numCategories - 1}`);
        m |= 1 << c;
      }
      this.labelMask[l] = m >>> 0;
    }
    this.rule = opts.denominator ?? 'lite';
    if (this.rule !== 'lite' && this.rule !== 'annotated') throw new RangeError(`dissect: denominator must be 'lite' or 'annotated', got '${String(this.rule)}'`);
    this.mode = opts.upsample ?? 'pil';
    this.labelScratch = new Float64Array(this.numLabels);
  }

  private checkLabel(l: number, what: string): void {
    if (!(Number.isInteger(l) && l >= 0 && l < this.numLabels)) throw new RangeError(`dissect: ${what} label ${l} outside 0..${this.numLabels - 1}`);
  }

  /**
   * The label sets of one image's annotations (pixels with the same combination of labels share an id), independent
   * of the layer: `addImage` computes it itself; a caller adding the same image to several tallies over the same
   * concepts (layers, unit ranges) can compute it once with `prepare` and pass it to `addPrepared`.
   */
  prepare(ann: ImageAnnotations): PreparedImage {
    const { numLabels } = this;
    const H = ann.height;
    const W = ann.width;
    const P = H * W;
    const setLabels: number[][] = [[]];
    const setMasks: number[] = [0];
    // pixels per label, in the reusable per-label scratch (labels in first-seen order)
    const pix = this.labelScratch;
    const seenLabels: number[] = [];
    const combine = new Map<number, number>();
    let lastKey = -1;
    let lastId = 0;
    // the set of `prev` plus label l (label lists in map order, as one pass per map over the pixels would build them)
    const setWith = (prev: number, l: number): number => {
      const key = prev * numLabels + l;
      if (key === lastKey) return lastId;
      lastKey = key;
      let id = combine.get(key);
      if (id === undefined) {
        id = setLabels.length;
        setLabels.push([...setLabels[prev], l]);
        setMasks.push(setMasks[prev] | this.labelMask[l]);
        combine.set(key, id);
      }
      return (lastId = id);
    };
    let rowRun: Int32Array | null = null;
    let runX0 = new Int32Array(0);
    let runX1 = runX0;
    let runSet = runX0;
    if (ann.maps.length > 0) {
      for (let m = 0; m < ann.maps.length; m++) {
        if (ann.maps[m].length !== P) throw new RangeError(`dissect: label map ${m} has ${ann.maps[m].length} pixels, expected ${H}×${W}`);
      }
      try {
        // Per row: the runs of each map (equal non-zero labels), folded map by map into runs of label sets.
        rowRun = new Int32Array(H + 1);
        let cap = 4 * H;
        let oX0 = new Int32Array(cap);
        let oX1 = new Int32Array(cap);
        let oSet = new Int32Array(cap);
        let n = 0;
        // row scratch: current runs (a) and the merge output (b); disjoint non-empty runs of a row number at most W
        let aX0 = new Int32Array(W), aX1 = new Int32Array(W), aS = new Int32Array(W);
        let bX0 = new Int32Array(W), bX1 = new Int32Array(W), bS = new Int32Array(W);
        const mX0 = new Int32Array(W), mX1 = new Int32Array(W), mL = new Int32Array(W);
        for (let y = 0; y < H; y++) {
          rowRun[y] = n;
          let na = 0;
          const o = y * W;
          for (let m = 0; m < ann.maps.length; m++) {
            const map = ann.maps[m];
            // this map's runs on row y
            let nm = 0;
            for (let x = 0; x < W; ) {
              const l = map[o + x];
              let e = x + 1;
              while (e < W && map[o + e] === l) e++;
              if (l !== 0) {
                if (!(l > 0 && l < numLabels && Number.isInteger(l))) this.checkLabel(l, `pixel map ${m}`);
                mX0[nm] = x;
                mX1[nm] = e;
                mL[nm++] = l;
                if (pix[l] === 0) seenLabels.push(l);
                pix[l] += e - x;
              }
              x = e;
            }
            if (nm === 0) continue;
            // merge: every breakpoint of either list; a piece covered by a map run gets setWith(prev set, label)
            let nb = 0;
            let i = 0;
            let j = 0;
            let x = Math.min(na > 0 ? aX0[0] : W, mX0[0]);
            const push = (x0: number, x1: number, set: number) => {
              if (x1 <= x0 || set === 0) return;
              if (nb > 0 && bS[nb - 1] === set && bX1[nb - 1] === x0) bX1[nb - 1] = x1;
              else {
                bX0[nb] = x0;
                bX1[nb] = x1;
                bS[nb++] = set;
              }
            };
            while (i < na || j < nm) {
              // skip to the next covered position
              const ai = i < na ? aX0[i] : W;
              const mj = j < nm ? mX0[j] : W;
              if (x < ai && x < mj) x = Math.min(ai, mj);
              const inA = i < na && aX0[i] <= x;
              const inM = j < nm && mX0[j] <= x;
              const endA = inA ? aX1[i] : i < na ? aX0[i] : W;
              const endM = inM ? mX1[j] : j < nm ? mX0[j] : W;
              const e = Math.min(endA, endM);
              const prev = inA ? aS[i] : 0;
              push(x, e, inM ? setWith(prev, mL[j]) : prev);
              x = e;
              if (inA && aX1[i] === e) i++;
              if (inM && mX1[j] === e) j++;
            }
            // b becomes a
            [aX0, bX0] = [bX0, aX0];
            [aX1, bX1] = [bX1, aX1];
            [aS, bS] = [bS, aS];
            na = nb;
          }
          if (n + na > cap) {
            while (n + na > cap) cap *= 2;
            const g0 = new Int32Array(cap);
            const g1 = new Int32Array(cap);
            const g2 = new Int32Array(cap);
            g0.set(oX0.subarray(0, n));
            g1.set(oX1.subarray(0, n));
            g2.set(oSet.subarray(0, n));
            oX0 = g0;
            oX1 = g1;
            oSet = g2;
          }
          oX0.set(aX0.subarray(0, na), n);
          oX1.set(aX1.subarray(0, na), n);
          oSet.set(aS.subarray(0, na), n);
          n += na;
        }
        rowRun[H] = n;
        runX0 = oX0.slice(0, n);
        runX1 = oX1.slice(0, n);
        runSet = oSet.slice(0, n);
      } catch (e) {
        for (const l of seenLabels) pix[l] = 0; // leave the scratch clean for the next image
        throw e;
      }
    }
    let scalarMask = 0;
    for (const s of ann.scalars) {
      this.checkLabel(s, 'scalar');
      if (s === 0) continue;
      scalarMask |= this.labelMask[s];
    }
    let imageMask = scalarMask;
    for (const m of setMasks) imageMask |= m;
    const scalars = ann.scalars.filter((s) => s !== 0);
    const pixelLabels = Int32Array.from(seenLabels);
    const labelPixels = new Float64Array(seenLabels.length);
    seenLabels.forEach((l, k) => {
      labelPixels[k] = pix[l];
      pix[l] = 0;
    });
    return { height: H, width: W, numLabels, labelMask: this.labelMask, rowRun, runX0, runX1, runSet, setLabels, setMasks, pixelLabels, labelPixels, scalars, scalarMask, imageMask };
  }

  /**
   * Add one image: `features` holds its [units, featureH, featureW] maps from `offset`; `maxima` (optional) its
   * per-unit maxima from `maxOffset` (computed when omitted).
   */
  addImage(features: ArrayLike<number>, offset: number, ann: ImageAnnotations, maxima?: ArrayLike<number>, maxOffset = 0): void {
    const { units, fh, fw } = this;
    if (features.length < offset + units * fh * fw) throw new RangeError(`dissect: features too short for ${units}×${fh}×${fw} at offset ${offset}`);
    this.addPrepared(features, offset, this.prepare(ann), maxima, maxOffset);
  }

  /** `addImage` with the image's label sets from `prepare` (of a tally over the same concepts). */
  addPrepared(features: ArrayLike<number>, offset: number, prep: PreparedImage, maxima?: ArrayLike<number>, maxOffset = 0): void {
    const { units, fh, fw, numLabels } = this;
    const H = prep.height;
    const W = prep.width;
    const P = H * W;
    const fhw = fh * fw;
    if (features.length < offset + units * fhw) throw new RangeError(`dissect: features too short for ${units}×${fh}×${fw} at offset ${offset}`);
    if (prep.labelMask !== this.labelMask && prep.labelMask !== this.sameMask) {
      if (prep.numLabels !== numLabels || prep.labelMask.some((m, l) => m !== this.labelMask[l])) throw new RangeError('dissect: prepared image is from a tally over other concepts');
      this.sameMask = prep.labelMask;
    }

    // --- truth (G) ---------------------------------------------------------------------------------------------
    // integer pixel counts: the same float64 sums as one += 1 per pixel
    for (let k = 0; k < prep.pixelLabels.length; k++) this.truth[prep.pixelLabels[k]] += prep.labelPixels[k];
    for (const s of prep.scalars) this.truth[s] += P;
    const { rowRun, runX0, runX1, runSet, setLabels, setMasks, scalars, scalarMask, imageMask } = prep;
    const nSets = setLabels.length;
    const counts = new Int32Array(nSets);
    const touched: number[] = [];

    // --- per unit ---------------------------------------------------------------------------------------------
    const up = upsamplerFor(fh, fw, H, W, this.mode);
    const spans = up.spanBuf;
    for (let u = 0; u < units; u++) {
      const T = this.thresholds[u];
      const base = offset + u * fhw;
      let mx: number;
      if (maxima) mx = maxima[maxOffset + u];
      else {
        mx = -Infinity;
        for (let i = 0; i < fhw; i++) if (features[base + i] > mx) mx = features[base + i];
      }
      if (!(mx > T)) continue;
      // Lite: `imresize(..., mode='F') > threshold` — a float32 map against the threshold rounded to float32 by numpy
      const ns = up.spans(features, base, Math.fround(T));
      const a = up.pixels;
      if (a === 0) continue;
      if (rowRun) {
        // activated pixels per label set: each span against the runs of its row
        for (let k = 0; k < ns; k++) {
          const y = spans[3 * k];
          const x0 = spans[3 * k + 1];
          const x1 = spans[3 * k + 2];
          for (let r = rowRun[y], re = rowRun[y + 1]; r < re; r++) {
            const r0 = runX0[r];
            if (r0 >= x1) break;
            const r1 = runX1[r];
            if (r1 <= x0) continue;
            const c = (r1 < x1 ? r1 : x1) - (r0 > x0 ? r0 : x0);
            const s = runSet[r];
            if (counts[s] === 0) touched.push(s);
            counts[s] += c;
          }
        }
      }
      this.activated[u] += a;
      let hitMask = scalarMask;
      const iRow = u * numLabels;
      for (const s of touched) {
        const cnt = counts[s];
        counts[s] = 0;
        for (const l of setLabels[s]) this.intersection[iRow + l] += cnt;
        hitMask |= setMasks[s];
      }
      touched.length = 0;
      for (const s of scalars) this.intersection[iRow + s] += a;
      const catMask = this.rule === 'lite' ? hitMask : imageMask;
      const cRow = u * this.numCategories;
      for (let c = 0; c < this.numCategories; c++) if (catMask & (1 << c)) this.activationCat[cRow + c] += a;
    }
    this.images++;
  }

  /** Add the counts of another tally over other images (same layer, thresholds and concepts). */
  merge(other: TallyResult): void {
    if (other.units !== this.units || other.numLabels !== this.numLabels || other.numCategories !== this.numCategories) {
      throw new RangeError('dissect: cannot merge tallies of different shapes');
    }
    const add = (a: Float64Array, b: Float64Array) => {
      for (let i = 0; i < a.length; i++) a[i] += b[i];
    };
    add(this.intersection, other.intersection);
    add(this.activationCat, other.activationCat);
    add(this.truth, other.truth);
    add(this.activated, other.activated);
    this.images += other.images;
  }

  result(): TallyResult {
    const { units, numLabels, numCategories, intersection, activationCat, truth, activated, images } = this;
    return { units, numLabels, numCategories, intersection, activationCat, truth, activated, images };
  }
}

/** A[u, l] = Σ_{c ∈ categories(l)} activationCat[u, c] → [units·labels]. */
export function labelActivation(t: TallyResult, concepts: ConceptSpace): Float64Array {
  const out = new Float64Array(t.units * t.numLabels);
  for (let u = 0; u < t.units; u++) {
    for (let l = 0; l < t.numLabels; l++) {
      let s = 0;
      for (const c of concepts.labelCategories[l]) s += t.activationCat[u * t.numCategories + c];
      out[u * t.numLabels + l] = s;
    }
  }
  return out;
}

/** IoU[u, l] = I / (A + G − I + 1e-10) → [units·labels]. */
export function iouMatrix(t: TallyResult, concepts: ConceptSpace): Float64Array {
  const A = labelActivation(t, concepts);
  const out = new Float64Array(t.units * t.numLabels);
  for (let u = 0; u < t.units; u++) {
    for (let l = 0; l < t.numLabels; l++) {
      const i = u * t.numLabels + l;
      const I = t.intersection[i];
      out[i] = I / (A[i] + t.truth[l] - I + 1e-10);
    }
  }
  return out;
}
