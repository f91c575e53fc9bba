// Shape check shared by the CAM algorithms (NCHW float32 tensors).
import type { Tensor } from '../../model/types.ts';

export interface Dims {
  n: number;
  c: number;
  h: number;
  w: number;
}

/** Shape check of an NCHW tensor; returns its dimensions. */
export function dims4(t: Tensor, what = 'tensor'): Dims {
  if (t.shape.length !== 4) throw new RangeError(`${what}: expected NCHW (4 dims), got shape [${t.shape.join(', ')}]`);
  const [n, c, h, w] = t.shape;
  if (t.data.length !== n * c * h * w) {
    throw new RangeError(`${what}: data length ${t.data.length} ≠ ${n}×${c}×${h}×${w}`);
  }
  return { n, c, h, w };
}
