// IoU accumulation of Network Dissection, per NetDissect-Lite feature_operation.tally_job / tally:
// for every image and every unit whose image maximum exceeds T_k, the unit's map is upsampled to the mask resolution
// (PIL bilinear, as scipy.misc.imresize(mode='F'); resize.ts 'pil'), binarised `up > T_k` (strict), and
//   intersection[u, l] += activated pixels carrying label l (each pixel map counted separately, as Lite's bincount
//                         over the concatenated maps), and += all activated pixels for each image-level (scalar) label;
//   activationCat[u, c] += activated pixels, when the image counts for category c (see `denominator`);
//   truth[l]            += pixels of label l (scalar labels: the whole mask), for every image.
// IoU[u, l] = I / (A[u, l] + G[l] − I + 1e-10) with A[u, l] = Σ_{c ∈ categories(l)} activationCat[u, c]
// (Lite's tally_units_cat · labelcat.T).
//
// `denominator` (which images count in A for category c):
//   'lite' (default) — Lite's rule: the image counts for c when some *activated* pixel carries a label of category c,
//        or the image has a scalar label of category c (Lite's `tally_cat > 0`). One departure: when an image has only
//        scalar labels, Lite reuses a stale `tally_cat` from the previous iteration; we use the scalars alone.
//   'annotated' — the image counts for c when it carries any annotation of category c anywhere (pixel or scalar).
//
// Speed: per image the pixel maps are folded once into "label-set" ids (pixels with the same combination of labels
// share an id); per unit one pass over the output rows counts activated pixels per set id, skipping output rows whose
// source rows cannot exceed T_k; sparse accumulation over the touched sets only.
import { getResizer, type Resizer, type ResizeMode } from '../resize.ts';

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
  /** Label-set id per mask pixel (0 = no label), or null without pixel maps. */
  setOf: Int32Array | null;
  setLabels: number[][];
  setMasks: number[];
  /** Pixels per label over the pixel maps. */
  labelPixels: Map<number, number>;
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
  // per-image scratch
  private readonly labelToTmp: Int32Array;
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
    this.labelToTmp = new Int32Array(this.numLabels).fill(-1);
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
    let setOf: Int32Array | null = null;
    const setLabels: number[][] = [[]];
    const setMasks: number[] = [0];
    const labelPixels = new Map<number, number>();
    if (ann.maps.length > 0) {
      setOf = new Int32Array(P); // set 0 = no labels
      const combine = new Map<number, number>();
      for (let m = 0; m < ann.maps.length; m++) {
        const map = ann.maps[m];
        if (map.length !== P) throw new RangeError(`dissect: label map ${m} has ${map.length} pixels, expected ${H}×${W}`);
        // consecutive pixels mostly repeat the same (previous set, label) pair: a one-entry cache before the Map
        let lastKey = -1;
        let lastId = 0;
        let lastLabel = -1;
        let run = 0;
        for (let p = 0; p < P; p++) {
          const l = map[p];
          if (l === 0) continue;
          if (!(l > 0 && l < numLabels && Number.isInteger(l))) this.checkLabel(l, `pixel map ${m}`);
          if (l !== lastLabel) {
            if (run > 0) labelPixels.set(lastLabel, (labelPixels.get(lastLabel) ?? 0) + run);
            lastLabel = l;
            run = 0;
          }
          run++;
          const prev = setOf[p];
          const key = prev * numLabels + l;
          if (key !== lastKey) {
            let id = combine.get(key);
            if (id === undefined) {
              id = setLabels.length;
              setLabels.push([...setLabels[prev], l]);
              setMasks.push(setMasks[prev] | this.labelMask[l]);
              combine.set(key, id);
            }
            lastKey = key;
            lastId = id;
          }
          setOf[p] = lastId;
        }
        if (run > 0) labelPixels.set(lastLabel, (labelPixels.get(lastLabel) ?? 0) + run);
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
    return { height: H, width: W, numLabels, labelMask: this.labelMask, setOf, setLabels, setMasks, labelPixels, scalars, scalarMask, imageMask };
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
    for (const [l, c] of prep.labelPixels) this.truth[l] += c;
    for (const s of prep.scalars) this.truth[s] += P;
    const { setOf, setLabels, setMasks, scalars, scalarMask, imageMask } = prep;
    const nSets = setLabels.length;
    const counts = new Int32Array(nSets);
    const touched: number[] = [];

    // --- per unit ---------------------------------------------------------------------------------------------
    const up = upsamplerFor(fh, fw, H, W, this.mode);
    const hits = up.hits;
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
      const a = up.activated(features, base, T);
      if (setOf) {
        for (let h = 0; h < a; h++) {
          const s = setOf[hits[h]];
          if (counts[s]++ === 0) touched.push(s);
        }
      }
      if (a === 0) continue;
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

/**
 * Pixels of the upsampled map above T, exactly as `Resizer.plane(...)[p] > T` but visiting only output pixels whose
 * source neighbourhood holds a value > T (a bilinear value is a convex combination of its non-zero-weight taps, so it
 * cannot exceed their maximum). Falls back to the dense resize when a table has more than 2 taps (shrinking).
 */
export class SparseUpsampler {
  /** Output pixel indices of the last `activated` call (first `count` entries). */
  readonly hits: Int32Array;
  private readonly r: Resizer;
  private readonly rStart: Int32Array;
  private readonly rEnd: Int32Array;
  private readonly cStart: Int32Array;
  private readonly cEnd: Int32Array;
  private readonly rowHas: Int32Array;
  private readonly tmp: Float32Array;
  private readonly rowStamp: Int32Array;
  /** Columns [rowLo, rowHi) of tmp computed for a row in the current call. */
  private readonly rowLo: Int32Array;
  private readonly rowHi: Int32Array;
  /** Per source row its columns above T; the merged columns of an output row. */
  private readonly rowCols: Int32Array;
  private readonly merged: Int32Array;
  private stamp = 0;
  private readonly dense: Float32Array | null;
  /** cv2 mode: float32 arithmetic as Resizer does for it. */
  private readonly f32: boolean;

  constructor(
    readonly fh: number,
    readonly fw: number,
    readonly H: number,
    readonly W: number,
    mode: ResizeMode,
  ) {
    this.r = getResizer(fh, fw, H, W, mode);
    this.hits = new Int32Array(H * W);
    const ranges = (t: Resizer['rows'], n: number): [Int32Array, Int32Array] => {
      const st = new Int32Array(n).fill(t.outSize);
      const en = new Int32Array(n);
      for (let o = 0; o < t.outSize; o++) {
        for (let k = 0; k < t.taps; k++) {
          if (t.w[o * t.taps + k] === 0) continue;
          const i = t.idx[o * t.taps + k];
          if (o < st[i]) st[i] = o;
          if (o + 1 > en[i]) en[i] = o + 1;
        }
      }
      return [st, en];
    };
    [this.rStart, this.rEnd] = ranges(this.r.rows, fh);
    [this.cStart, this.cEnd] = ranges(this.r.cols, fw);
    this.rowHas = new Int32Array(fh);
    this.tmp = new Float32Array(fh * W);
    this.rowStamp = new Int32Array(fh);
    this.rowLo = new Int32Array(fh);
    this.rowHi = new Int32Array(fh);
    this.rowCols = new Int32Array(fh * fw);
    this.merged = new Int32Array(fw);
    this.f32 = mode === 'cv2';
    this.dense = this.r.rows.taps === 2 && this.r.cols.taps === 2 ? null : new Float32Array(H * W);
  }

  /** Count (and list in `hits`) the output pixels with upsampled value > T, for the map at `src[base ..]`. */
  activated(src: ArrayLike<number>, base: number, T: number): number {
    const { fh, fw, H, W, hits } = this;
    if (this.dense) {
      const d = this.r.plane(src, base, this.dense, 0);
      let a = 0;
      for (let p = 0; p < H * W; p++) if (d[p] > T) hits[a++] = p;
      return a;
    }
    const { rowHas, tmp, rowStamp, rowLo, rowHi, rStart, rEnd, cStart, cEnd, rowCols, merged } = this;
    const stamp = ++this.stamp;
    // per source row: its columns above T (ascending) in rowCols[i·fw ..], their count in rowHas[i]
    for (let i = 0; i < fh; i++) {
      let c = 0;
      const o = i * fw;
      for (let j = 0; j < fw; j++) {
        if (src[base + o + j] > T) rowCols[o + c++] = j;
      }
      rowHas[i] = c;
    }
    const rIdx = this.r.rows.idx;
    const rW = this.r.rows.w;
    const cIdx = this.r.cols.idx;
    const cW = this.r.cols.w;
    const f32 = this.f32;
    // PIL's horizontal pass for source row i (float32 intermediate), columns [x0, x1) only
    const hcols = (i: number, x0: number, x1: number) => {
      const rs = base + i * fw;
      const rt = i * W;
      if (f32) {
        for (let x = x0; x < x1; x++) tmp[rt + x] = Math.fround(src[rs + cIdx[2 * x]] * cW[2 * x]) + Math.fround(src[rs + cIdx[2 * x + 1]] * cW[2 * x + 1]);
      } else {
        for (let x = x0; x < x1; x++) tmp[rt + x] = src[rs + cIdx[2 * x]] * cW[2 * x] + src[rs + cIdx[2 * x + 1]] * cW[2 * x + 1];
      }
    };
    // make tmp of row i valid on [x0, x1) (the valid range of a row stays one interval)
    const hrow = (i: number, x0: number, x1: number) => {
      if (rowStamp[i] !== stamp) {
        rowStamp[i] = stamp;
        hcols(i, x0, x1);
        rowLo[i] = x0;
        rowHi[i] = x1;
        return;
      }
      const lo = rowLo[i];
      const hi = rowHi[i];
      if (x0 < lo) {
        hcols(i, x0, lo);
        rowLo[i] = x0;
      }
      if (x1 > hi) {
        hcols(i, hi, x1);
        rowHi[i] = x1;
      }
    };
    let a = 0;
    let y = 0;
    let lastKey = -1;
    let mlen = 0;
    let xlo = W;
    let xhi = 0;
    for (let i = 0; i < fh; i++) {
      if (!rowHas[i] || rStart[i] >= rEnd[i]) continue;
      for (y = Math.max(y, rStart[i]); y < rEnd[i]; y++) {
        const i0 = rIdx[2 * y];
        const i1 = rIdx[2 * y + 1];
        const w0 = rW[2 * y];
        const w1 = rW[2 * y + 1];
        // the source columns this output row visits (ascending): above T in a row with a non-zero weight, and
        // reaching some output column; the same for consecutive rows with the same taps
        const key = ((i0 * fh + i1) * 2 + (w0 !== 0 ? 1 : 0)) * 2 + (w1 !== 0 ? 1 : 0);
        if (key !== lastKey) {
          lastKey = key;
          mlen = 0;
          xlo = W;
          xhi = 0;
          const n0 = w0 !== 0 ? rowHas[i0] : 0;
          const n1 = w1 !== 0 ? rowHas[i1] : 0;
          const o0 = i0 * fw;
          const o1 = i1 * fw;
          let p0 = 0;
          let p1 = 0;
          while (p0 < n0 || p1 < n1) {
            let j: number;
            if (p1 >= n1 || (p0 < n0 && rowCols[o0 + p0] < rowCols[o1 + p1])) j = rowCols[o0 + p0++];
            else if (p0 >= n0 || rowCols[o1 + p1] < rowCols[o0 + p0]) j = rowCols[o1 + p1++];
            else {
              j = rowCols[o0 + p0++];
              p1++;
            }
            if (cStart[j] >= cEnd[j]) continue;
            merged[mlen++] = j;
            if (cStart[j] < xlo) xlo = cStart[j];
            if (cEnd[j] > xhi) xhi = cEnd[j];
          }
        }
        if (mlen === 0) continue;
        hrow(i0, xlo, xhi);
        hrow(i1, xlo, xhi);
        const r0 = i0 * W;
        const r1 = i1 * W;
        const ro = y * W;
        let x = 0;
        for (let m = 0; m < mlen; m++) {
          const j = merged[m];
          const xe = cEnd[j];
          x = Math.max(x, cStart[j]);
          if (f32) {
            for (; x < xe; x++) {
              const v = Math.fround(Math.fround(tmp[r0 + x] * w0) + Math.fround(tmp[r1 + x] * w1));
              if (v > T) hits[a++] = ro + x;
            }
          } else {
            for (; x < xe; x++) {
              const v = Math.fround(tmp[r0 + x] * w0 + tmp[r1 + x] * w1);
              if (v > T) hits[a++] = ro + x;
            }
          }
        }
      }
    }
    return a;
  }
}

const upsamplers = new Map<string, SparseUpsampler>();
function upsamplerFor(fh: number, fw: number, H: number, W: number, mode: ResizeMode): SparseUpsampler {
  const key = `${fh},${fw},${H},${W},${mode}`;
  let u = upsamplers.get(key);
  if (!u) {
    if (upsamplers.size > 64) upsamplers.clear();
    u = new SparseUpsampler(fh, fw, H, W, mode);
    upsamplers.set(key, u);
  }
  return u;
}
