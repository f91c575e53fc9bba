// Shared plumbing of the Network Dissection stages (collect-activations, quantile-thresholds, label-units,
// concept-stats, compare-concepts). Not a stage kind (the leading `_` keeps it out of `stages/` kinds).
//
// Feature store written by collect-activations (inside its output directory):
//   maps/index.json                 { format, dtype, images, layers: [{ layer, tensor, units, height, width, dir }],
//                                     parts: [{ file, first, count }] }
//   maps/<dir>/<part>.arrow         one Arrow IPC file per (layer, model batch) holding one record batch, rows
//                                   (image, unit) in image-then-unit order with columns
//                                     image Int32 (index into the dataset's items), unit Int32,
//                                     max Float32 (the per-image per-unit maximum),
//                                     map FixedSizeList<Float32 | Float16>[height·width] (row-major feature map), tagged arrow.fixed_shape_tensor [height, width].
// Parts are read one at a time (never the whole layer): memory per part = batch × units × H × W values.
// Only apache-arrow is imported at top level (allowed for stage modules).
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  Int32,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Utf8,
  makeData,
  tableFromIPC,
  RecordBatchFileWriter,
  AsyncByteQueue,
} from 'apache-arrow';
import { listOf, tensorField } from '../../arrow/conventions.ts';
import type { UpstreamOutputs } from '../../engine/types.ts';
import type { BrodenDataset } from '../../data/types.ts';
import type { ConceptSpace, UnitLabel } from '../../algo/dissect/index.ts';

export type MapDtype = 'float32' | 'float16';

export interface LayerEntry {
  /** The layer as named in the stage params (alias or tensor name). */
  layer: string;
  /** The model tensor it resolves to. */
  tensor: string;
  units: number;
  height: number;
  width: number;
  /** Directory of its parts, relative to maps/. */
  dir: string;
}

export interface PartEntry {
  /** File name inside each layer's directory. */
  file: string;
  /** Dataset index of the first image of the model batch (images of a part are increasing, not necessarily contiguous). */
  first: number;
  /** Images in the part. */
  count: number;
}

export interface FeatureIndex {
  format: 1;
  dtype: MapDtype;
  /** Images with stored maps (bad items excluded). */
  images: number;
  layers: LayerEntry[];
  parts: PartEntry[];
}

export const INDEX_FILE = 'maps/index.json';

/** A directory-safe name for a layer (`/layer4/layer4.1/relu_1/Relu_output_0` → `layer4_layer4.1_relu_1_Relu_output_0`). */
export function layerDir(layer: string, taken: Set<string>): string {
  let d = layer.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[_.]+|_+$/g, '') || 'layer';
  if (taken.has(d)) {
    let i = 2;
    while (taken.has(`${d}-${i}`)) i++;
    d = `${d}-${i}`;
  }
  taken.add(d);
  return d;
}

export function partFile(first: number): string {
  return `p${String(first).padStart(9, '0')}.arrow`;
}

// ───────────────────────────── float16 ─────────────────────────────

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of a number, round to nearest even (as numpy's astype(float16)). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rem > mid || (rem === mid && half & 1) ? half + 1 : half);
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent (correct: rounds up)
  return sign | half;
}

let halfLut: Float32Array | undefined;
/** Float32 value of every binary16 bit pattern. */
export function halfTable(): Float32Array {
  if (halfLut) return halfLut;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 0x1f ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (halfLut = t);
}

export function floatToHalfArray(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = toHalf(src[i]);
  return out;
}

// ───────────────────────────── parts ─────────────────────────────

export interface Part {
  /** Dataset index per image of the part. */
  images: Int32Array;
  units: number;
  height: number;
  width: number;
  /** [images × units × height × width] as float32 (float16 parts are widened). */
  maps: Float32Array;
  /** [images × units] per-image per-unit maxima. */
  maxima: Float32Array;
}

/**
 * Per-row maxima of `rows` maps of `hw` values, float32 or binary16 bits (maxima of the widened values); a NaN anywhere
 * makes the maximum NaN (quantile-thresholds then scans the map and reports it).
 */
export function mapMaxima(values: Float32Array | Uint16Array, rows: number, hw: number, out = new Float32Array(rows)): Float32Array {
  // one loop per element type, so each stays monomorphic (this runs over every recomputed or stored map)
  return values instanceof Uint16Array ? maximaHalf(values, halfTable(), rows, hw, out) : maxima32(values, rows, hw, out);
}

function maxima32(values: Float32Array, rows: number, hw: number, out: Float32Array): Float32Array {
  for (let r = 0, o = 0; r < rows; r++, o += hw) {
    let m = -Infinity;
    for (let j = o, e = o + hw; j < e; j++) {
      const v = values[j];
      if (v > m) m = v;
      else if (v !== v) m = NaN;
    }
    out[r] = m;
  }
  return out;
}

function maximaHalf(values: Uint16Array, lut: Float32Array, rows: number, hw: number, out: Float32Array): Float32Array {
  for (let r = 0, o = 0; r < rows; r++, o += hw) {
    let m = -Infinity;
    for (let j = o, e = o + hw; j < e; j++) {
      const v = lut[values[j]];
      if (v > m) m = v;
      else if (v !== v) m = NaN;
    }
    out[r] = m;
  }
  return out;
}

/**
 * One model batch of one layer as the Part readPart would give for its stored file (disk-light dissection recomputes
 * the maps instead of reading them): float16 values rounded as stored (and widened back), maxima of those values.
 */
export function batchPart(images: Int32Array, act: Float32Array, units: number, h: number, w: number, dtype: MapDtype): Part {
  const maps = dtype === 'float16' ? roundHalf(act) : act;
  return { images, units, height: h, width: w, maps, maxima: mapMaxima(maps, images.length * units, h * w) };
}

/** float32 values rounded to binary16 and back (what a float16 part stores). */
function roundHalf(src: Float32Array): Float32Array {
  const lut = halfTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[toHalf(src[i])];
  return out;
}

/**
 * Encodes one model batch of one layer (NCHW float32 activations) as an Arrow IPC file, returned as its chunks in
 * order (the maps chunk is a view on `act`, not a copy): the bytes of tableToIPC(table, 'file') without joining them.
 */
export function encodePart(images: ArrayLike<number>, act: Float32Array, units: number, h: number, w: number, dtype: MapDtype, meta: Record<string, string>): Uint8Array[] {
  const n = images.length;
  const hw = h * w;
  if (act.length !== n * units * hw) throw new Error(`encodePart: ${act.length} values for ${n}×${units}×${h}×${w}`);
  const rows = n * units;
  const img = new Int32Array(rows);
  const unit = new Int32Array(rows);
  const max = new Float32Array(rows);
  // maxima of the stored values (float16: of the rounded ones, which the thresholds are computed from)
  const half = dtype === 'float16' ? floatToHalfArray(act) : undefined;
  for (let b = 0, r = 0; b < n; b++) {
    for (let u = 0; u < units; u++, r++) {
      img[r] = images[b];
      unit[r] = u;
    }
  }
  mapMaxima(half ?? act, rows, hw, max);
  const elem: Float16 | Float32 = dtype === 'float16' ? new Float16() : new Float32();
  const child = half
    ? makeData({ type: new Float16(), length: rows * hw, nullCount: 0, data: half })
    : makeData({ type: new Float32(), length: rows * hw, nullCount: 0, data: act });
  const mapField = tensorField('map', elem, [h, w], ['height', 'width'], { description: 'activation map of the unit on the image (row-major)' });
  const listType = mapField.type;
  const fields = [
    new Field('image', new Int32(), false),
    new Field('unit', new Int32(), false),
    new Field('max', new Float32(), false),
    mapField,
  ];
  const schema = new Schema(fields, new Map(Object.entries(meta)));
  const children = [
    makeData({ type: new Int32(), length: rows, nullCount: 0, data: img }),
    makeData({ type: new Int32(), length: rows, nullCount: 0, data: unit }),
    makeData({ type: new Float32(), length: rows, nullCount: 0, data: max }),
    makeData({ type: listType, length: rows, nullCount: 0, child }),
  ];
  const data = makeData({ type: new Struct(fields), length: rows, nullCount: 0, children });
  const sink = new ChunkSink();
  const writer = new RecordBatchFileWriter();
  writer.reset(sink);
  writer.write(new Table([new RecordBatch(schema, data)]));
  writer.finish();
  return sink.chunks;
}

/** A writer sink that keeps the chunks the IPC writer emits (views on the column buffers and its own metadata). */
class ChunkSink extends AsyncByteQueue {
  readonly chunks: Uint8Array[] = [];
  override write(value: Uint8Array): void {
    if (value.byteLength > 0) this.chunks.push(value);
  }
}

/**
 * A file's bytes read into `scratch.buf` (grown as needed, 25% headroom, and reused across calls), returned as a view of
 * its first `size` bytes. For readers that consume a part before reading into the same scratch again (readPart's
 * float32 views point into it). `shared`: the buffer is a SharedArrayBuffer, so the bytes and the views readPart makes
 * of them can be posted to worker threads without a copy (src/explain/dissect/pool.ts).
 */
export function readReusing(path: string, scratch: { buf?: Uint8Array }, shared = false): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (!scratch.buf || scratch.buf.length < size) {
      const n = Math.ceil(size * 1.25) + 8;
      scratch.buf = new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
    }
    const out = scratch.buf.subarray(0, size);
    let pos = 0;
    while (pos < size) {
      const n = readSync(fd, out, pos, size - pos, pos);
      if (n === 0) throw new Error(`${path}: file shrank while reading (${pos} of ${size} bytes)`);
      pos += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Reads one part file (all its record batches) into flat float32 arrays; `bytes`: its content, already read. */
export function readPart(path: string, units: number, h: number, w: number, bytes?: Uint8Array): Part {
  const t = tableFromIPC(bytes ?? readFileSync(path));
  const hw = h * w;
  const rows = t.numRows;
  if (rows % units !== 0) throw new Error(`${path}: ${rows} rows is not a multiple of ${units} units`);
  const n = rows / units;
  if (t.batches.length === 1) {
    // the usual case (one record batch per part): float32 maps and maxima are views on the file buffer, no copy
    const batch = t.batches[0];
    const m = batch.getChild('map')!.data[0];
    const mx = batch.getChild('max')!.data[0];
    const child = m.children[0];
    if ((m.type as FixedSizeList).listSize === hw && child.values instanceof Float32Array) {
      const start = child.offset + m.offset * hw;
      const im = batch.getChild('image')!.data[0];
      const iv = im.values as Int32Array;
      const images = new Int32Array(n);
      for (let b = 0; b < n; b++) images[b] = iv[im.offset + b * units];
      return {
        images,
        units,
        height: h,
        width: w,
        maps: (child.values as Float32Array).subarray(start, start + rows * hw),
        maxima: (mx.values as Float32Array).subarray(mx.offset, mx.offset + rows),
      };
    }
  }
  const maps = new Float32Array(rows * hw);
  const maxima = new Float32Array(rows);
  const images = new Int32Array(n);
  let r0 = 0;
  for (const batch of t.batches) {
    const m = batch.getChild('map')!.data[0];
    if ((m.type as FixedSizeList).listSize !== hw) throw new Error(`${path}: maps have ${(m.type as FixedSizeList).listSize} values, expected ${h}×${w}`);
    const child = m.children[0];
    const start = (child.offset + m.offset * hw) | 0;
    const len = batch.numRows * hw;
    const vals = child.values as Float32Array | Uint16Array;
    if (vals instanceof Uint16Array) {
      const lut = halfTable();
      for (let i = 0; i < len; i++) maps[r0 * hw + i] = lut[vals[start + i]];
    } else maps.set(vals.subarray(start, start + len), r0 * hw);
    const mx = batch.getChild('max')!.data[0];
    maxima.set((mx.values as Float32Array).subarray(mx.offset, mx.offset + batch.numRows), r0);
    const im = batch.getChild('image')!.data[0];
    const iv = (im.values as Int32Array).subarray(im.offset, im.offset + batch.numRows);
    for (let i = 0; i < batch.numRows; i += units) images[(r0 + i) / units] = iv[i];
    r0 += batch.numRows;
  }
  return { images, units, height: h, width: w, maps, maxima };
}

/** The feature store of a collect-activations output. */
export function featureIndex(up: UpstreamOutputs): FeatureIndex {
  let path: string;
  try {
    path = up.file(INDEX_FILE);
  } catch {
    const noMaps = (up.meta.features as { maps?: boolean } | undefined)?.maps === false;
    throw new Error(`input '${up.stageId}' (${up.kind}) has no ${INDEX_FILE}: ${noMaps ? 'it ran with maps: false (pooled values only)' : 'connect a collect-activations stage'}`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as FeatureIndex;
}

/** collect-activations `maps: false`: nothing stored; quantile-thresholds and label-units recompute the maps (forward.ts). */
export interface RecomputeSource {
  layers: LayerEntry[];
  dtype: MapDtype;
  /** collect-activations' model batch size (the recomputed batches are its own). */
  batchSize: number;
}

/** Where a collect-activations output's maps come from: its stored parts, or (maps: false) a recompute. */
export type FeatureSource = { index: FeatureIndex; recompute?: undefined } | { index?: undefined; recompute: RecomputeSource };

export function featureSource(up: UpstreamOutputs): FeatureSource {
  const f = up.meta.features as { maps?: boolean; layers?: LayerEntry[]; dtype?: MapDtype; batchSize?: number } | undefined;
  if (f?.maps !== false) return { index: featureIndex(up) };
  if (!f.layers || !f.dtype || !f.batchSize) throw new Error(`input '${up.stageId}' (${up.kind}) ran with maps: false but recorded no layers / dtype / batchSize (meta.features): rerun it`);
  return { recompute: { layers: f.layers, dtype: f.dtype, batchSize: f.batchSize } };
}

/** The dataset indices of a collect-activations `images` table, in order. */
export function listedImages(t: Table): number[] {
  const col = t.getChild('image')!;
  const out: number[] = [];
  for (let r = 0; r < t.numRows; r++) out.push(Number(col.get(r)));
  return out;
}

export function partPath(up: UpstreamOutputs, layer: LayerEntry, part: PartEntry): string {
  return join(up.dir, 'maps', layer.dir, part.file);
}

// ───────────────────────────── concepts ─────────────────────────────

/**
 * The ConceptSpace of a Broden dataset (label numbers index `names`; 0 = unlabelled), with NetDissect-Lite's category
 * rule (loader/data_loader.py: labelcat = onehot(primary_categories_per_index())): every label counts under its
 * primary category only — the open category where its coverage (c_<category>.csv) is largest, ties and labels of no
 * open category going to the later category (Lite's max over (coverage, category index)).
 */
export function conceptSpace(ds: Pick<BrodenDataset, 'concepts' | 'concept' | 'unlabelledName'>, categories: readonly string[]): ConceptSpace {
  let maxId = 0;
  for (let id = 1; id < 65536; id++) if (ds.concept(id)) maxId = id;
  const names: string[] = new Array(maxId + 1).fill('');
  names[0] = ds.unlabelledName ?? ''; // Lite names a unit without any IoU > 0 after label 0
  const last = categories.length - 1;
  const primaryCategory = new Int32Array(maxId + 1).fill(last);
  for (const c of ds.concepts) {
    names[c.id] = c.name;
    let best = -1;
    let bestV = -Infinity;
    categories.forEach((cat, ci) => {
      const v = c.categories.includes(cat) ? (c.categoryCoverage?.[cat] ?? (cat === c.category ? 1 : 0)) : 0;
      if (v >= bestV) {
        bestV = v;
        best = ci;
      }
    });
    primaryCategory[c.id] = best;
  }
  const labelCategories = Array.from(primaryCategory, (c) => [c]);
  return { names, categories: [...categories], labelCategories, primaryCategory };
}

export { annotations, decodeSimplePng, readLabelsFast, knownLabels } from './labels.ts';
export { TopMaps } from './topmaps.ts';

// ───────────────────────────── tables ─────────────────────────────

/** A table of variable-length float32 maps (List<Float32>) plus scalar columns, built without per-value appends. */
export function mapsTable(
  cols: { name: string; type: 'int32' | 'float64' | 'utf8'; values: (number | string)[] }[],
  mapName: string,
  maps: Float32Array[],
): Table {
  const rows = maps.length;
  const fields: Field[] = [];
  const children = [];
  for (const c of cols) {
    if (c.values.length !== rows) throw new Error(`mapsTable: column ${c.name} has ${c.values.length} rows, expected ${rows}`);
    if (c.type === 'utf8') {
      const enc = new TextEncoder();
      const bytes = c.values.map((v) => enc.encode(String(v)));
      const offsets = new Int32Array(rows + 1);
      for (let i = 0; i < rows; i++) offsets[i + 1] = offsets[i] + bytes[i].length;
      const data = new Uint8Array(offsets[rows]);
      bytes.forEach((b, i) => data.set(b, offsets[i]));
      fields.push(new Field(c.name, new Utf8(), false));
      children.push(makeData({ type: new Utf8(), length: rows, nullCount: 0, valueOffsets: offsets, data }));
    } else if (c.type === 'int32') {
      fields.push(new Field(c.name, new Int32(), false));
      children.push(makeData({ type: new Int32(), length: rows, nullCount: 0, data: Int32Array.from(c.values as number[]) }));
    } else {
      fields.push(new Field(c.name, new Float64(), false));
      children.push(makeData({ type: new Float64(), length: rows, nullCount: 0, data: Float64Array.from(c.values as number[]) }));
    }
  }
  const offsets = new Int32Array(rows + 1);
  for (let i = 0; i < rows; i++) offsets[i + 1] = offsets[i] + maps[i].length;
  const flat = new Float32Array(offsets[rows]);
  maps.forEach((m, i) => flat.set(m, offsets[i]));
  const listType = listOf(new Float32());
  fields.push(new Field(mapName, listType, false));
  children.push(makeData({ type: listType, length: rows, nullCount: 0, valueOffsets: offsets, child: makeData({ type: new Float32(), length: flat.length, nullCount: 0, data: flat }) }));
  const schema = new Schema(fields);
  if (rows === 0) return new Table(schema);
  return new Table([new RecordBatch(schema, makeData({ type: new Struct(fields), length: rows, nullCount: 0, children }))]);
}

/**
 * Rows of a label-units (or describe-units) `units` table as UnitLabels grouped by layer (layer order of first
 * appearance). describe-units has no IoU: its `similarity` fills `iou` (only orders units).
 */
export function unitsByLayer(t: Table): Map<string, UnitLabel[]> {
  const out = new Map<string, UnitLabel[]>();
  const col = (n: string) => {
    const c = t.getChild(n);
    if (!c) throw new Error(`units table has no column '${n}' (is the input a label-units or describe-units stage?)`);
    return c;
  };
  const layer = col('layer');
  const unit = col('unit');
  const label = col('label');
  const category = col('category');
  const iou = col(t.getChild('iou') ? 'iou' : 'similarity');
  const interp = col('interpretable');
  for (let i = 0; i < t.numRows; i++) {
    const l = String(layer.get(i));
    let a = out.get(l);
    if (!a) out.set(l, (a = []));
    a.push({
      unit: Number(unit.get(i)),
      label: -1,
      name: String(label.get(i)),
      category: String(category.get(i)),
      iou: Number(iou.get(i)),
      interpretable: Boolean(interp.get(i)),
      perCategory: [],
    });
  }
  return out;
}
