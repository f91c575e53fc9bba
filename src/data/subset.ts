import { ConfigError } from '../engine/errors.ts';
import { sampleIndices } from './prng.ts';
import type { SubsetSpec } from './types.ts';

/**
 * Applies a subset: `first: N` keeps the first N items; `sample: N` keeps a seeded uniform sample of N items
 * (xoshiro128** partial Fisher–Yates, `seed` default 0), in their original order. Both: the sample is drawn from the
 * first N.
 */
export function applySubset<T>(items: T[], spec: SubsetSpec, where: string): T[] {
  for (const k of ['first', 'sample'] as const) {
    const v = spec[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      throw new ConfigError(`subset.${k} must be an integer >= 1, got ${JSON.stringify(v)}`, { file: where, path: `subset.${k}` });
    }
  }
  let out = items;
  if (spec.first !== undefined) out = out.slice(0, spec.first);
  if (spec.sample !== undefined && spec.sample < out.length) {
    const src = out;
    out = sampleIndices(src.length, spec.sample, spec.seed ?? 0).map((i) => src[i]);
  }
  return out;
}
