// Comparison metrics between explanation maps and masks. Masks are Uint8Array (1 = in, 0 = out), maps are float
// arrays of the same length (row-major H·W). Pure functions; each states its tie and edge rules.

/** IoU of two binary masks: |A ∩ B| / |A ∪ B|; 0 when both are empty (nothing to agree on). */
export function maskIoU(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maskIoU: masks have ${a.length} and ${b.length} pixels`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0;
    const y = b[i] !== 0;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 0 : inter / union;
}

/** Pixel indices ordered by value descending; ties by lower index first (row-major). NaN ranks last. */
export function rankDescending(map: ArrayLike<number>): Uint32Array {
  const idx = new Uint32Array(map.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  const v = (i: number) => (Number.isNaN(map[i]) ? -Infinity : map[i]);
  return idx.sort((i, j) => v(j) - v(i) || i - j);
}

/**
 * The k highest pixels (exactly k, clamped to [0, n]); ties at the boundary resolved by lower pixel index
 * (row-major order) first.
 */
export function topKMask(map: ArrayLike<number>, k: number): Uint8Array {
  const n = map.length;
  const kk = Math.max(0, Math.min(n, Math.round(k)));
  const out = new Uint8Array(n);
  const order = rankDescending(map);
  for (let i = 0; i < kk; i++) out[order[i]] = 1;
  return out;
}

/** Top p % of the pixels: k = round(p/100 · n) pixels, as topKMask (ties by lower index). */
export function topPercentMask(map: ArrayLike<number>, percent: number): Uint8Array {
  if (!(percent >= 0 && percent <= 100)) throw new RangeError(`topPercentMask: percent must be in [0, 100], got ${percent}`);
  return topKMask(map, (percent / 100) * map.length);
}

/** Value threshold: pixel in when value ≥ t. */
export function thresholdMask(map: ArrayLike<number>, t: number): Uint8Array {
  const out = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = map[i] >= t ? 1 : 0;
  return out;
}

/**
 * Otsu's threshold as skimage.filters.threshold_otsu(image, nbins=256): a 256-bin histogram over [min, max], the bin
 * centre maximising the between-class variance (first on ties); a constant map returns its value.
 */
export function otsuThreshold(map: ArrayLike<number>, nbins = 256): number {
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (map.length === 0) throw new RangeError('otsuThreshold: empty map');
  if (mn === mx) return mn;
  // np.histogram(range=(min, max)) binning: edges = linspace(min, max, nbins + 1), index from the scaled offset,
  // corrected against the edges; the last bin is closed. Bin centres = mid-points of the edges.
  const edges = new Float64Array(nbins + 1);
  const step = (mx - mn) / nbins;
  for (let j = 0; j < nbins; j++) edges[j] = j * step + mn;
  edges[nbins] = mx;
  const norm = nbins / (mx - mn);
  const hist = new Float64Array(nbins);
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (Number.isNaN(v)) continue;
    let b = Math.floor((v - mn) * norm);
    if (b >= nbins) b = nbins - 1;
    if (b < 0) b = 0;
    if (v < edges[b]) b--;
    else if (b !== nbins - 1 && v >= edges[b + 1]) b++;
    hist[b]++;
  }
  const centres = new Float64Array(nbins);
  for (let j = 0; j < nbins; j++) centres[j] = (edges[j] + edges[j + 1]) / 2;
  // weight1/mean1: classes up to and including bin j; weight2/mean2: from bin j on
  const w1 = new Float64Array(nbins);
  const m1 = new Float64Array(nbins);
  let cw = 0;
  let cs = 0;
  for (let j = 0; j < nbins; j++) {
    cw += hist[j];
    cs += hist[j] * centres[j];
    w1[j] = cw;
    m1[j] = cw > 0 ? cs / cw : 0;
  }
  const w2 = new Float64Array(nbins);
  const m2 = new Float64Array(nbins);
  cw = 0;
  cs = 0;
  for (let j = nbins - 1; j >= 0; j--) {
    cw += hist[j];
    cs += hist[j] * centres[j];
    w2[j] = cw;
    m2[j] = cw > 0 ? cs / cw : 0;
  }
  let best = 0;
  let bestVar = -Infinity;
  for (let j = 0; j < nbins - 1; j++) {
    const d = m1[j] - m2[j + 1];
    const v = w1[j] * w2[j + 1] * d * d;
    if (v > bestVar) {
      bestVar = v;
      best = j;
    }
  }
  return centres[best];
}

/** Otsu binarisation: pixel in when value > otsuThreshold(map) (skimage's `image > threshold`). */
export function otsuMask(map: ArrayLike<number>): Uint8Array {
  const t = otsuThreshold(map);
  const out = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = map[i] > t ? 1 : 0;
  return out;
}

/** As many pixels as the reference mask has (its count of non-zero pixels), by topKMask (ties by lower index). */
export function sameCountMask(map: ArrayLike<number>, reference: ArrayLike<number>): Uint8Array {
  if (map.length !== reference.length) throw new RangeError(`sameCountMask: map has ${map.length} pixels, reference ${reference.length}`);
  let k = 0;
  for (let i = 0; i < reference.length; i++) if (reference[i] !== 0) k++;
  return topKMask(map, k);
}

export type BinarizeRule =
  | { rule: 'top-percent'; percent: number }
  | { rule: 'threshold'; value: number }
  | { rule: 'otsu' }
  | { rule: 'same-count'; reference: ArrayLike<number> };

/** Binarise a map with one of the rules above. */
export function binarize(map: ArrayLike<number>, r: BinarizeRule): Uint8Array {
  switch (r.rule) {
    case 'top-percent':
      return topPercentMask(map, r.percent);
    case 'threshold':
      return thresholdMask(map, r.value);
    case 'otsu':
      return otsuMask(map);
    case 'same-count':
      return sameCountMask(map, r.reference);
    default:
      throw new RangeError(`binarize: unknown rule '${(r as { rule: string }).rule}' (expected top-percent, threshold, otsu or same-count)`);
  }
}

/** Index of the maximum (the first in row-major order on ties, as numpy's argmax; NaN ignored). */
export function argmax(map: ArrayLike<number>): number {
  let best = -1;
  let bv = -Infinity;
  for (let i = 0; i < map.length; i++) {
    if (map[i] > bv || (best < 0 && !Number.isNaN(map[i]))) {
      bv = map[i];
      best = i;
    }
  }
  return best;
}

/**
 * Pointing game: hit when the map's maximum (argmax: the first in row-major order on ties) lies inside the mask, or
 * within `tolerance` pixels (Euclidean) of a mask pixel (Zhang et al. use 15 px; default 0 = inside).
 */
export function pointingGame(map: ArrayLike<number>, mask: ArrayLike<number>, width: number, tolerance = 0): boolean {
  if (map.length !== mask.length) throw new RangeError(`pointingGame: map has ${map.length} pixels, mask ${mask.length}`);
  const p = argmax(map);
  if (p < 0) return false;
  if (mask[p] !== 0) return true;
  if (tolerance <= 0) return false;
  const height = map.length / width;
  const py = Math.floor(p / width);
  const px = p % width;
  const t = Math.floor(tolerance);
  for (let y = Math.max(0, py - t); y <= Math.min(height - 1, py + t); y++) {
    for (let x = Math.max(0, px - t); x <= Math.min(width - 1, px + t); x++) {
      if (mask[y * width + x] !== 0 && (y - py) ** 2 + (x - px) ** 2 <= tolerance * tolerance) return true;
    }
  }
  return false;
}

/**
 * Relevance mass: share of the map's (positive) mass inside the mask, Σ_{in} max(m, 0) / Σ max(m, 0); 0 when the
 * map has no positive mass. Negative values are clipped to 0 (Arras et al. use positive relevance).
 */
export function relevanceMass(map: ArrayLike<number>, mask: ArrayLike<number>): number {
  if (map.length !== mask.length) throw new RangeError(`relevanceMass: map has ${map.length} pixels, mask ${mask.length}`);
  let inside = 0;
  let total = 0;
  for (let i = 0; i < map.length; i++) {
    const v = map[i] > 0 ? map[i] : 0;
    total += v;
    if (mask[i] !== 0) inside += v;
  }
  return total > 0 ? inside / total : 0;
}

export interface Summary {
  n: number;
  mean: number;
  median: number;
  /** Population standard deviation (ddof = 0, numpy's default). */
  std: number;
  min: number;
  max: number;
}

/** summarize() as a summary table's columns (summaryStatFields in src/arrow/conventions.ts): NaN → null. */
export function summaryColumns(values: ArrayLike<number>): { n: number; mean: number | null; median: number | null; std: number | null; min: number | null; max: number | null } {
  const s = summarize(values);
  const nn = (x: number) => (Number.isNaN(x) ? null : x);
  return { n: s.n, mean: nn(s.mean), median: nn(s.median), std: nn(s.std), min: nn(s.min), max: nn(s.max) };
}

/** Summary statistics; NaN values are left out (n counts the rest); all fields NaN when nothing is left. */
export function summarize(values: ArrayLike<number>): Summary {
  const v: number[] = [];
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) v.push(values[i]);
  const n = v.length;
  if (n === 0) return { n: 0, mean: NaN, median: NaN, std: NaN, min: NaN, max: NaN };
  v.sort((a, b) => a - b);
  let s = 0;
  for (const x of v) s += x;
  const mean = s / n;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  const median = n % 2 === 1 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return { n, mean, median, std: Math.sqrt(ss / n), min: v[0], max: v[n - 1] };
}

/**
 * Pareto front for (maximise `iou`, minimise `time`): indices of the points no other point dominates (another point
 * with iou ≥ and time ≤, one of them strictly), ordered by time ascending then iou descending then index. Points with
 * NaN in either coordinate are never on the front. Equal points are all kept.
 */
export function paretoFront(points: ReadonlyArray<{ iou: number; time: number }>): number[] {
  const ok = points.map((p, i) => ({ ...p, i })).filter((p) => !Number.isNaN(p.iou) && !Number.isNaN(p.time));
  ok.sort((a, b) => a.time - b.time || b.iou - a.iou || a.i - b.i);
  const front: number[] = [];
  let bestIou = -Infinity;
  let bestTime = NaN;
  for (const p of ok) {
    // every earlier point has time ≤ p.time; p is dominated iff some earlier point has iou > p.iou, or iou = p.iou
    // with a strictly smaller time.
    if (p.iou > bestIou) {
      front.push(p.i);
      bestIou = p.iou;
      bestTime = p.time;
    } else if (p.iou === bestIou && p.time === bestTime) {
      front.push(p.i);
    }
  }
  return front;
}
