// Broden-format concept datasets (NetDissect's broden1_224 layout), read unchanged from disk, and a writer.
//
// Layout (as NetDissect / NetDissect-Lite `loader/data_loader.py` read it):
// - index.csv: image, split, ih, iw, sh, sw, then one column per category. A category cell holds `;`-separated
//   entries: a mask PNG path (relative to images/) or an integer = an image-level label covering every pixel
//   (scene, texture). Extra columns not listed in category.csv (our `label`, `label_name`, `gt_mask`) are ignored
//   by NetDissect and read here as the classification label and the ground-truth object mask.
// - label.csv: number, name, category (`cat(count);cat(count)`), frequency, coverage, syns.
// - category.csv: name, first, last, count, frequency.   c_<category>.csv: code, number, name, frequency, coverage.
// - images/: images and mask PNGs. Mask pixel label = R + 256·G (0 = unlabelled); a 1-channel mask holds the label
//   directly (values < 256).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { ConfigError, ItemError } from '../engine/errors.ts';
import { decodeRawPixels, loadTensor } from '../image/io.ts';
import { encodePngSync, labelsToRgb, type PngEncodeOptions } from '../image/png.ts';
import { formatCsv, parseCsv, type CsvRow } from './csv.ts';
import { under } from './paths.ts';
import { applySubset } from './subset.ts';
import type { BrodenDataset, BrodenDatasetRef, BrodenItem, Concept, ItemLabels } from './types.ts';

export const META_COLUMNS = ['image', 'split', 'ih', 'iw', 'sh', 'sw'] as const;
/** Extra index.csv columns this project writes (not categories). */
export const EXTRA_COLUMNS = ['label', 'label_name', 'gt_mask'] as const;

function readCsvFile(path: string, required: boolean): CsvRow[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read Broden file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path });
  }
  try {
    return parseCsv(text, path);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

function header(rows: CsvRow[] | undefined, file: string, required: string[]): Map<string, number> {
  if (!rows || rows.length === 0) throw new ConfigError('empty file (no header row)', { file });
  const h = new Map<string, number>();
  rows[0].fields.forEach((f, i) => h.set(f.trim(), i));
  const missing = required.filter((c) => !h.has(c));
  if (missing.length) {
    throw new ConfigError(`header lacks column(s) ${missing.join(', ')}`, { file, line: rows[0].line, expected: `columns ${required.join(', ')}` });
  }
  return h;
}

function checkWidth(row: CsvRow, width: number, file: string, names: string[]): void {
  if (row.fields.length !== width) {
    throw new ConfigError(`row has ${row.fields.length} fields, expected ${width} (${names.join(', ')})`, { file, line: row.line });
  }
}

function intField(row: CsvRow, idx: number, name: string, file: string, min = 0): number {
  const s = row.fields[idx]?.trim() ?? '';
  if (!/^-?\d+$/.test(s) || Number(s) < min) {
    throw new ConfigError(`column '${name}' is '${s}', expected an integer >= ${min}`, { file, line: row.line });
  }
  return Number(s);
}

function numField(row: CsvRow, idx: number | undefined): number {
  if (idx === undefined) return 0;
  const v = Number(row.fields[idx]);
  return Number.isFinite(v) ? v : 0;
}

/** Opens a Broden-format dataset directory. Throws ConfigError naming the file and line for malformed CSVs. */
export function openBroden(ref: BrodenDatasetRef, baseDir = process.cwd()): BrodenDataset {
  const root = resolve(baseDir, ref.root);
  if (!existsSync(root)) throw new ConfigError(`Broden dataset root not found: ${root}`);
  const indexFile = join(root, 'index.csv');
  const labelFile = join(root, 'label.csv');
  const indexRows = readCsvFile(indexFile, true)!;
  const ih = header(indexRows, indexFile, [...META_COLUMNS]);
  const names = indexRows[0].fields.map((f) => f.trim());

  // categories: category.csv when present, else every non-meta, non-extra index column
  const catFile = join(root, 'category.csv');
  const catRows = readCsvFile(catFile, false);
  let allCategories: string[];
  if (catRows) {
    const ch = header(catRows, catFile, ['name']);
    allCategories = catRows.slice(1).map((r) => r.fields[ch.get('name')!].trim()).filter((c) => ih.has(c));
  } else {
    allCategories = names.filter((n) => !(META_COLUMNS as readonly string[]).includes(n) && !(EXTRA_COLUMNS as readonly string[]).includes(n));
  }
  if (ref.categories) {
    for (const c of ref.categories) {
      if (!allCategories.includes(c)) {
        throw new ConfigError(`category '${c}' is not in the dataset (has ${allCategories.join(', ') || 'none'})`, { file: indexFile, path: 'categories' });
      }
    }
  }
  const categories = ref.categories ? allCategories.filter((c) => ref.categories!.includes(c)) : allCategories;
  if (!categories.length) {
    throw new ConfigError(`no category columns (the header has ${names.join(', ')})`, {
      file: indexFile,
      line: indexRows[0].line,
      expected: `${META_COLUMNS.join(', ')} and one column per concept category (e.g. color, object, part)`,
    });
  }

  // vocabulary
  const labelRows = readCsvFile(labelFile, true)!;
  const lh = header(labelRows, labelFile, ['number', 'name']);
  const byId = new Map<number, Concept>();
  const catCounts = new Map<number, Map<string, number>>();
  let unlabelledName = '';
  for (const row of labelRows.slice(1)) {
    checkWidth(row, labelRows[0].fields.length, labelFile, labelRows[0].fields);
    const id = intField(row, lh.get('number')!, 'number', labelFile);
    const name = row.fields[lh.get('name')!];
    if (id === 0) {
      unlabelledName = name; // 0 = unlabelled
      continue;
    }
    const counts = new Map<string, number>();
    const catIdx = lh.get('category');
    if (catIdx !== undefined) {
      for (const part of row.fields[catIdx].split(';')) {
        const m = /^\s*([^(]+?)\s*(?:\((\d+)\))?\s*$/.exec(part);
        if (m && m[1]) counts.set(m[1], Number(m[2] ?? 0));
      }
    }
    catCounts.set(id, counts);
    byId.set(id, {
      id,
      name,
      category: '',
      categories: [...counts.keys()],
      frequency: numField(row, lh.get('frequency')),
      coverage: numField(row, lh.get('coverage')),
    });
  }
  // per-category coverage from c_<cat>.csv (for the primary category, as NetDissect's primary_categories_per_index)
  const catCoverage = new Map<number, Map<string, number>>();
  for (const cat of allCategories) {
    const f = join(root, `c_${cat}.csv`);
    const rows = readCsvFile(f, false);
    if (!rows) continue;
    const h = header(rows, f, ['number']);
    for (const row of rows.slice(1)) {
      checkWidth(row, rows[0].fields.length, f, rows[0].fields);
      const num = intField(row, h.get('number')!, 'number', f);
      if (num === 0) continue;
      const c = byId.get(num);
      if (!c) throw new ConfigError(`label number ${num} is not in label.csv`, { file: f, line: row.line });
      if (!c.categories.includes(cat)) c.categories.push(cat);
      let m = catCoverage.get(num);
      if (!m) catCoverage.set(num, (m = new Map()));
      m.set(cat, numField(row, h.get('coverage')));
    }
  }
  for (const c of byId.values()) {
    const cov = catCoverage.get(c.id);
    const counts = catCounts.get(c.id)!;
    let best = '';
    let bestV = -Infinity;
    // ties go to the later category in index order, as NetDissect's max over (coverage, category index)
    for (const cat of allCategories) {
      if (!c.categories.includes(cat)) continue;
      const v = cov?.get(cat) ?? counts.get(cat) ?? 0;
      if (v >= bestV) {
        bestV = v;
        best = cat;
      }
    }
    c.category = best || c.categories[0] || '';
    c.categoryCoverage = Object.fromEntries(c.categories.map((cat) => [cat, cov?.get(cat) ?? counts.get(cat) ?? 0]));
    const rank = (cat: string) => {
      const i = allCategories.indexOf(cat);
      return i < 0 ? allCategories.length : i;
    };
    c.categories.sort((a, b) => rank(a) - rank(b));
  }
  const known = new Uint8Array(65536);
  for (const id of byId.keys()) if (id < 65536) known[id] = 1;

  // classification labels (synthetic datasets): classes.txt + index columns label / label_name
  const classesFile = join(root, 'classes.txt');
  const classNames = existsSync(classesFile)
    ? readFileSync(classesFile, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0)
    : [];

  const imagesDir = join(root, 'images');
  const inImages = under(imagesDir);
  const width = indexRows[0].fields.length;
  let items: BrodenItem[] = [];
  const labelCol = ih.get('label');
  const labelNameCol = ih.get('label_name');
  const gtCol = ih.get('gt_mask');
  for (const row of indexRows.slice(1)) {
    checkWidth(row, width, indexFile, names);
    const image = row.fields[ih.get('image')!].trim();
    if (!image) throw new ConfigError(`empty 'image' column`, { file: indexFile, line: row.line });
    const split = row.fields[ih.get('split')!].trim();
    if (ref.split !== undefined && split !== ref.split) continue;
    const item: BrodenItem = {
      id: image,
      path: inImages(image),
      split,
      ih: intField(row, ih.get('ih')!, 'ih', indexFile, 1),
      iw: intField(row, ih.get('iw')!, 'iw', indexFile, 1),
      sh: intField(row, ih.get('sh')!, 'sh', indexFile, 1),
      sw: intField(row, ih.get('sw')!, 'sw', indexFile, 1),
      masks: {},
      imageLabels: {},
      line: row.line,
    };
    for (const cat of categories) {
      const cell = row.fields[ih.get(cat)!];
      const masks: string[] = [];
      const labels: number[] = [];
      for (const entry of cell.split(';')) {
        const e = entry.trim();
        if (!e) continue;
        if (/^\d+$/.test(e)) {
          const n = Number(e);
          if (n >= 65536 || !known[n]) {
            throw new ConfigError(`column '${cat}': image-level label ${n} is not in label.csv`, { file: indexFile, line: row.line });
          }
          labels.push(n);
        } else masks.push(inImages(e));
      }
      if (masks.length) item.masks[cat] = masks;
      if (labels.length) item.imageLabels[cat] = labels;
    }
    if (labelCol !== undefined && row.fields[labelCol].trim() !== '') {
      const l = intField(row, labelCol, 'label', indexFile);
      if (classNames.length && l >= classNames.length) {
        throw new ConfigError(`class label ${l} is out of range (classes.txt has ${classNames.length} classes)`, { file: indexFile, line: row.line });
      }
      item.label = l;
      item.labelName = labelNameCol !== undefined && row.fields[labelNameCol] ? row.fields[labelNameCol] : classNames[l];
    }
    if (gtCol !== undefined && row.fields[gtCol].trim() !== '') item.maskPath = inImages(row.fields[gtCol].trim());
    items.push(item);
  }
  if (ref.subset) items = applySubset(items, ref.subset, `${indexFile}`);
  const concepts = [...byId.values()]
    .filter((c) => c.categories.some((cat) => categories.includes(cat)))
    .sort((a, b) => a.id - b.id);
  const first = items[0];

  async function readLabels(item: BrodenItem, cats: readonly string[] = categories): Promise<ItemLabels> {
    const pixel: Record<string, Uint16Array[]> = {};
    const image: Record<string, number[]> = {};
    const n = item.sh * item.sw;
    for (const cat of cats) {
      if (!categories.includes(cat)) throw new Error(`readLabels: category '${cat}' is not open (have ${categories.join(', ')})`);
      if (item.imageLabels[cat]) image[cat] = item.imageLabels[cat].slice();
      const files = item.masks[cat];
      if (!files) continue;
      const maps: Uint16Array[] = [];
      for (const file of files) {
        let px;
        try {
          px = await decodeRawPixels(file);
        } catch (e) {
          throw new ItemError(item.id, (e as Error).message, { cause: e });
        }
        if (px.width !== item.sw || px.height !== item.sh) {
          throw new ItemError(item.id, `${file}: mask is ${px.width}×${px.height}, index.csv line ${item.line} says ${item.sw}×${item.sh} (sw×sh)`);
        }
        const map = new Uint16Array(n);
        const d = px.data;
        const ch = px.channels;
        if (ch >= 3) for (let i = 0, j = 0; i < n; i++, j += ch) map[i] = d[j] + 256 * d[j + 1];
        else for (let i = 0, j = 0; i < n; i++, j += ch) map[i] = d[j];
        for (let i = 0; i < n; i++) {
          const v = map[i];
          if (v !== 0 && !known[v]) {
            throw new ItemError(item.id, `${file}: pixel (${i % item.sw}, ${Math.floor(i / item.sw)}) has label ${v} (R + 256·G), which is not in label.csv`);
          }
        }
        maps.push(map);
      }
      pixel[cat] = maps;
    }
    return { item, height: item.sh, width: item.sw, pixel, image };
  }

  async function* streamLabels(opts: Parameters<BrodenDataset['streamLabels']>[0] = {}): AsyncIterable<ItemLabels> {
    const list = opts.items ?? items;
    const prefetch = Math.max(1, opts.prefetch ?? 4);
    const pending: Promise<ItemLabels>[] = [];
    let next = 0;
    const read = async (item: BrodenItem): Promise<ItemLabels> => {
      const labels = await readLabels(item, opts.categories);
      if (opts.image) {
        try {
          labels.pixels = await loadTensor(item.path, opts.image.spec, { fit: 'stretch', ...opts.image.options });
        } catch (e) {
          throw new ItemError(item.id, (e as Error).message, { cause: e });
        }
      }
      return labels;
    };
    const fill = () => {
      while (pending.length < prefetch && next < list.length) {
        const p = read(list[next++]);
        p.catch(() => undefined); // surfaced when awaited
        pending.push(p);
      }
    };
    fill();
    while (pending.length) {
      const p = pending.shift()!;
      fill();
      yield await p;
    }
  }

  return {
    ref: { ...ref, root },
    kind: 'broden',
    name: ref.name ?? posix.basename(root.replace(/\\/g, '/')),
    root,
    items,
    classNames,
    categories,
    concepts,
    concept: (id: number) => byId.get(id),
    unlabelledName,
    maskSize: { height: first?.sh ?? 0, width: first?.sw ?? 0 },
    readLabels,
    streamLabels,
  };
}

// ───────────────────────────── writer ─────────────────────────────

export interface BrodenConceptDef {
  name: string;
  category: string;
}

export interface BrodenRecord {
  /** Image path relative to images/ (e.g. `shapes/000001.png`). */
  image: string;
  /** Encoded image file bytes. */
  imageBytes: Uint8Array;
  split: string;
  ih: number;
  iw: number;
  sh: number;
  sw: number;
  /** Per category, label maps (global label numbers) at sh×sw; each becomes a mask PNG. */
  masks?: Record<string, ArrayLike<number>[]>;
  /** Per category, the masks already encoded as R + 256·G PNGs (same order as `masks`; skips encoding here). */
  encodedMasks?: Record<string, Uint8Array[]>;
  /** Per category, image-level label numbers. */
  imageLabels?: Record<string, number[]>;
  /** Values of the extra index columns. */
  extra?: Record<string, string | number>;
  /** Additional files to write, relative to images/. */
  files?: { path: string; bytes: Uint8Array }[];
}

/**
 * Writes a Broden-format dataset incrementally (images and masks as they come, CSVs on `finish`). Label numbers are
 * assigned 1… in the order of `concepts`; frequency/coverage statistics are accumulated from what is written.
 */
export class BrodenWriter {
  readonly root: string;
  readonly categories: readonly string[];
  readonly extraColumns: readonly string[];
  private readonly concepts: BrodenConceptDef[];
  private readonly numbers = new Map<string, number>();
  private readonly rows: (string | number)[][] = [];
  private readonly dirs = new Set<string>();
  /** per label: images carrying it, coverage sum */
  private readonly freq: Float64Array;
  private readonly cov: Float64Array;
  private readonly catFreq = new Map<string, number>();
  private readonly conceptCat: string[];

  private readonly png: PngEncodeOptions;

  /** `png`: options for the mask PNGs (default unfiltered, level 6: label maps are flat). */
  constructor(
    root: string,
    categories: readonly string[],
    concepts: readonly BrodenConceptDef[],
    opts: { extraColumns?: readonly string[]; png?: PngEncodeOptions } = {},
  ) {
    this.root = root;
    this.png = opts.png ?? { filter: 'none', level: 6 };
    this.categories = categories;
    this.extraColumns = opts.extraColumns ?? [];
    this.concepts = [...concepts];
    this.conceptCat = [''];
    concepts.forEach((c, i) => {
      if (!categories.includes(c.category)) throw new Error(`BrodenWriter: concept '${c.name}' has unknown category '${c.category}'`);
      const key = `${c.category}\u0000${c.name}`;
      if (this.numbers.has(key)) throw new Error(`BrodenWriter: duplicate concept '${c.name}' in '${c.category}'`);
      this.numbers.set(key, i + 1);
      this.conceptCat.push(c.category);
    });
    if (concepts.length >= 65536) throw new Error('BrodenWriter: at most 65535 labels fit R + 256·G');
    this.freq = new Float64Array(concepts.length + 1);
    this.cov = new Float64Array(concepts.length + 1);
    for (const c of categories) this.catFreq.set(c, 0);
    mkdirSync(join(root, 'images'), { recursive: true });
  }

  /** Global label number of a concept. */
  labelNumber(category: string, name: string): number {
    const n = this.numbers.get(`${category}\u0000${name}`);
    if (n === undefined) throw new Error(`BrodenWriter: no concept '${name}' in category '${category}'`);
    return n;
  }

  private write(rel: string, bytes: Uint8Array): void {
    const abs = join(this.root, 'images', rel);
    const dir = dirname(abs);
    if (!this.dirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.dirs.add(dir);
    }
    writeFileSync(abs, bytes);
  }

  /** Writes one image, its masks and files, and records its index row. */
  add(rec: BrodenRecord): void {
    this.write(rec.image, rec.imageBytes);
    for (const f of rec.files ?? []) this.write(f.path, f.bytes);
    const stem = rec.image.replace(/\.[^./]+$/, '');
    const n = rec.sh * rec.sw;
    const cells: string[] = [];
    const seen = new Float64Array(this.freq.length); // pixels per label in this image
    const imageLevel = new Uint8Array(this.freq.length);
    for (const cat of this.categories) {
      const entries: string[] = [];
      const maps = rec.masks?.[cat] ?? [];
      maps.forEach((map, k) => {
        if (map.length !== n) throw new Error(`BrodenWriter: ${rec.image} ${cat} mask has ${map.length} pixels, expected ${rec.sh}×${rec.sw}`);
        const rel = `${stem}_${cat}${maps.length > 1 ? `_${k + 1}` : ''}.png`;
        this.write(rel, rec.encodedMasks?.[cat]?.[k] ?? encodePngSync(labelsToRgb(map), rec.sw, rec.sh, 3, this.png));
        entries.push(rel);
        for (let i = 0; i < n; i++) {
          const v = map[i];
          if (v === 0) continue;
          if (v >= this.freq.length) throw new Error(`BrodenWriter: ${rec.image} ${cat} mask has unknown label ${v}`);
          seen[v]++;
        }
      });
      for (const l of rec.imageLabels?.[cat] ?? []) {
        if (!(l > 0 && l < this.freq.length)) throw new Error(`BrodenWriter: ${rec.image} ${cat} has unknown image-level label ${l}`);
        imageLevel[l] = 1;
        entries.push(String(l));
      }
      cells.push(entries.join(';'));
    }
    const catsHit = new Set<string>();
    for (let l = 1; l < this.freq.length; l++) {
      if (imageLevel[l]) {
        this.freq[l]++;
        this.cov[l] += 1;
        catsHit.add(this.conceptCat[l]);
      } else if (seen[l] > 0) {
        this.freq[l]++;
        this.cov[l] += seen[l] / n;
        catsHit.add(this.conceptCat[l]);
      }
    }
    for (const c of catsHit) this.catFreq.set(c, (this.catFreq.get(c) ?? 0) + 1);
    this.rows.push([
      rec.image,
      rec.split,
      rec.ih,
      rec.iw,
      rec.sh,
      rec.sw,
      ...cells,
      ...this.extraColumns.map((c) => rec.extra?.[c] ?? ''),
    ]);
  }

  /** Writes index.csv, label.csv, category.csv and c_<category>.csv. */
  finish(): void {
    const fmt = (v: number) => (Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6));
    writeFileSync(join(this.root, 'index.csv'), formatCsv([[...META_COLUMNS, ...this.categories, ...this.extraColumns], ...this.rows]));
    const labelRows: (string | number)[][] = [['number', 'name', 'category', 'frequency', 'coverage', 'syns']];
    this.concepts.forEach((c, i) => {
      const l = i + 1;
      labelRows.push([l, c.name, `${c.category}(${this.freq[l]})`, this.freq[l], fmt(this.cov[l]), '']);
    });
    writeFileSync(join(this.root, 'label.csv'), formatCsv(labelRows));
    const catRows: (string | number)[][] = [['name', 'first', 'last', 'count', 'frequency']];
    for (const cat of this.categories) {
      const nums = this.concepts.map((c, i) => (c.category === cat ? i + 1 : 0)).filter((x) => x > 0);
      catRows.push([cat, nums.length ? Math.min(...nums) : 0, nums.length ? Math.max(...nums) : 0, nums.length, this.catFreq.get(cat) ?? 0]);
      const cRows: (string | number)[][] = [['code', 'number', 'name', 'frequency', 'coverage']];
      nums.forEach((l, k) => cRows.push([k + 1, l, this.concepts[l - 1].name, this.freq[l], fmt(this.cov[l])]));
      writeFileSync(join(this.root, `c_${cat}.csv`), formatCsv(cRows));
    }
    writeFileSync(join(this.root, 'category.csv'), formatCsv(catRows));
  }
}
