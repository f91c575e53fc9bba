// Cheap dataset checks before anything runs (the `dataset` stage's check(), so `xai validate` and `xai run` stop with
// exit 2 up front): the dataset opens (folder listing / Broden index, label and category files; no pixels), it has
// items, and the image and mask files of its first rows exist. Errors name the dataset key (`at(key)` gives its full
// path: in the pipeline `stages.<id>.params.<key>`) or the dataset file and line.
import { existsSync } from 'node:fs';
import { ConfigError } from '../engine/errors.ts';
import { openDataset, isBroden } from './index.ts';
import type { DatasetRef } from './types.ts';
import { annotateItems } from './table.ts';

/** Rows whose files are checked for existence (index order). */
export const CHECKED_ROWS = 5;
/** Items whose image headers are read up front (all of a small dataset; the stage's run reads every header). */
export const HEADER_ROWS = 100;

export async function checkDataset(ref: DatasetRef, baseDir: string, opts: { file?: string; at: (key: string) => string }): Promise<void> {
  const rekey = (e: unknown): unknown => {
    // loader errors name a dataset key ('images', 'labels.csv') without a file: give them the stage's key path
    if (e instanceof ConfigError && !e.file && e.path && !e.path.startsWith('stages.')) {
      // no image matched the default pattern: the folder is what is wrong (there is no `images:` key to point at)
      const key = e.path === 'images' && ref.kind !== 'broden' && ref.images === undefined ? 'root' : e.path;
      return new ConfigError(e.detail, { file: opts.file, path: opts.at(key), expected: e.expected, suggestion: e.suggestion });
    }
    if (e instanceof ConfigError && e.file === undefined && !e.path) return new ConfigError(e.detail, { file: opts.file, path: opts.at('root'), expected: e.expected, suggestion: e.suggestion });
    return e;
  };
  let ds;
  try {
    ds = await openDataset(ref, { baseDir });
  } catch (e) {
    throw rekey(e);
  }
  if (ds.items.length === 0) {
    throw new ConfigError(`dataset ${ds.root} has no items${ref.subset || (ref.kind === 'broden' && ref.split) ? ' (after split/subset)' : ''}`, {
      file: opts.file,
      path: opts.at(ref.kind === 'broden' && ref.split ? 'split' : 'root'),
      expected: 'at least one image',
    });
  }
  for (const item of ds.items.slice(0, CHECKED_ROWS)) {
    const where = isBroden(ds) ? { file: `${ds.root}/index.csv`, line: (item as { line?: number }).line } : { file: opts.file, path: opts.at('root') };
    if (!existsSync(item.path)) throw new ConfigError(`image file of item '${item.id}' not found: ${item.path}`, where);
    const masks = [...(item.maskPath ? [item.maskPath] : []), ...Object.values((item as { masks?: Record<string, string[]> }).masks ?? {}).flat()];
    for (const m of masks) if (!existsSync(m)) throw new ConfigError(`mask file of item '${item.id}' not found: ${m}`, { ...where, expected: `the files named in the first ${CHECKED_ROWS} rows exist` });
  }
  // not an image, or below the minimum size: refused here (the file named), not after upstream stages ran
  await annotateItems(ds.items.slice(0, HEADER_ROWS).map((it) => ({ ...it })), 'items');
}
