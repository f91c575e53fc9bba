// Export formats on hand-made tables: CSV quoting and its refusal of tensor columns, the NPY byte layout (and numpy's
// reading of it where python3 has numpy), JSON Lines nesting, Parquet read back by DuckDB (values, list lengths, the
// shape in the key-value metadata).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, Float32, Int32, Schema, Utf8 } from 'apache-arrow';
import { tableFromRows } from '../../src/arrow/io.ts';
import { tensorField } from '../../src/arrow/conventions.ts';
import { ExportRefused, toCsv, toJsonl, toNpy, toParquet } from '../../src/export/formats.ts';

const dir = mkdtempSync(join(tmpdir(), 'xai-export-formats-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const schema = new Schema([new Field('id', new Utf8(), false), new Field('n', new Int32(), true), tensorField('map', new Float32(), [2, 3], ['height', 'width'])]);
const table = tableFromRows(
  [
    { id: 'a,"b"', n: 1, map: Float32Array.from([0, 1, 2, 3, 4, 5]) },
    { id: 'c', n: null, map: Float32Array.from([6, 7, 8, 9, 10, 11]) },
  ],
  schema,
);

test('CSV: RFC 4180 quoting, empty for null; a tensor column is refused by name', () => {
  assert.throws(() => toCsv(table), (e: unknown) => e instanceof ExportRefused && /map is a list or tensor/.test((e as Error).message));
  assert.equal(toCsv(table.select(['id', 'n'])), 'id,n\n"a,""b""",1\nc,\n');
});

test('NPY 1.0: magic, little-endian header length, the dict padded to 64 bytes, C-order float32 data', () => {
  const [a] = toNpy(table);
  assert.equal(a.column, 'map');
  const b = a.bytes;
  assert.deepEqual([...b.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const hlen = b[8] | (b[9] << 8);
  assert.equal((10 + hlen) % 64, 0);
  const header = new TextDecoder().decode(b.subarray(10, 10 + hlen));
  assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 2, 3\), \} *\n$/);
  const data = new Float32Array(b.slice(10 + hlen).buffer);
  assert.deepEqual([...data], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.throws(() => toNpy(table.select(['id', 'n'])), /NPY is for tensor columns and this table has none/);
  const py = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (py.status !== 0) {
    console.log('# numpy check skipped: python3 with numpy is not available');
    return;
  }
  const f = join(dir, 'map.npy');
  writeFileSync(f, b);
  const r = spawnSync('python3', ['-c', `import numpy as np; a = np.load(${JSON.stringify(f)}); print(a.dtype, a.shape, a[1, 0, 2], a.sum())`], { encoding: 'utf8' });
  assert.equal(r.stdout.trim(), 'float32 (2, 2, 3) 8.0 66.0', r.stderr);
});

test('JSON Lines: a tensor as nested arrays of its shape', () => {
  const lines = toJsonl(table).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { id: 'a,"b"', n: 1, map: [[0, 1, 2], [3, 4, 5]] });
  assert.deepEqual(lines[1].n, null);
});

test('Parquet (parquet-wasm) read by DuckDB: rows, values, list length, the shape in the key-value metadata', async () => {
  const f = join(dir, 't.parquet');
  writeFileSync(f, await toParquet(table));
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const rows = (await con.runAndReadAll(`select id, n, len(map) as k, list_sum(map) as s from '${f}' order by id`)).getRowObjectsJson();
  assert.deepEqual(rows, [
    { id: 'a,"b"', n: 1, k: '6', s: 15 },
    { id: 'c', n: null, k: '6', s: 51 },
  ]);
  const kv = (await con.runAndReadAll(`select decode(key) as key, decode(value) as value from parquet_kv_metadata('${f}')`)).getRowObjectsJson();
  const shape = kv.find((r) => r.key === 'xai.shape.map');
  assert.deepEqual(JSON.parse(String(shape?.value)), { shape: [2, 3], dim_names: ['height', 'width'] });
  con.closeSync();
});
