// Image-folder datasets: fast-glob patterns under a root; class label from the parent folder (ImageNet synset
// folders `n02018207_American_coot` → synset n02018207, label text "American coot") or from a CSV; optional
// ground-truth masks by path pattern; deterministic order (relative paths sorted by code unit, not locale); subset.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, posix, resolve } from 'node:path';
import fg from 'fast-glob';
import { ConfigError } from '../engine/errors.ts';
import { parseCsv } from './csv.ts';
import { under } from './paths.ts';
import { applySubset } from './subset.ts';
import type { Dataset, DatasetItem, FolderDatasetRef, MaskSpec } from './types.ts';

export const DEFAULT_IMAGE_PATTERN = '**/*.{jpg,jpeg,png,webp,tif,tiff,bmp,gif,avif}';

const SYNSET_RE = /^(n\d{8})(?:[_\s-]+(.+))?$/;

/** Parses a class folder name: `n02018207_American_coot` → { synset, text: 'American coot' }; else text = name. */
export function parseClassFolder(name: string): { key: string; synset?: string; text: string } {
  const m = SYNSET_RE.exec(name);
  if (m) return { key: m[1], synset: m[1], text: m[2] ? m[2].replace(/_/g, ' ').trim() : m[1] };
  return { key: name, text: name.replace(/_/g, ' ') };
}

interface ClassEntry {
  synset?: string;
  name: string;
}

/** Parses a class list: lines `n01440764 tench, Tinca tinca`, `n01440764` or `tench`; '#' comments skipped. */
export function parseClassList(text: string): ClassEntry[] {
  const out: ClassEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(n\d{8})(?:[\s,:_]+(.*))?$/.exec(line);
    if (m) out.push({ synset: m[1], name: (m[2] ?? m[1]).split(',')[0].replace(/_/g, ' ').trim() || m[1] });
    else out.push({ name: line });
  }
  return out;
}

function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Resolves a mask pattern for an image path relative to the root (posix). */
export function maskPathFor(pattern: string, rel: string): string {
  const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
  const base = posix.basename(rel);
  const dot = base.lastIndexOf('.');
  const name = dot > 0 ? base.slice(0, dot) : base;
  const ext = dot > 0 ? base.slice(dot + 1) : '';
  const path = dir ? `${dir}/${name}` : name;
  return pattern
    .replace(/\{path\}/g, path)
    .replace(/\{dir\}/g, dir)
    .replace(/\{name\}/g, name)
    .replace(/\{ext\}/g, ext)
    .replace(/^\/+/, '')
    .replace(/\/{2,}/g, '/');
}

export interface FolderListing {
  root: string;
  classNames: string[];
  items: DatasetItem[];
}

/** Opens an image-folder dataset (see FolderDatasetRef). `where` names the config for error messages. */
export async function openFolder(ref: FolderDatasetRef, baseDir = process.cwd(), where?: string): Promise<Dataset> {
  const root = resolve(baseDir, ref.root);
  const name = ref.name ?? posix.basename(root.replace(/\\/g, '/'));
  if (ref.listing) {
    let listing: FolderListing;
    try {
      listing = JSON.parse(readFileSync(ref.listing, 'utf8')) as FolderListing;
    } catch (e) {
      throw new ConfigError(`cannot read dataset listing (${(e as Error).message})`, { file: ref.listing });
    }
    return { ref: { ...ref, root }, kind: 'folder', name, root, items: listing.items, classNames: listing.classNames };
  }
  const file = where;
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new ConfigError(`dataset root is not a directory: ${root}`, { file, path: 'root' });
  }
  const from = ref.labels?.from ?? (ref.labels?.csv ? 'csv' : 'folder');
  const explicitPatterns = ref.images === undefined ? undefined : Array.isArray(ref.images) ? ref.images : [ref.images];

  // labels from CSV: image → raw label
  let csvLabels: Map<string, string> | undefined;
  let csvOrder: string[] | undefined;
  if (from === 'csv') {
    if (!ref.labels?.csv) throw new ConfigError(`labels.from is 'csv' but labels.csv is not set`, { file, path: 'labels.csv' });
    const csvPath = isAbsolute(ref.labels.csv) ? ref.labels.csv : join(root, ref.labels.csv);
    let text: string;
    try {
      text = readFileSync(csvPath, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read labels CSV (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: csvPath });
    }
    let rows;
    try {
      rows = parseCsv(text, csvPath);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    if (rows.length === 0) throw new ConfigError('empty labels CSV', { file: csvPath });
    const h = rows[0].fields.map((f) => f.trim());
    const ic = h.indexOf(ref.labels.imageColumn ?? 'image');
    const lc = h.indexOf(ref.labels.labelColumn ?? 'label');
    if (ic < 0 || lc < 0) {
      throw new ConfigError(`header lacks column '${ic < 0 ? ref.labels.imageColumn ?? 'image' : ref.labels.labelColumn ?? 'label'}' (has ${h.join(', ')})`, { file: csvPath, line: rows[0].line });
    }
    csvLabels = new Map();
    csvOrder = [];
    for (const row of rows.slice(1)) {
      if (row.fields.length !== h.length) {
        throw new ConfigError(`row has ${row.fields.length} fields, expected ${h.length} (${h.join(', ')})`, { file: csvPath, line: row.line });
      }
      const img = row.fields[ic].trim().replace(/\\/g, '/');
      if (!img) throw new ConfigError(`empty image column`, { file: csvPath, line: row.line });
      if (csvLabels.has(img)) throw new ConfigError(`image '${img}' is listed twice`, { file: csvPath, line: row.line });
      csvLabels.set(img, row.fields[lc].trim());
      csvOrder.push(img);
    }
  }

  // file list
  let rels: string[];
  if (explicitPatterns || !csvOrder) {
    const patterns = explicitPatterns ?? [DEFAULT_IMAGE_PATTERN];
    rels = await fg(patterns, { cwd: root, onlyFiles: true, caseSensitiveMatch: explicitPatterns !== undefined, dot: false, followSymbolicLinks: true });
    if (rels.length === 0) {
      throw new ConfigError(`no files match ${patterns.map((p) => `'${p}'`).join(', ')} under ${root}`, { file, path: 'images' });
    }
    // masks living next to the images must not count as images
    if (ref.masks) {
      const set = new Set(rels);
      const maskSet = new Set<string>();
      for (const r of rels) {
        const m = maskPathFor(ref.masks.pattern, r);
        if (m !== r && set.has(m)) maskSet.add(m);
      }
      if (maskSet.size) rels = rels.filter((r) => !maskSet.has(r));
    }
  } else {
    rels = csvOrder.slice();
  }
  rels.sort(comparePaths);

  // labels
  const classList = ref.classes ? readClassList(isAbsolute(ref.classes) ? ref.classes : join(root, ref.classes), file) : undefined;
  type Raw = { key: string; synset?: string; text: string };
  const raws: (Raw | undefined)[] = rels.map((rel) => {
    if (from === 'none') return undefined;
    if (from === 'folder') {
      const dir = posix.dirname(rel);
      if (dir === '.') {
        throw new ConfigError(`image '${rel}' is not inside a class folder (labels.from: folder)`, { file, path: 'labels.from' });
      }
      return parseClassFolder(posix.basename(dir));
    }
    const v = csvLabels!.get(rel);
    if (v === undefined) throw new ConfigError(`image '${rel}' has no row in the labels CSV ${ref.labels!.csv}`, { file, path: 'labels.csv' });
    if (/^\d+$/.test(v)) return { key: `#${v}`, text: v };
    return parseClassFolder(v);
  });

  let classNames: string[] = [];
  const indexOf = new Map<string, number>();
  if (from !== 'none') {
    if (classList) {
      classNames = classList.map((c) => c.name);
      classList.forEach((c, i) => {
        if (c.synset && !indexOf.has(c.synset)) indexOf.set(c.synset, i);
        if (!indexOf.has(c.name)) indexOf.set(c.name, i);
        const u = c.name.replace(/ /g, '_');
        if (!indexOf.has(u)) indexOf.set(u, i);
        indexOf.set(`#${i}`, i);
      });
    } else {
      const keys = new Map<string, string>();
      for (const r of raws) if (r && !keys.has(r.key)) keys.set(r.key, r.text);
      const numeric = [...keys.keys()].every((k) => k.startsWith('#'));
      if (numeric) {
        // numeric CSV labels are class indices already
        const max = Math.max(...[...keys.keys()].map((k) => Number(k.slice(1))));
        classNames = Array.from({ length: max + 1 }, (_, i) => String(i));
        for (let i = 0; i <= max; i++) indexOf.set(`#${i}`, i);
      } else {
        const sorted = [...keys.keys()].sort(comparePaths);
        sorted.forEach((k, i) => {
          indexOf.set(k, i);
          classNames.push(keys.get(k)!);
        });
      }
    }
  }

  const inRoot = under(root);
  let items: DatasetItem[] = rels.map((rel, i) => {
    const item: DatasetItem = { id: rel, path: inRoot(rel) };
    const r = raws[i];
    if (r) {
      let idx = indexOf.get(r.key);
      if (idx === undefined && r.synset === undefined) idx = indexOf.get(r.text);
      if (idx === undefined) {
        throw new ConfigError(`class '${r.key}' of image '${rel}' is not in the class list ${ref.classes}`, { file, path: 'classes' });
      }
      item.label = idx;
      item.labelName = classList ? classNames[idx] : r.text;
      if (r.synset) item.synset = r.synset;
      else if (classList?.[idx]?.synset) item.synset = classList[idx].synset;
    }
    if (ref.masks) {
      const mp = inRoot(maskPathFor(ref.masks.pattern, rel));
      if (existsSync(mp)) item.maskPath = mp;
      else if (ref.masks.required) {
        throw new ConfigError(`ground-truth mask for '${rel}' not found: ${mp}`, { file, path: 'masks.pattern', expected: `a file at ${ref.masks.pattern}` });
      }
    }
    return item;
  });
  if (ref.subset) items = applySubset(items, ref.subset, file ?? root);
  return { ref: { ...ref, root }, kind: 'folder', name, root, items, classNames };
}

function readClassList(path: string, file?: string): ClassEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read class list ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file, path: 'classes' });
  }
  const list = parseClassList(text);
  if (list.length === 0) throw new ConfigError(`class list ${path} is empty`, { file, path: 'classes' });
  return list;
}

export type { MaskSpec };
