// Datasets for the stages: `openDataset(ref)` turns a dataset reference (recorded by the `dataset` / `synth-dataset`
// stages as `meta.dataset`) into ordered items, class names and — for Broden-format concept datasets — the concept
// vocabulary and a streaming label-map reader. `loadImage` / `loadImages` / `loadItemMask` bring items to a model's
// input geometry and normalisation (src/image/io.ts states the conventions).
import type { InputSpec, Tensor } from '../model/types.ts';
import type { LoadOptions } from '../image/io.ts';
import { ConfigError, ItemError } from '../engine/errors.ts';
import { openBroden } from './broden.ts';
import { openFolder } from './folder.ts';
import type { BrodenDataset, Dataset, DatasetItem, DatasetRef } from './types.ts';

export type * from './types.ts';
export { openBroden, BrodenWriter } from './broden.ts';
export { openFolder, parseClassFolder, parseClassList } from './folder.ts';

export interface OpenOptions {
  /** Base directory for a relative `root` (default: the current directory; stages pass ctx.projectRoot). */
  baseDir?: string;
  /** Config file the ref came from, for error messages. */
  where?: string;
}

/** Opens a dataset from its reference. Throws ConfigError for a bad reference or malformed dataset files. */
export async function openDataset(ref: DatasetRef, opts: OpenOptions = {}): Promise<Dataset | BrodenDataset> {
  if (ref === null || typeof ref !== 'object') throw new ConfigError(`dataset reference must be an object, got ${JSON.stringify(ref)}`);
  if (ref.kind === 'broden') return openBroden(ref, opts.baseDir);
  if (ref.kind === 'folder') return openFolder(ref, opts.baseDir, opts.where);
  throw new ConfigError(`unknown dataset kind '${(ref as { kind?: unknown }).kind}'`, { file: opts.where, path: 'kind', expected: "'folder' or 'broden'" });
}

export function isBroden(ds: Dataset): ds is BrodenDataset {
  return ds.kind === 'broden';
}

/** Default geometry for an item: 'stretch' to the model size unless told otherwise. */
function itemOpts(opts?: LoadOptions): LoadOptions {
  return { fit: 'stretch', kernel: 'linear', alpha: 'drop', ...opts };
}

/**
 * Loads one item as the model's normalised CHW float32 image. A missing or undecodable file throws an ItemError
 * naming the item and the file (inside `ctx.map` it is recorded as a bad item).
 */
export async function loadImage(item: DatasetItem, spec: InputSpec, opts?: LoadOptions): Promise<Float32Array> {
  const { loadTensor } = await import('../image/io.ts');
  try {
    return await loadTensor(item.path, spec, itemOpts(opts));
  } catch (e) {
    throw new ItemError(item.id, (e as Error).message, { cause: e });
  }
}

/** Loads several items as one NCHW batch (4 decodes in flight). Throws the first item's ItemError. */
export async function loadImages(items: readonly DatasetItem[], spec: InputSpec, opts?: LoadOptions): Promise<Tensor> {
  const { loadRgb, normalize, normalizationLut, forEachLimit } = await import('../image/io.ts');
  const per = spec.height * spec.width * 3;
  const data = new Float32Array(items.length * per);
  const luts = normalizationLut(spec);
  const o = itemOpts(opts);
  await forEachLimit(items, 4, async (item, i) => {
    try {
      const rgb = await loadRgb(item.path, spec.height, spec.width, o);
      normalize(rgb, spec, 'NCHW', data, i * per, luts);
    } catch (e) {
      throw new ItemError(item.id, (e as Error).message, { cause: e });
    }
  });
  return { data, shape: [items.length, 3, spec.height, spec.width] };
}

/**
 * Like loadImages, but a bad item does not fail the batch: its slot stays zero and `errors[i]` holds its ItemError
 * (naming the item and the file), so a batched stage can compute the good items and report the bad ones one by one.
 */
export async function loadImagesSettled(
  items: readonly DatasetItem[],
  spec: InputSpec,
  opts?: LoadOptions,
): Promise<{ batch: Tensor; errors: (ItemError | undefined)[]; ok: number }> {
  const { loadRgb, normalize, normalizationLut, forEachLimit } = await import('../image/io.ts');
  const per = spec.height * spec.width * 3;
  const data = new Float32Array(items.length * per);
  const luts = normalizationLut(spec);
  const o = itemOpts(opts);
  const errors: (ItemError | undefined)[] = new Array(items.length).fill(undefined);
  await forEachLimit(items, 4, async (item, i) => {
    try {
      const rgb = await loadRgb(item.path, spec.height, spec.width, o);
      normalize(rgb, spec, 'NCHW', data, i * per, luts);
    } catch (e) {
      errors[i] = new ItemError(item.id, (e as Error).message, { cause: e });
    }
  });
  return { batch: { data, shape: [items.length, 3, spec.height, spec.width] }, errors, ok: errors.filter((e) => !e).length };
}

/** Loads an item's RGB pixels at the model geometry (for overlays and LIME). */
export async function loadItemRgb(item: DatasetItem, height: number, width: number, opts?: LoadOptions) {
  const { loadRgb } = await import('../image/io.ts');
  try {
    return await loadRgb(item.path, height, width, itemOpts(opts));
  } catch (e) {
    throw new ItemError(item.id, (e as Error).message, { cause: e });
  }
}

/**
 * The item's ground-truth object mask (0/1, height×width) at the same geometry as `loadImage` with the same opts
 * (nearest-neighbour), or undefined when the item has none.
 */
export async function loadItemMask(item: DatasetItem, height: number, width: number, opts?: LoadOptions): Promise<Uint8Array | undefined> {
  if (!item.maskPath) return undefined;
  const { loadMask } = await import('../image/io.ts');
  try {
    return await loadMask(item.maskPath, height, width, itemOpts(opts));
  } catch (e) {
    throw new ItemError(item.id, (e as Error).message, { cause: e });
  }
}

/** A dataset reference as the JSON value stages record in `meta.dataset` (undefined fields dropped). */
export function refToJson(ref: DatasetRef): import('../engine/types.ts').Json {
  return JSON.parse(JSON.stringify(ref)) as import('../engine/types.ts').Json;
}

/** Reads a dataset reference back from an upstream stage's `meta.dataset`; ConfigError when absent or malformed. */
export function refFromMeta(meta: Record<string, unknown>, stageId = 'upstream'): DatasetRef {
  const v = meta.dataset as DatasetRef | undefined;
  if (!v || typeof v !== 'object' || (v.kind !== 'folder' && v.kind !== 'broden') || typeof v.root !== 'string') {
    throw new ConfigError(`stage '${stageId}' recorded no dataset (meta.dataset with kind 'folder' | 'broden' and a root)`);
  }
  return v;
}
