// Concept vocabularies and their precomputed CLIP text embeddings, from the user's disk:
// - a concept list: a text file, one concept per line, empty lines dropped (CLIP-Dissect's save_activations:
//   `words = [i for i in words if i != ""]`), e.g. data/imagenet_labels.txt, 20k.txt;
// - text embeddings: `.npy` (concepts × dim, float16/32/64, C order; the concepts from the list file),
//   `.arrow` (columns concept (utf8), embedding (list of floats), optional category) or `.csv` (a header; columns
//   concept, optional category, then one column per dimension).
// (or from a text encoder: text.ts). Bad files throw ConfigError naming the file and the row or key.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { readArrowFile } from '../../arrow/io.ts';
import { ConfigError } from '../../engine/errors.ts';
import { l2NormalizeRows } from '../../algo/clipdissect/index.ts';
import { halfTable } from '../dissect/store.ts';

export interface ConceptEmbeddings {
  concepts: string[];
  /** Per concept; '' where the file gives none. */
  categories: string[];
  /** concepts × dim. */
  embedding: Float32Array;
  dim: number;
}

/** One concept per line; empty lines (and a trailing newline) dropped. */
export function readConceptList(file: string, shown = file): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the concept list ${shown}: ${(e as Error).message}`);
  }
  const words = text.split('\n').map((w) => w.replace(/\r$/, '')).filter((w) => w !== '');
  if (words.length === 0) throw new ConfigError(`the concept list ${shown} has no concepts`);
  return words;
}

/** A NumPy .npy array (format 1.0–3.0, little-endian float16/32/64, C order), as float32 with its shape. */
export function readNpy(file: string, shown = file): { data: Float32Array; shape: number[] } {
  const buf = readFileSync(file);
  const bad = (why: string) => new ConfigError(`${shown} is not a usable .npy file: ${why}`, { expected: 'a C-ordered float16/float32/float64 array (numpy.save)' });
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw bad('no NUMPY magic');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw bad('unreadable header');
  if (fortran === 'True') throw bad('Fortran order');
  const shape = shapeStr.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const size = descr === '<f4' ? 4 : descr === '<f8' ? 8 : descr === '<f2' ? 2 : 0;
  if (size === 0) throw bad(`dtype '${descr}'`);
  const off = start + headerLen;
  const bytes = buf.subarray(off);
  const data = new Float32Array(n);
  const half = size === 2 ? halfTable() : undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < n * size) throw bad(`${bytes.length} data bytes for shape (${shape.join(', ')})`);
  for (let i = 0; i < n; i++) data[i] = size === 4 ? view.getFloat32(i * 4, true) : size === 8 ? view.getFloat64(i * 8, true) : half![view.getUint16(i * 2, true)];
  return { data, shape };
}

/**
 * Concept embeddings from `file` (.npy with `conceptsFile`, .arrow or .csv), rows L2-normalised as CLIP-Dissect
 * (`text_features /= text_features.norm(dim=-1, keepdim=True)`). `shown(path)` names files in messages.
 */
export function readConceptEmbeddings(file: string, conceptsFile: string | undefined, shown: (p: string) => string = (p) => p): ConceptEmbeddings {
  const ext = extname(file).toLowerCase();
  let concepts: string[], categories: string[], embedding: Float32Array, dim: number;
  if (ext === '.npy') {
    if (!conceptsFile) throw new ConfigError(`${shown(file)}: a .npy file holds no concept names`, { expected: 'concepts: a text file with one concept per line' });
    concepts = readConceptList(conceptsFile, shown(conceptsFile));
    const { data, shape } = readNpy(file, shown(file));
    if (shape.length !== 2) throw new ConfigError(`${shown(file)} has shape (${shape.join(', ')})`, { expected: '2-D: concepts × embedding dim' });
    if (shape[0] !== concepts.length) throw new ConfigError(`${shown(file)} has ${shape[0]} rows but ${shown(conceptsFile)} lists ${concepts.length} concepts`);
    embedding = data;
    dim = shape[1];
    categories = concepts.map(() => '');
  } else if (ext === '.arrow') {
    const t = readArrowFile(file);
    const c = t.getChild('concept'), e = t.getChild('embedding'), cat = t.getChild('category');
    if (!c || !e) throw new ConfigError(`${shown(file)} needs columns 'concept' and 'embedding'`, { expected: `columns concept (utf8), embedding (list of floats), optional category; has ${t.schema.fields.map((f) => f.name).join(', ')}` });
    concepts = [];
    categories = [];
    dim = -1;
    const rows: ArrayLike<number>[] = [];
    for (let i = 0; i < t.numRows; i++) {
      const v = e.get(i) as { toArray(): ArrayLike<number> } | null;
      const arr = v ? v.toArray() : null;
      if (!arr || (dim >= 0 && arr.length !== dim)) throw new ConfigError(`${shown(file)} row ${i} (${String(c.get(i))}): embedding of length ${arr ? arr.length : 0}, expected ${dim}`);
      dim = arr.length;
      rows.push(arr);
      concepts.push(String(c.get(i)));
      categories.push(cat ? String(cat.get(i) ?? '') : '');
    }
    embedding = new Float32Array(rows.length * Math.max(dim, 0));
    rows.forEach((r, i) => embedding.set(r, i * dim));
  } else if (ext === '.csv') {
    const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== '');
    const head = (lines[0] ?? '').split(',');
    if (head[0] !== 'concept') throw new ConfigError(`${shown(file)}: the header must start with 'concept'`, { expected: 'concept[,category],e0,e1,…' });
    const first = head[1] === 'category' ? 2 : 1;
    dim = head.length - first;
    if (dim < 1) throw new ConfigError(`${shown(file)}: no embedding columns`, { expected: 'concept[,category],e0,e1,…' });
    concepts = [];
    categories = [];
    embedding = new Float32Array((lines.length - 1) * dim);
    for (let r = 1; r < lines.length; r++) {
      const f = lines[r].split(',');
      if (f.length !== head.length) throw new ConfigError(`${shown(file)} line ${r + 1}: ${f.length} fields, expected ${head.length}`);
      concepts.push(f[0]);
      categories.push(first === 2 ? f[1] : '');
      for (let d = 0; d < dim; d++) {
        const v = Number(f[first + d]);
        if (f[first + d].trim() === '' || !Number.isFinite(v)) throw new ConfigError(`${shown(file)} line ${r + 1}, column ${head[first + d]}: '${f[first + d]}' is not a number`);
        embedding[(r - 1) * dim + d] = v;
      }
    }
  } else {
    throw new ConfigError(`${shown(file)}: unknown embedding file type '${ext}'`, { expected: '.npy (with a concept list), .arrow or .csv' });
  }
  return checkedEmbeddings({ concepts, categories, embedding, dim }, shown(file));
}

/**
 * Checks concept embeddings (some concepts; finite; none zero) and L2-normalises the rows in place as CLIP-Dissect
 * (`text_features /= text_features.norm(dim=-1, keepdim=True)`); `source` names where they came from.
 */
export function checkedEmbeddings(e: ConceptEmbeddings, source: string): ConceptEmbeddings {
  const { concepts, embedding, dim } = e;
  if (concepts.length === 0) throw new ConfigError(`${source} holds no concepts`);
  const bad = embedding.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new ConfigError(`${source}: the embedding of concept ${Math.floor(bad / dim)} ('${concepts[Math.floor(bad / dim)]}') holds ${embedding[bad]}`);
  const zero = l2NormalizeRows(embedding, concepts.length, dim);
  if (zero >= 0) throw new ConfigError(`${source}: the embedding of concept ${zero} ('${concepts[zero]}') is zero and cannot be L2-normalised`);
  return e;
}
