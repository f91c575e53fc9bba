// BatchCursor and readArrowHead (src/arrow/io.ts): rows looked up by key while reading record batches one at a time. A table whose keys
// are grouped, asked in order, is read once front to back (batches counted); an ungrouped table or an out-of-order
// request falls back to an index of the whole table and still answers right; a missing key has no rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Field, Int32, RecordBatch, Schema, Utf8 } from 'apache-arrow';
import { BatchCursor, tableFromRows } from '../../src/arrow/io.ts';

const schema = new Schema([new Field('id', new Utf8(), false), new Field('v', new Int32(), false)]);
/** Batches of [id, v] rows; `opened` counts the passes, `read` the batches handed out. */
function source(batches: [string, number][][]) {
  const bs = batches.map((rows) => tableFromRows(rows.map(([id, v]) => ({ id, v })), schema).batches[0]);
  const stats = { opened: 0, read: 0 };
  const open = async function* (): AsyncGenerator<RecordBatch> {
    stats.opened++;
    for (const b of bs) {
      stats.read++;
      yield b;
    }
  };
  return { open, stats };
}
const values = (ats: { batch: RecordBatch; row: number }[]) => ats.map(({ batch, row }) => batch.getChild('v')!.get(row) as number);

test('grouped keys asked in order: one pass after the key scan, reading a batch only when it is needed, a key spanning two batches answered whole', async () => {
  const s = source([[['a', 1], ['a', 2], ['b', 3]], [['b', 4], ['c', 5]], [['d', 6]]]);
  const c = await BatchCursor.over(s.open, 'id');
  assert.deepEqual([...c.keys], ['a', 'b', 'c', 'd']);
  const before = s.stats.read;
  assert.deepEqual(values(await c.rows('a')), [1, 2]);
  assert.equal(s.stats.read - before, 1);
  assert.deepEqual(values(await c.rows('b')), [3, 4]);
  assert.equal(s.stats.read - before, 2, 'the third batch is not read yet');
  assert.deepEqual(values(await c.rows('x')), []);
  assert.equal(await c.get('c').then((at) => at && values([at])[0]), 5);
  assert.deepEqual(values(await c.rows('d')), [6]);
  assert.equal(s.stats.read - before, 3);
  assert.equal(s.stats.opened, 2);
});

test('calls made at once are served in call order', async () => {
  const s = source([[['a', 1]], [['b', 2]], [['c', 3]]]);
  const c = await BatchCursor.over(s.open, 'id');
  const [a, b, cc] = await Promise.all([c.rows('a'), c.rows('b'), c.rows('c')]);
  assert.deepEqual([values(a), values(b), values(cc)], [[1], [2], [3]]);
});

test('an ungrouped table, or a key asked out of order, falls back to an index of the whole table', async () => {
  const u = source([[['a', 1], ['b', 2]], [['a', 3]]]);
  const cu = await BatchCursor.over(u.open, 'id');
  assert.deepEqual(values(await cu.rows('b')), [2]);
  assert.deepEqual(values(await cu.rows('a')), [1, 3]);
  const o = source([[['a', 1]], [['b', 2]], [['c', 3]]]);
  const co = await BatchCursor.over(o.open, 'id');
  assert.deepEqual(values(await co.rows('c')), [3]);
  assert.deepEqual(values(await co.rows('a')), [1]);
  assert.deepEqual(values(await co.rows('b')), [2]);
});

test('readArrowHead keeps only the batches holding the first rows, and counts every row', async () => {
  const { concatTables, readArrowHead, tableToBytes } = await import('../../src/arrow/io.ts');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const part = (from: number) => tableFromRows([0, 1, 2, 3].map((i) => ({ id: `r${from + i}`, v: from + i })), schema);
  const dir = mkdtempSync(join(tmpdir(), 'xai-head-'));
  try {
    const f = join(dir, 't.arrow');
    writeFileSync(f, tableToBytes(concatTables([part(0), part(4), part(8)], schema)));
    const { head, rows } = await readArrowHead(f, 5);
    assert.equal(rows, 12);
    assert.equal(head.batches.length, 2, 'rows 0–7: the third batch is dropped');
    assert.deepEqual(head.toArray().map((r) => r.toJSON().v), [0, 1, 2, 3, 4, 5, 6, 7]);
    const none = await readArrowHead(f, 0);
    assert.equal(none.rows, 12);
    assert.equal(none.head.numRows, 0);
    assert.deepEqual(none.head.schema.fields.map((x) => x.name), ['id', 'v']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
