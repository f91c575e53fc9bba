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
   * Add one image: `features` holds its [units, featureH, featureW] maps from `offset`; `maxima` (optional) its
   * per-unit maxima from `maxOffset` (computed when omitted).
   */
  addImage(features: ArrayLike<number>, offset: number, ann: ImageAnnotations, maxima?: ArrayLike<number>, maxOffset = 0): void {
    const { units, fh, fw, numLabels } = this;
    const H = ann.height;
    const W = ann.width;
    const P = H * W;
    const fhw = fh * fw;
    if (features.length < offset + units * fhw) throw new RangeError(`dissect: features too short for ${units}×${fh}×${fw} at offset ${offset}`);

    // --- truth (G) and label-set ids --------------------------------------------------------------------------
    let setOf: Int32Array | null = null;
    const setLabels: number[][] = [[]];
    const setMasks: number[] = [0];
    if (ann.maps.length > 0) {
      setOf = new Int32Array(P); // set 0 = no labels
      const combine = new Map<number, number>();
      for (let m = 0; m < ann.maps.length; m++) {
        const map = ann.maps[m];
        if (map.length !== P) throw new RangeError(`dissect: label map ${m} has ${map.length} pixels, expected ${H}×${W}`);
        // consecutive pixels mostly repeat the same (previous set, label) pair: a one-entry cache before the Map
        let lastKey = -1;
        let lastId = 0;
        for (let p = 0; p < P; p++) {
          const l = map[p];
          if (l === 0) continue;
          if (!(l > 0 && l < numLabels && Number.isInteger(l))) this.checkLabel(l, `pixel map ${m}`);
          this.truth[l] += 1;
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
      }
    }
    let scalarMask = 0;
    for (const s of ann.scalars) {
      this.checkLabel(s, 'scalar');
      if (s === 0) continue;
      this.truth[s] += P;
      scalarMask |= this.labelMask[s];
    }
    let imageMask = scalarMask;
    for (const m of setMasks) imageMask |= m;
    const nSets = setLabels.length;
    const counts = new Int32Array(nSets);
    const touched: number[] = [];
    const scalars = ann.scalars.filter((s) => s !== 0);

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
  private readonly above: Uint8Array;
  private readonly rowHas: Uint8Array;
  private readonly tmp: Float32Array;
  private readonly rowStamp: Int32Array;
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
    this.above = new Uint8Array(fh * fw);
    this.rowHas = new Uint8Array(fh);
    this.tmp = new Float32Array(fh * W);
    this.rowStamp = new Int32Array(fh);
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
    const { above, rowHas, tmp, rowStamp } = this;
    const stamp = ++this.stamp;
    rowHas.fill(0);
    for (let i = 0; i < fh; i++) {
      for (let j = 0; j < fw; j++) {
        const f = src[base + i * fw + j] > T ? 1 : 0;
        above[i * fw + j] = f;
        rowHas[i] |= f;
      }
    }
    const rIdx = this.r.rows.idx;
    const rW = this.r.rows.w;
    const cIdx = this.r.cols.idx;
    const cW = this.r.cols.w;
    const hrow = (i: number) => {
      // PIL's horizontal pass for source row i (float32 intermediate)
      if (rowStamp[i] === stamp) return;
      rowStamp[i] = stamp;
      const rs = base + i * fw;
      const rt = i * W;
      if (f32) {
        for (let x = 0; x < W; x++) tmp[rt + x] = Math.fround(src[rs + cIdx[2 * x]] * cW[2 * x]) + Math.fround(src[rs + cIdx[2 * x + 1]] * cW[2 * x + 1]);
      } else {
        for (let x = 0; x < W; x++) tmp[rt + x] = src[rs + cIdx[2 * x]] * cW[2 * x] + src[rs + cIdx[2 * x + 1]] * cW[2 * x + 1];
      }
    };
    const f32 = this.f32;
    let a = 0;
    let y = 0;
    for (let i = 0; i < fh; i++) {
      if (!rowHas[i] || this.rStart[i] >= this.rEnd[i]) continue;
      for (y = Math.max(y, this.rStart[i]); y < this.rEnd[i]; y++) {
        const i0 = rIdx[2 * y];
        const i1 = rIdx[2 * y + 1];
        const w0 = rW[2 * y];
        const w1 = rW[2 * y + 1];
        hrow(i0);
        hrow(i1);
        const r0 = i0 * W;
        const r1 = i1 * W;
        const ro = y * W;
        let x = 0;
        for (let j = 0; j < fw; j++) {
          if (!((w0 !== 0 && above[i0 * fw + j]) || (w1 !== 0 && above[i1 * fw + j])) || this.cStart[j] >= this.cEnd[j]) continue;
          for (x = Math.max(x, this.cStart[j]); x < this.cEnd[j]; x++) {
            const v = f32 ? Math.fround(Math.fround(tmp[r0 + x] * w0) + Math.fround(tmp[r1 + x] * w1)) : Math.fround(tmp[r0 + x] * w0 + tmp[r1 + x] * w1);
            if (v > T) hits[a++] = ro + x;
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
