// Distances of every row of the LIME data matrix to a reference row (lime: sklearn.metrics.pairwise_distances(data,
// data[0:1], metric)), for the metrics sklearn accepts. Conventions follow sklearn/scipy:
// - 'cosine': 1 − x·r/(‖x‖‖r‖), clipped to [0, 2]; a zero vector has similarity 0 (sklearn normalises zero rows to 0);
// - 'euclidean'/'l2': sklearn's dot-product form sqrt(max(‖x‖² − 2x·r + ‖r‖², 0));
// - 'sqeuclidean', 'cityblock'/'l1'/'manhattan', 'chebyshev', 'minkowski' (p = 2), 'braycurtis', 'canberra',
//   'correlation' (scipy definitions, 0/0 terms of canberra skipped; correlation with a constant row is NaN);
// - boolean metrics on x ≠ 0 as scipy after sklearn's bool conversion: 'hamming' (fraction of differing entries),
//   'jaccard', 'dice', 'rogerstanimoto', 'russellrao', 'sokalmichener', 'sokalsneath', 'yule' (0/0 → 0 as scipy).

export const DISTANCE_METRICS = [
  'cosine', 'euclidean', 'l2', 'sqeuclidean', 'cityblock', 'l1', 'manhattan', 'chebyshev', 'minkowski', 'braycurtis',
  'canberra', 'correlation', 'hamming', 'jaccard', 'dice', 'rogerstanimoto', 'russellrao', 'sokalmichener',
  'sokalsneath', 'yule',
] as const;
export type DistanceMetric = (typeof DISTANCE_METRICS)[number];

/** Distance between one row x and the reference r (both length p). */
export function rowDistance(x: ArrayLike<number>, xOff: number, r: ArrayLike<number>, p: number, metric: DistanceMetric): number {
  switch (metric) {
    case 'cosine': {
      let xr = 0, xx = 0, rr = 0;
      for (let j = 0; j < p; j++) {
        const a = x[xOff + j], b = r[j];
        xr += a * b;
        xx += a * a;
        rr += b * b;
      }
      const nx = Math.sqrt(xx), nr = Math.sqrt(rr);
      const sim = (nx === 0 ? 0 : 1 / nx) * (nr === 0 ? 0 : 1 / nr) * xr;
      return Math.min(2, Math.max(0, 1 - sim));
    }
    case 'euclidean':
    case 'l2':
    case 'sqeuclidean': {
      let xx = 0, rr = 0, xr = 0;
      for (let j = 0; j < p; j++) {
        const a = x[xOff + j], b = r[j];
        xx += a * a;
        rr += b * b;
        xr += a * b;
      }
      if (metric === 'sqeuclidean') {
        let s = 0;
        for (let j = 0; j < p; j++) {
          const d = x[xOff + j] - r[j];
          s += d * d;
        }
        return s;
      }
      return Math.sqrt(Math.max(xx - 2 * xr + rr, 0));
    }
    case 'cityblock':
    case 'l1':
    case 'manhattan': {
      let s = 0;
      for (let j = 0; j < p; j++) s += Math.abs(x[xOff + j] - r[j]);
      return s;
    }
    case 'chebyshev': {
      let m = 0;
      for (let j = 0; j < p; j++) m = Math.max(m, Math.abs(x[xOff + j] - r[j]));
      return m;
    }
    case 'minkowski': {
      let s = 0;
      for (let j = 0; j < p; j++) {
        const d = x[xOff + j] - r[j];
        s += d * d;
      }
      return Math.sqrt(s);
    }
    case 'braycurtis': {
      let num = 0, den = 0;
      for (let j = 0; j < p; j++) {
        num += Math.abs(x[xOff + j] - r[j]);
        den += Math.abs(x[xOff + j] + r[j]);
      }
      return den === 0 ? 0 : num / den;
    }
    case 'canberra': {
      let s = 0;
      for (let j = 0; j < p; j++) {
        const a = x[xOff + j], b = r[j];
        const den = Math.abs(a) + Math.abs(b);
        if (den !== 0) s += Math.abs(a - b) / den;
      }
      return s;
    }
    case 'correlation': {
      let mx = 0, mr = 0;
      for (let j = 0; j < p; j++) {
        mx += x[xOff + j];
        mr += r[j];
      }
      mx /= p;
      mr /= p;
      let xr = 0, xx = 0, rr = 0;
      for (let j = 0; j < p; j++) {
        const a = x[xOff + j] - mx, b = r[j] - mr;
        xr += a * b;
        xx += a * a;
        rr += b * b;
      }
      const d = 1 - xr / Math.sqrt(xx * rr); // NaN for a constant row (0/0), as scipy
      return Number.isNaN(d) ? NaN : Math.max(0, Math.min(2, d));
    }
    default: {
      // boolean metrics
      let ntt = 0, ntf = 0, nft = 0, nff = 0;
      for (let j = 0; j < p; j++) {
        const a = x[xOff + j] !== 0, b = r[j] !== 0;
        if (a && b) ntt++;
        else if (a) ntf++;
        else if (b) nft++;
        else nff++;
      }
      const ndiff = ntf + nft;
      switch (metric) {
        case 'hamming':
          return ndiff / p;
        case 'jaccard':
          return ntt + ndiff === 0 ? 0 : ndiff / (ntt + ndiff);
        case 'dice':
          return 2 * ntt + ndiff === 0 ? 0 : ndiff / (2 * ntt + ndiff);
        case 'rogerstanimoto':
        case 'sokalmichener':
          return (2 * ndiff) / (ntt + nff + 2 * ndiff);
        case 'russellrao':
          return (p - ntt) / p;
        case 'sokalsneath':
          return ntt + 2 * ndiff === 0 ? 0 : (2 * ndiff) / (ntt + 2 * ndiff);
        case 'yule': {
          const half = ntf * nft;
          return half === 0 ? 0 : (2 * half) / (ntt * nff + half);
        }
        default:
          throw new RangeError(`distance_metric: unknown metric '${String(metric)}' (expected one of ${DISTANCE_METRICS.join(', ')})`);
      }
    }
  }
}

export function checkMetric(metric: string): DistanceMetric {
  if (!(DISTANCE_METRICS as readonly string[]).includes(metric))
    throw new RangeError(`distance_metric: unknown metric '${metric}' (expected one of ${DISTANCE_METRICS.join(', ')})`);
  return metric as DistanceMetric;
}

/** Distances of rows [from, to) of a row-major n×p matrix to `ref`, into out[from..to). */
export function distancesToRef(
  data: ArrayLike<number>,
  p: number,
  ref: ArrayLike<number>,
  metric: DistanceMetric,
  out: Float64Array,
  from = 0,
  to = out.length,
): Float64Array {
  for (let i = from; i < to; i++) out[i] = rowDistance(data, i * p, ref, p, metric);
  return out;
}
