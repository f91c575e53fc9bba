// Arrow helpers: IPC file read/write, tables from rows + schema, concatenation, and a terminal pretty-printer
// for `xai show`.
import { readFileSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import {
  DataType,
  Field,
  FixedSizeList,
  Float32,
  RecordBatch,
  RecordBatchReader,
  Schema,
  Struct,
  Table,
  Type,
  makeBuilder,
  makeData,
  tableFromIPC,
  tableToIPC,
} from 'apache-arrow';

/** Serialises a table in the Arrow IPC *file* format (with footer). */
export function tableToBytes(table: Table): Uint8Array {
  return tableToIPC(table, 'file');
}

/** Writes `table` as an Arrow IPC file. */
export async function writeArrowFile(path: string, table: Table): Promise<void> {
  await writeFile(path, tableToBytes(table));
}

/** Reads an Arrow IPC file (file or stream format). */
export function readArrowFile(path: string): Table {
  return tableFromIPC(readFileSync(path));
}

/** The record batches of an Arrow IPC file, read one at a time (random access: the file is never loaded whole). */
export async function* readArrowBatches(path: string): AsyncGenerator<RecordBatch> {
  const fh = await open(path, 'r');
  try {
    const reader = await RecordBatchReader.from(fh);
    for await (const b of reader) yield b;
  } finally {
    await fh.close();
  }
}

/** Reads only the schema and row count of an Arrow IPC file. */
export function arrowFileInfo(path: string): { schema: Schema; rows: number } {
  const t = readArrowFile(path);
  return { schema: t.schema, rows: t.numRows };
}

function coerce(type: DataType, v: unknown): unknown {
  if (v === undefined) return null;
  if (v === null) return null;
  switch (type.typeId) {
    case Type.Int:
    case Type.Int64:
    case Type.Uint64: {
      const bw = (type as unknown as { bitWidth: number }).bitWidth;
      if (bw === 64 && typeof v === 'number') return BigInt(v);
      if (bw !== 64 && typeof v === 'bigint') return Number(v);
      return v;
    }
    case Type.Struct: {
      if (typeof v !== 'object') return v;
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const f of (type as Struct).children) out[f.name] = coerce(f.type, o[f.name]);
      return out;
    }
    default:
      return v;
  }
}

/**
 * Builds a table with exactly `schema` from row objects (keys = field names; missing/undefined → null).
 * Handles FixedSizeList<Float32> columns (pass a Float32Array or number[] per row), Int64 from numbers, nested
 * structs and lists. Throws naming the row and column when a value does not fit.
 */
export function tableFromRows(rows: readonly Record<string, unknown>[], schema: Schema): Table {
  if (rows.length === 0) return emptyTable(schema);
  const children = schema.fields.map((f: Field) => {
    const bulk = float32ListColumn(rows, f);
    if (bulk) return bulk;
    const b = makeBuilder({ type: f.type, nullValues: [null, undefined] });
    for (let i = 0; i < rows.length; i++) {
      const v = coerce(f.type, rows[i][f.name]);
      if (v === null && !f.nullable) throw new Error(`row ${i}: column '${f.name}' is not nullable but got ${String(rows[i][f.name])}`);
      try {
        b.append(v as never);
      } catch (e) {
        throw new Error(`row ${i}: column '${f.name}' (${String(f.type)}): ${(e as Error).message}`);
      }
    }
    const data = b.flush();
    b.finish();
    return data;
  });
  const data = makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children });
  return new Table([new RecordBatch(schema, data)]);
}

/**
 * A FixedSizeList<Float32> column (tensors: CAM maps, weights) whose row values are all Float32Arrays of the list size
 * or null, built with one bulk copy per row instead of the builder's per-value appends (≈ 2 ms per 224² map); null
 * rows hold zeros. Undefined (the builder handles it) for any other column or value.
 */
function float32ListColumn(rows: readonly Record<string, unknown>[], f: Field) {
  if (f.type.typeId !== Type.FixedSizeList) return undefined;
  const t = f.type as FixedSizeList;
  const child = t.children[0];
  if (child.type.typeId !== Type.Float || (child.type as Float32).precision !== 1) return undefined;
  const size = t.listSize;
  let nulls = 0;
  for (const r of rows) {
    const v = r[f.name];
    if (v === null || v === undefined) nulls++;
    else if (!(v instanceof Float32Array) || v.length !== size) return undefined;
  }
  if (nulls && !f.nullable) return undefined; // the builder path names the row
  const values = new Float32Array(rows.length * size);
  const valid = new Uint8Array(Math.ceil(rows.length / 8));
  rows.forEach((r, i) => {
    const v = r[f.name] as Float32Array | null | undefined;
    if (v === null || v === undefined) return;
    values.set(v, i * size);
    valid[i >> 3] |= 1 << (i & 7);
  });
  const childData = makeData({ type: child.type as Float32, length: values.length, nullCount: 0, data: values });
  return makeData({ type: t, length: rows.length, nullCount: nulls, nullBitmap: nulls ? valid : undefined, child: childData });
}

/** A table with `schema` and no rows. */
export function emptyTable(schema: Schema): Table {
  return new Table(schema);
}

/** Concatenates tables with the same schema (record batches kept as they are; deterministic). */
export function concatTables(tables: readonly Table[], schema?: Schema): Table {
  const nonEmpty = tables.filter((t) => t.batches.length > 0);
  const s = schema ?? tables[0]?.schema;
  if (!s) throw new Error('concatTables: no tables and no schema');
  if (nonEmpty.length === 0) return emptyTable(s);
  const batches = nonEmpty.flatMap((t) => t.batches).filter((b) => b.numRows > 0);
  if (batches.length === 0) return emptyTable(s);
  // Re-wrap batches under the one schema so metadata/nullability are those of `schema`.
  return new Table(batches.map((b) => new RecordBatch(s, b.data)));
}

// ---------------------------------------------------------------------------------------------------------------
// Pretty printing

export interface FormatOptions {
  limit?: number;
  columns?: string[];
  /** Max characters per cell (default 40). */
  width?: number;
}

function selectColumns(table: Table, columns?: string[]): Table {
  if (!columns || columns.length === 0) return table;
  const names = table.schema.fields.map((f) => f.name);
  const missing = columns.filter((c) => !names.includes(c));
  if (missing.length) throw new Error(`unknown column(s) ${missing.map((c) => `'${c}'`).join(', ')}; columns: ${names.join(', ')}`);
  return table.select(columns);
}

/** JSON-friendly value: bigint → number (or string when unsafe), typed arrays/vectors → arrays, rows → objects. */
export function toJsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => toJsonValue(x));
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const o = v as { toArray?: () => unknown; toJSON?: () => unknown; [Symbol.iterator]?: unknown };
    if (typeof o.toJSON === 'function') {
      const j = o.toJSON();
      if (Array.isArray(j)) return j.map(toJsonValue);
      if (j && typeof j === 'object') return Object.fromEntries(Object.entries(j).map(([k, x]) => [k, toJsonValue(x)]));
      return j;
    }
    if (typeof o.toArray === 'function') return toJsonValue(o.toArray());
  }
  return v;
}

/** Rows of a table as plain JSON objects. */
export function tableToJsonRows(table: Table, opts: FormatOptions = {}): Record<string, unknown>[] {
  const t = selectColumns(table, opts.columns);
  const n = Math.min(t.numRows, opts.limit ?? t.numRows);
  const names = t.schema.fields.map((f) => f.name);
  const cols = names.map((name) => t.getChild(name)!);
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const row: Record<string, unknown> = {};
    names.forEach((name, j) => (row[name] = toJsonValue(cols[j].get(i))));
    out.push(row);
  }
  return out;
}

function fmtNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(3);
  return String(Number(x.toPrecision(5)));
}

function cell(v: unknown, width: number): string {
  let s: string;
  const j = toJsonValue(v);
  if (j === null) s = '∅';
  else if (typeof j === 'number') s = fmtNumber(j);
  else if (typeof j === 'string') s = j;
  else if (Array.isArray(j)) {
    const parts: string[] = [];
    let len = 1;
    for (const x of j) {
      const p = typeof x === 'number' ? fmtNumber(x) : JSON.stringify(x);
      if (len + p.length + 2 > width - 8) {
        parts.push('…');
        break;
      }
      parts.push(p);
      len += p.length + 2;
    }
    s = `[${parts.join(', ')}]${parts.at(-1) === '…' ? ` n=${j.length}` : ''}`;
  } else s = JSON.stringify(j);
  s = s.replace(/\s+/g, ' ');
  return s.length > width ? s.slice(0, width - 1) + '…' : s;
}

/** Schema as lines `name: type` (nullable marked with `?`). */
export function formatSchema(schema: Schema): string {
  const lines = schema.fields.map((f) => `  ${f.name}: ${String(f.type)}${f.nullable ? '?' : ''}`);
  const meta = [...schema.metadata.entries()];
  if (meta.length) lines.push(`  metadata: ${meta.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  return lines.join('\n');
}

/** Schema, row count and the first rows as an aligned text table. */
export function formatTable(table: Table, opts: FormatOptions = {}): string {
  const t = selectColumns(table, opts.columns);
  const width = opts.width ?? 40;
  const limit = Math.min(t.numRows, opts.limit ?? 20);
  const names = t.schema.fields.map((f) => f.name);
  const cols = names.map((name) => t.getChild(name)!);
  const grid: string[][] = [names];
  for (let i = 0; i < limit; i++) grid.push(cols.map((c) => cell(c.get(i), width)));
  const widths = names.map((_, j) => Math.max(...grid.map((r) => r[j].length)));
  const numeric = t.schema.fields.map((f) => DataType.isInt(f.type) || DataType.isFloat(f.type));
  const line = (r: string[]) => r.map((c, j) => (numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd();
  const out = [`schema (${t.numRows} rows):`, formatSchema(t.schema), ''];
  if (names.length) {
    out.push(line(grid[0]), widths.map((w) => '─'.repeat(w)).join('  '));
    for (const r of grid.slice(1)) out.push(line(r));
  }
  if (limit < t.numRows) out.push(`… ${t.numRows - limit} more rows (--limit N)`);
  return out.join('\n') + '\n';
}
