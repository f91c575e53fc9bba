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

type At = { batch: RecordBatch; row: number };

/**
 * Rows of a table looked up by a key column while reading its record batches one at a time (bounded memory), for
 * tables whose rows of one key are consecutive (as ctx.map writes them: an item's rows together) asked in the table's
 * order. A table not grouped so, or a key asked out of order, falls back to an index of the whole table in memory.
 * Calls are served one after another in the order they were made.
 */
export class BatchCursor {
  private it: AsyncIterator<RecordBatch> | undefined;
  private batch: RecordBatch | undefined;
  private row = 0; // next row of `batch` to look at
  private last = -1; // ordinal of the last key served
  private index: Map<string, At[]> | undefined; // the fallback
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly open: () => AsyncIterable<RecordBatch>,
    private readonly key: string,
    /** Key → its ordinal in the table (first appearance). */
    private readonly order: Map<string, number>,
    private readonly grouped: boolean,
    /** The table's schema (undefined when it has no batch). */
    readonly schema: Schema | undefined,
  ) {}

  /**
   * Scans the key column once (only the keys are kept), then serves lookups from a second pass. `visit` sees each
   * batch of that scan (for whatever else a caller needs from a whole pass, without reading the file once more).
   */
  static async over(open: () => AsyncIterable<RecordBatch>, key: string, visit?: (b: RecordBatch) => void): Promise<BatchCursor> {
    const order = new Map<string, number>();
    let schema: Schema | undefined;
    let grouped = true;
    let prev: string | undefined;
    for await (const b of open()) {
      schema ??= b.schema;
      const c = b.getChild(key);
      if (!c) throw new Error(`table has no column '${key}'`);
      for (let r = 0; r < b.numRows; r++) {
        const k = String(c.get(r));
        if (k !== prev && order.has(k)) grouped = false;
        if (!order.has(k)) order.set(k, order.size);
        prev = k;
      }
      visit?.(b);
    }
    return new BatchCursor(open, key, order, grouped, schema);
  }

  /** A new cursor over the same table from its start, reusing this one's key scan. */
  again(): BatchCursor {
    return new BatchCursor(this.open, this.key, this.order, this.grouped, this.schema);
  }

  /** The keys, in the table's order. */
  get keys(): ReadonlySet<string> {
    return new Set(this.order.keys());
  }

  /** The batch and row of `k`'s first row, or undefined when the table has no such row. */
  async get(k: string): Promise<At | undefined> {
    return (await this.rows(k))[0];
  }

  /** Every row of `k`, in table order. */
  rows(k: string): Promise<At[]> {
    const p = this.queue.then(() => this.seek(k));
    this.queue = p.catch(() => {});
    return p;
  }

  /** The current row, loading the next batch when this one is used up; false at the end. */
  private async current(): Promise<boolean> {
    this.it ??= this.open()[Symbol.asyncIterator]();
    while (!this.batch || this.row >= this.batch.numRows) {
      const n = await this.it.next();
      if (n.done) return false;
      this.batch = n.value;
      this.row = 0;
    }
    return true;
  }

  private async seek(k: string): Promise<At[]> {
    const ord = this.order.get(k);
    if (ord === undefined) return [];
    if (this.index || !this.grouped || ord < this.last) {
      if (!this.index) {
        await this.close();
        this.index = new Map();
        for await (const b of this.open()) {
          const c = b.getChild(this.key)!;
          for (let r = 0; r < b.numRows; r++) {
            const key = String(c.get(r));
            const l = this.index.get(key) ?? [];
            l.push({ batch: b, row: r });
            this.index.set(key, l);
          }
        }
      }
      return this.index.get(k) ?? [];
    }
    this.last = ord;
    const keyAt = () => String(this.batch!.getChild(this.key)!.get(this.row));
    for (;;) {
      if (!(await this.current())) return [];
      if (keyAt() === k) break;
      this.row++;
    }
    const out: At[] = [];
    while ((await this.current()) && keyAt() === k) out.push({ batch: this.batch!, row: this.row++ });
    return out;
  }

  async close(): Promise<void> {
    await this.it?.return?.();
    this.it = undefined;
  }
}

/**
 * The first `limit` rows of an Arrow IPC file (whole record batches, read one at a time) and its row count (the rest
 * of the batches are counted and dropped): memory bounded by `limit`, not by the file.
 */
export async function readArrowHead(path: string, limit: number): Promise<{ head: Table; rows: number }> {
  const kept: RecordBatch[] = [];
  let rows = 0;
  let schema: Schema | undefined;
  for await (const b of readArrowBatches(path)) {
    schema ??= b.schema;
    if (rows < limit) kept.push(b);
    rows += b.numRows;
  }
  if (!schema) return { head: readArrowFile(path), rows: 0 }; // no batch: the (small) file holds just the schema
  return { head: kept.length ? new Table(kept) : new Table(schema), rows };
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

/**
 * Schema, row count and the first rows as an aligned text table. `totalRows`: the whole table's row count when `table`
 * holds only its first rows (readArrowHead).
 */
export function formatTable(table: Table, opts: FormatOptions & { totalRows?: number } = {}): string {
  const t = selectColumns(table, opts.columns);
  const width = opts.width ?? 40;
  const limit = Math.min(t.numRows, opts.limit ?? 20);
  const total = opts.totalRows ?? t.numRows;
  const names = t.schema.fields.map((f) => f.name);
  const cols = names.map((name) => t.getChild(name)!);
  const grid: string[][] = [names];
  for (let i = 0; i < limit; i++) grid.push(cols.map((c) => cell(c.get(i), width)));
  const widths = names.map((_, j) => Math.max(...grid.map((r) => r[j].length)));
  const numeric = t.schema.fields.map((f) => DataType.isInt(f.type) || DataType.isFloat(f.type));
  const line = (r: string[]) => r.map((c, j) => (numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd();
  const out = [`schema (${total} rows):`, formatSchema(t.schema), ''];
  if (names.length) {
    out.push(line(grid[0]), widths.map((w) => '─'.repeat(w)).join('  '));
    for (const r of grid.slice(1)) out.push(line(r));
  }
  if (limit < total) out.push(`… ${total - limit} more rows (--limit N)`);
  return out.join('\n') + '\n';
}
