// Table writers for `xai export` and a pipeline's `export:` block: Parquet (parquet-wasm: Arrow's own Rust writer,
// every type kept — tensors as list columns, their shape in the key-value metadata and in the embedded Arrow schema,
// so pyarrow restores arrow.fixed_shape_tensor), CSV (scalar columns only), NumPy .npy (tensor columns: one array
// [rows, ...shape] each) and JSON Lines (tensors as nested arrays of their shape).
import { DataType, type Field, type Table, Type, tableToIPC } from 'apache-arrow';
import { tensorShape } from '../arrow/conventions.ts';
import { toJsonValue } from '../arrow/io.ts';

export const FORMATS = ['parquet', 'csv', 'npy', 'jsonl'] as const;
export type Format = (typeof FORMATS)[number];

/** A request the table cannot satisfy (a tensor column for CSV, no tensor for NPY): a usage error, not a crash. */
export class ExportRefused extends Error {}

/** Columns that are not scalars (lists, tensors, structs, maps). */
export function nonScalarColumns(t: Table): string[] {
  return t.schema.fields.filter((f) => isNested(f.type)).map((f) => f.name);
}
function isNested(t: DataType): boolean {
  return [Type.List, Type.FixedSizeList, Type.Struct, Type.Map, Type.LargeList, Type.Union].includes(t.typeId);
}

/** Tensor columns with their shapes (arrow.fixed_shape_tensor fields). */
export function tensorColumns(t: Table): { name: string; shape: number[]; dim_names: string[]; field: Field }[] {
  return t.schema.fields.flatMap((f) => {
    const s = tensorShape(f);
    return s ? [{ name: f.name, ...s, field: f }] : [];
  });
}

export async function toParquet(t: Table): Promise<Uint8Array> {
  const pw = (await import('parquet-wasm/node')).default as typeof import('parquet-wasm/node');
  const kv = new Map<string, string>();
  for (const [k, v] of t.schema.metadata) kv.set(k, v);
  for (const c of tensorColumns(t)) kv.set(`xai.shape.${c.name}`, JSON.stringify({ shape: c.shape, dim_names: c.dim_names }));
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).setKeyValueMetadata(kv).setCreatedBy('xai-pipeline').build();
  return pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(t, 'stream')), props);
}

function csvCell(v: unknown): string {
  const j = toJsonValue(v);
  if (j === null) return '';
  const s = typeof j === 'string' ? j : typeof j === 'number' || typeof j === 'boolean' ? String(j) : JSON.stringify(j);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV with a header row (RFC 4180 quoting); refuses tables with non-scalar columns, naming them. */
export function toCsv(t: Table): string {
  const bad = nonScalarColumns(t);
  if (bad.length) throw new ExportRefused(`CSV takes scalar columns only; ${bad.join(', ')} ${bad.length === 1 ? 'is a list or tensor' : 'are lists or tensors'} (use --format parquet, npy or jsonl, or --columns to choose scalar ones)`);
  const names = t.schema.fields.map((f) => f.name);
  const cols = names.map((n) => t.getChild(n)!);
  const lines = [names.map(csvCell).join(',')];
  for (let i = 0; i < t.numRows; i++) lines.push(cols.map((c) => csvCell(c.get(i))).join(','));
  return lines.join('\n') + '\n';
}

const NPY_DTYPE: Partial<Record<string, string>> = {
  Float32: '<f4',
  Float64: '<f8',
  Int8: '|i1',
  Int16: '<i2',
  Int32: '<i4',
  Int64: '<i8',
  Uint8: '|u1',
  Uint16: '<u2',
  Uint32: '<u4',
};

/** One NumPy array [rows, ...shape] per tensor column (NPY format 1.0, C order); refuses a table without tensors. */
export function toNpy(t: Table): { column: string; bytes: Uint8Array }[] {
  const cols = tensorColumns(t);
  if (!cols.length) throw new ExportRefused(`NPY is for tensor columns and this table has none (columns: ${t.schema.fields.map((f) => f.name).join(', ')}); use --format parquet, csv or jsonl`);
  return cols.map((c) => {
    const child = (c.field.type as unknown as { children: Field[] }).children[0];
    const descr = NPY_DTYPE[String(child.type)];
    if (!descr) throw new ExportRefused(`column ${c.name}: element type ${String(child.type)} has no NPY dtype here`);
    const size = c.shape.reduce((a, b) => a * b, 1);
    const header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${[t.numRows, ...c.shape].join(', ')}${c.shape.length ? '' : ','}), }`;
    // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n
    const pad = 64 - ((10 + header.length + 1) % 64);
    const h = header + ' '.repeat(pad % 64) + '\n';
    const vec = t.getChild(c.name)!;
    const elem = Number(descr.slice(2));
    const body = new Uint8Array(t.numRows * size * elem);
    let row = 0;
    for (const d of vec.data) {
      const values = d.children[0].values as ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; BYTES_PER_ELEMENT: number };
      const start = d.children[0].offset + d.offset * size; // a sliced batch's rows start at its offset
      const src = new Uint8Array(values.buffer, values.byteOffset + start * elem, d.length * size * elem);
      body.set(src, row * size * elem);
      // null rows stay zero
      if (d.nullCount > 0) for (let i = 0; i < d.length; i++) if (!d.getValid(i)) body.fill(0, (row + i) * size * elem, (row + i + 1) * size * elem);
      row += d.length;
    }
    const out = new Uint8Array(10 + h.length + body.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
    new DataView(out.buffer).setUint16(8, h.length, true);
    out.set(new TextEncoder().encode(h), 10);
    out.set(body, 10 + h.length);
    return { column: c.name, bytes: out };
  });
}

function nest(flat: unknown[], shape: number[]): unknown {
  if (shape.length <= 1) return flat;
  const step = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}

/** JSON Lines: one object per row; tensors as nested arrays of their shape. */
export function toJsonl(t: Table): string {
  const names = t.schema.fields.map((f) => f.name);
  const shapes = new Map(tensorColumns(t).map((c) => [c.name, c.shape]));
  const cols = names.map((n) => t.getChild(n)!);
  const lines: string[] = [];
  for (let i = 0; i < t.numRows; i++) {
    const row: Record<string, unknown> = {};
    names.forEach((n, j) => {
      const v = toJsonValue(cols[j].get(i));
      const s = shapes.get(n);
      row[n] = s && Array.isArray(v) ? nest(v, s) : v;
    });
    lines.push(JSON.stringify(row));
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
