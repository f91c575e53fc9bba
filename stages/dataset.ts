// Stage `dataset`: opens an existing dataset — an image folder or a Broden-format concept dataset — described by a
// config (configs/datasets/<name>.yaml, merged into params with `include:`, or named by `config:`), validates it,
// fixes its item list and records `meta.dataset` (a DatasetRef for openDataset) for downstream stages.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { CheckContext, StageDef } from '../src/engine/types.ts';

export interface DatasetParams {
  config?: string;
  kind?: 'folder' | 'broden';
  root?: string;
  name?: string;
  images?: string | string[];
  labels?: { from?: 'folder' | 'csv' | 'none'; csv?: string; imageColumn?: string; labelColumn?: string };
  classes?: string;
  masks?: { pattern: string; required?: boolean };
  subset?: { first?: number; sample?: number; seed?: number };
  categories?: string[];
  split?: string;
}

const subsetSchema = {
  type: 'object',
  properties: {
    first: { type: 'integer', minimum: 1 },
    sample: { type: 'integer', minimum: 1 },
    seed: { type: 'integer' },
  },
};

/** Params with the `config:` file (if any) merged underneath (params win). */
async function effective(params: DatasetParams, projectRoot: string): Promise<{ p: DatasetParams; where: string }> {
  if (!params.config) return { p: params, where: 'params' };
  const { resolve } = await import('node:path');
  const { ConfigError } = await import('../src/engine/errors.ts');
  const file = resolve(projectRoot, params.config);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read dataset config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file, path: 'config' });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('dataset config must be a YAML mapping', { file });
  const { config: _c, ...own } = params;
  return { p: { ...(doc as DatasetParams), ...own }, where: file };
}

function refOf(p: DatasetParams): import('../src/data/types.ts').DatasetRef {
  const kind = p.kind ?? 'folder';
  if (kind === 'broden') {
    return { kind, root: p.root!, name: p.name, categories: p.categories, split: p.split, subset: p.subset };
  }
  return { kind, root: p.root!, name: p.name, images: p.images, labels: p.labels, classes: p.classes, masks: p.masks, subset: p.subset };
}

export default {
  kind: 'dataset',
  version: '1',
  description: 'An image-folder or Broden-format dataset from a config (configs/datasets/*.yaml)',
  params: {
    type: 'object',
    properties: {
      config: { type: 'string', description: 'dataset config YAML (its keys are the params below; params given here win)' },
      kind: { enum: ['folder', 'broden'], description: "'folder' (default) or 'broden'" },
      root: { type: 'string', description: 'dataset directory, relative to the project root' },
      name: { type: 'string' },
      images: {
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
        description: 'fast-glob pattern(s) relative to root (folder)',
      },
      labels: {
        type: 'object',
        properties: {
          from: { enum: ['folder', 'csv', 'none'] },
          csv: { type: 'string' },
          imageColumn: { type: 'string' },
          labelColumn: { type: 'string' },
        },
      },
      classes: { type: 'string', description: 'class list file: one class per line (synset id and/or name)' },
      masks: {
        type: 'object',
        properties: { pattern: { type: 'string' }, required: { type: 'boolean' } },
        required: ['pattern'],
      },
      subset: subsetSchema,
      categories: { type: 'array', items: { type: 'string' }, description: 'Broden categories to use (default all)' },
      split: { type: 'string', description: "Broden split to keep (e.g. 'val')" },
    },
  },
  outputs: {
    items: { description: 'one row per item: id, label, label_name, synset, split, has_mask, note', type: 'table' },
    'listing.json': { description: 'the fixed item list of a folder dataset', type: 'file' },
  },
  reads(params) {
    // the dataset directory (and the config file) are part of the cache key
    const out: string[] = [];
    if (params.config) out.push(params.config);
    if (params.root) out.push(params.root);
    else if (params.config) {
      // root comes from the config (a small YAML file; check() reports a bad one)
      try {
        const doc = parseYaml(readFileSync(params.config, 'utf8')) as { root?: unknown } | null;
        if (doc && typeof doc.root === 'string') out.push(doc.root);
      } catch {
        /* reported by check() */
      }
    }
    return out;
  },
  async check(params: DatasetParams, ctx: CheckContext) {
    const { ConfigError } = await import('../src/engine/errors.ts');
    const { existsSync } = await import('node:fs');
    const { resolve } = await import('node:path');
    const { p, where } = await effective(params, ctx.projectRoot);
    const file = where === 'params' ? ctx.where : where;
    // key path: inside the pipeline → stages.<id>.params.<key>; inside a config file → the key itself
    const at = (key: string) => (where === 'params' ? `stages.${ctx.stageId}.params.${key}` : key);
    if (!p.root) throw new ConfigError(`dataset needs 'root' (the dataset directory)`, { file, path: at('root') });
    const root = resolve(ctx.projectRoot, p.root);
    if (!existsSync(root)) throw new ConfigError(`dataset root not found: ${root}`, { file, path: at('root') });
    if ((p.kind ?? 'folder') === 'broden' && (p.images || p.labels || p.masks || p.classes)) {
      throw new ConfigError(`'images', 'labels', 'masks' and 'classes' apply to folder datasets, not broden`, { file, path: at('kind') });
    }
    if ((p.kind ?? 'folder') === 'folder' && (p.categories || p.split)) {
      throw new ConfigError(`'categories' and 'split' apply to broden datasets, not folder`, { file, path: at('kind') });
    }
    // Open it (index / listing, no pixels): an empty folder, a malformed index.csv, missing files of the first rows
    // stop `validate` / `run` here instead of after upstream stages ran (src/data/check.ts).
    const { checkDataset } = await import('../src/data/check.ts');
    await checkDataset(refOf(p), ctx.projectRoot, { file: where === 'params' ? undefined : where, at });
  },
  async run(ctx) {
    const { writeFileSync } = await import('node:fs');
    const { openDataset, refToJson } = await import('../src/data/index.ts');
    const { itemsTable, annotateItems } = await import('../src/data/table.ts');
    const { ConfigError } = await import('../src/engine/errors.ts');
    const { p, where } = await effective(ctx.params, ctx.projectRoot);
    const ref = refOf(p);
    const ds = await openDataset(ref, { baseDir: ctx.projectRoot, where: where === 'params' ? `stage '${ctx.stageId}'` : where });
    if (ds.items.length === 0) throw new ConfigError(`dataset ${ds.root} has no items (after split/subset)`, { file: where });
    // Every image's header (check() read the first 100): an unreadable / too small one fails the stage naming the
    // file; the note column says what loading will do to each image, one warning line sums it up.
    const warning = await annotateItems(ds.items, `${ctx.stageId}.items`);
    if (warning) ctx.log.warn(warning);
    await ctx.out.table('items', itemsTable(ds.items));
    let recorded = ds.ref;
    if (ds.kind === 'folder') {
      const listing = ctx.out.path('listing.json');
      writeFileSync(listing, JSON.stringify({ root: ds.root, classNames: ds.classNames, items: ds.items }) + '\n');
      recorded = { ...(ds.ref as import('../src/data/types.ts').FolderDatasetRef), listing };
    }
    ctx.out.meta('dataset', refToJson(recorded));
    ctx.out.meta('count', ds.items.length);
    ctx.out.meta('classes', [...ds.classNames]);
    ctx.log.info(`${ds.items.length} items, ${ds.classNames.length} classes from ${ds.root}`);
  },
} satisfies StageDef<DatasetParams>;
