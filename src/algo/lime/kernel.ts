// lime's default similarity kernel: weight = sqrt(exp(−d² / kernel_width²)) (LimeImageExplainer, kernel_width 0.25).

export const DEFAULT_KERNEL_WIDTH = 0.25;

/** sqrt(exp(−d²/w²)) for one distance. */
export function kernelWeight(d: number, kernelWidth = DEFAULT_KERNEL_WIDTH): number {
  return Math.sqrt(Math.exp(-(d * d) / (kernelWidth * kernelWidth)));
}

/** Element-wise kernel over an array of distances. */
export function kernelWeights(distances: ArrayLike<number>, kernelWidth = DEFAULT_KERNEL_WIDTH, out = new Float64Array(distances.length)): Float64Array {
  if (!(kernelWidth > 0)) throw new RangeError(`kernel_width must be > 0, got ${kernelWidth}`);
  for (let i = 0; i < distances.length; i++) out[i] = kernelWeight(distances[i], kernelWidth);
  return out;
}
