// Shared helpers for the superpixel algorithms.

/** A segment map: H×W Int32Array of ids 0..n−1 (row-major), with n. */
export interface Segmentation {
  segments: Int32Array;
  nSegments: number;
  height: number;
  width: number;
}

/**
 * Renumber arbitrary non-negative integer labels to 0..n−1 in ascending order of the original value, as
 * `np.unique(labels, return_inverse=True)[1]`.
 */
export function relabelSequential(labels: Int32Array, height: number, width: number): Segmentation {
  let max = -1;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v < 0) throw new RangeError(`relabelSequential: negative label ${v} at pixel ${i}`);
    if (v > max) max = v;
  }
  const map = new Int32Array(max + 1).fill(-1);
  for (let i = 0; i < labels.length; i++) map[labels[i]] = 0;
  let n = 0;
  for (let v = 0; v <= max; v++) if (map[v] === 0) map[v] = n++;
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = map[labels[i]];
  return { segments: out, nSegments: n, height, width };
}

/** Validate a caller-supplied segment map (ids must be exactly 0..n−1, as lime assumes). */
export function checkSegments(segments: Int32Array, height: number, width: number): number {
  if (!(segments instanceof Int32Array)) throw new TypeError('segments: expected an Int32Array (H×W)');
  if (segments.length !== height * width)
    throw new RangeError(`segments: length ${segments.length} ≠ height·width = ${height * width}`);
  let max = -1;
  for (let i = 0; i < segments.length; i++) {
    const v = segments[i];
    if (v < 0) throw new RangeError(`segments: negative id ${v} at pixel ${i}`);
    if (v > max) max = v;
  }
  const seen = new Uint8Array(max + 1);
  for (let i = 0; i < segments.length; i++) seen[segments[i]] = 1;
  for (let v = 0; v <= max; v++)
    if (!seen[v]) throw new RangeError(`segments: ids must be 0..n−1 without gaps (id ${v} is missing); relabel with relabelSequential`);
  return max + 1;
}
