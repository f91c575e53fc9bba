// The executor of ctx.map's item modules (src/engine/executor.ts, pool.ts): the same item module run in the stage's
// thread and on a pool of 1–3 worker threads gives the same tables (bytes), bad items, files and sums; the pool's
// workers each get cores/workers intra-op threads; a module whose factory is missing fails the map with its name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, Int32, Schema, Utf8, type Table } from 'apache-arrow';
import { tableToBytes } from '../../src/arrow/io.ts';
import { runMap } from '../../src/engine/map.ts';
import { threadsPerWorker } from '../../src/engine/pool.ts';
import * as mod from './fixtures/item-module.ts';

const schema = new Schema([new Field('id', new Utf8(), false), new Field('v', new Int32(), false)]);

async function run(workers: number, factory = 'createSquare', output?: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'xai-exec-'));
  const tables: Record<string, Table> = {};
  const files: Record<string, string> = {};
  try {
    const r = await runMap(
      { table: 't', items: Array.from({ length: 11 }, (_, i) => i), id: (i) => `i${i}`, schema, chunkSize: 4, batchSize: 2, worker: { module: mod, factory, config: { offset: 7 } }, ...(output === undefined ? {} : { output }) },
      {
        stageId: 's',
        dir,
        signal: new AbortController().signal,
        failOnItemError: false,
        progress: () => {},
        writeTable: async (name, t) => void (tables[name] = t),
        writeFile: async (rel, data) => void (files[rel] = new TextDecoder().decode(data)),
        workers,
        stats: () => {},
      },
    );
    const chunk0 = JSON.parse(readFileSync(join(dir, 't', 'chunk-000000000.json'), 'utf8'));
    const batches: number[] = [];
    for await (const b of r.batches()) batches.push(...b.toArray().map((x) => x.toJSON().v as number));
    return { r, tables, files, chunk0, batches, bytes: Buffer.from(tableToBytes(r.table)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('executor: an item module gives the same table, bad items, files and sums in this thread and on 2 or 3 worker threads', async () => {
  const one = await run(1);
  // hand-derived: v = i² + 7 for every item but 3
  assert.deepEqual(
    one.r.table.toArray().map((x) => x.toJSON().v),
    [0, 1, 2, 4, 5, 6, 7, 8, 9, 10].map((i) => i * i + 7),
  );
  assert.deepEqual(one.r.errors, [{ item: 'i3', message: 'three is bad' }]);
  assert.equal(Object.keys(one.files).length, 10);
  assert.equal(one.files['files/i5.txt'], 'item 5\n');
  assert.equal(one.r.sums.n, 10);
  assert.equal(one.r.sums.threads, 0, 'in the stage thread the runner keeps its default threads');
  assert.deepEqual(one.chunk0.ids, ['i0', 'i1', 'i2', 'i3']);
  assert.equal(one.chunk0.times.length, 4);
  for (const workers of [2, 3]) {
    const many = await run(workers);
    assert.deepEqual(Buffer.from(tableToBytes(many.r.table)), Buffer.from(tableToBytes(one.r.table)), `table with ${workers} workers`);
    assert.deepEqual(Buffer.from(tableToBytes(many.tables.t_errors)), Buffer.from(tableToBytes(one.tables.t_errors)));
    assert.deepEqual(many.r.errors, one.r.errors);
    assert.deepEqual(many.files, one.files);
    assert.equal(many.r.sums.n, 10);
    assert.equal(many.r.sums.threads, 10 * threadsPerWorker(workers));
    assert.deepEqual(many.chunk0.ids, one.chunk0.ids);
    assert.equal(many.r.computed, 11);
  }
});

test('totals: the items\' sums over the whole table, resumed chunks included (sums: this execution\'s items only)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xai-totals-'));
  try {
    const opts = { table: 't', items: Array.from({ length: 11 }, (_, i) => i), id: (i: number) => `i${i}`, schema, chunkSize: 4, batchSize: 2, worker: { module: mod, factory: 'createSquare', config: { offset: 7 } } };
    const env = { stageId: 's', dir, signal: new AbortController().signal, failOnItemError: false, progress: () => {}, writeTable: async () => {}, writeFile: async () => {}, stats: () => {} };
    const first = await runMap(opts, env);
    assert.equal(first.sums.n, 10);
    assert.equal(first.totals.n, 10);
    // the work dir still holds every chunk record: a second execution resumes them all and computes nothing
    const again = await runMap(opts, env);
    assert.equal(again.computed, 0);
    assert.equal(again.resumed, 11);
    assert.equal(again.sums.n, undefined);
    assert.equal(again.totals.n, 10, 'counted from the chunk records');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('live output: without resumed chunks the committed batches stream into the output writer as they come; a failing writer fails the map', async () => {
  for (const failAt of [-1, 0, 2]) {
    const dir = mkdtempSync(join(tmpdir(), 'xai-live-'));
    try {
      const got: number[] = [];
      let parts = 0;
      const r = runMap(
        { table: 't', items: Array.from({ length: 11 }, (_, i) => i), id: (i: number) => `i${i}`, schema, chunkSize: 4, flushMs: 1e9, batchSize: 2, worker: { module: mod, factory: 'createSquare', config: { offset: 7 } } },
        {
          stageId: 's', dir, signal: new AbortController().signal, failOnItemError: false, progress: () => {}, writeTable: async () => {}, writeFile: async () => {}, stats: () => {},
          writeTableParts: async (_name, _schema, ps) => {
            for await (const p of ps) {
              if (parts++ === failAt) throw new Error('disk full');
              const t = p as Table;
              got.push(...t.toArray().map((x) => x.toJSON().v as number));
            }
            return join(dir, 'out.arrow');
          },
        },
      );
      if (failAt >= 0) await assert.rejects(r, /disk full/);
      else {
        await r;
        assert.deepEqual(got, [0, 1, 2, 4, 5, 6, 7, 8, 9, 10].map((i) => i * i + 7));
        assert.equal(parts, 3, 'one part per committed chunk (4 + 4 + 3 items)');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('an intermediate map (output: false) is not written as an output; its rows are read batch by batch from the chunks', async () => {
  const out = await run(1);
  const mid = await run(1, 'createSquare', false);
  assert.deepEqual(Object.keys(out.tables).sort(), ['t', 't_errors']);
  assert.deepEqual(Object.keys(mid.tables), ['t_errors'], 'only the bad items are an output');
  assert.deepEqual(mid.batches, [0, 1, 2, 4, 5, 6, 7, 8, 9, 10].map((i) => i * i + 7));
  assert.deepEqual(mid.batches, out.batches);
  assert.deepEqual(mid.bytes, out.bytes);
});

test('executor: threads per worker split the cores (at least 1)', () => {
  assert.equal(threadsPerWorker(2, 16), 8);
  assert.equal(threadsPerWorker(3, 16), 5);
  assert.equal(threadsPerWorker(4, 2), 1);
});

test('executor: a missing factory fails the map naming it, in this thread and on the pool', async () => {
  await assert.rejects(run(1, 'createNothing'), /has no factory 'createNothing'/);
  await assert.rejects(run(2, 'createNothing'), /has no factory 'createNothing'/);
});

test('streamed table output: chunks written batch by batch give the bytes of the concatenated table (and of an empty one)', async () => {
  const { makeContext } = await import('../../src/engine/context.ts');
  const { concatTables, tableFromRows, readArrowFile } = await import('../../src/arrow/io.ts');
  const dir = mkdtempSync(join(tmpdir(), 'xai-stream-'));
  try {
    const { ctx } = makeContext({
      stageId: 's', kind: 'k', key: 'abc', params: { a: 1 }, inputs: {}, outDir: join(dir, 'out'), entryDir: join(dir, 'entry'), mapDir: join(dir, 'map'),
      root: dir, signal: new AbortController().signal, bus: { emit() {} } as never, failOnItemError: false, pipeline: 'p', version: '0',
    });
    const parts = [[0], [1], [2], [3], [4], [5]].map((xs) => tableFromRows(xs.map((i) => ({ id: `i${i}`, v: i })), schema));
    // through ctx.map: 6 items in chunks of 2 (a record batch per item), then the same batches written whole
    const r = await ctx.map({ table: 'tab_a', items: [0, 1, 2, 3, 4, 5], id: (i) => `i${i}`, schema, chunkSize: 2, fn: async (i) => [{ id: `i${i}`, v: i }] });
    await ctx.out.table('tab_b', concatTables(parts, schema));
    const streamed = readFileSync(join(dir, 'out', 'tab_a.arrow'));
    const whole = readFileSync(join(dir, 'out', 'tab_b.arrow'));
    // the same bytes but for the table name in the schema metadata (xai.table, names of equal length)
    assert.ok(streamed.equals(Buffer.from(whole.toString('latin1').replaceAll('tab_b', 'tab_a'), 'latin1')));
    assert.ok(!streamed.equals(whole));
    assert.deepEqual(readArrowFile(join(dir, 'out', 'tab_a.arrow')).toArray().map((x) => x.toJSON()), [0, 1, 2, 3, 4, 5].map((i) => ({ id: `i${i}`, v: i })));
    assert.equal(r.table.numRows, 6);
    const seen: number[] = [];
    for await (const b of r.batches()) seen.push(b.numRows);
    assert.deepEqual(seen, [1, 1, 1, 1, 1, 1], 'one record batch per unit (here an item), read one at a time');
    assert.equal(r.table.schema.metadata.get('xai.table'), 'tab_a');
    const empty = await ctx.map({ table: 'empty', items: [0], id: () => 'x', schema, fn: async () => [] });
    assert.equal(empty.table.numRows, 0);
    await ctx.out.table('emptx', tableFromRows([], schema));
    const e2 = readFileSync(join(dir, 'out', 'emptx.arrow')).toString('latin1').replaceAll('emptx', 'empty');
    assert.ok(readFileSync(join(dir, 'out', 'empty.arrow')).equals(Buffer.from(e2, 'latin1')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fine-grained resume: a chunk is written after flushMs of work (variable boundaries in the records); a kill loses only the open range', async () => {
  const { readdirSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'xai-flush-'));
  const dir2 = mkdtempSync(join(tmpdir(), 'xai-flush-b-'));
  try {
    let clock = 0; // a fake clock: each item "takes" 700 ms
    const items = Array.from({ length: 10 }, (_, i) => i);
    const env = (signal: AbortSignal, d = dir) => ({
      stageId: 's', dir: d, signal, failOnItemError: false, progress: () => {}, writeTable: async () => {}, stats: () => {}, now: () => clock,
    });
    const ac = new AbortController();
    let calls = 0;
    const opts = (killAt?: number) => ({
      table: 't', items, id: (i: number) => `i${i}`, schema, chunkSize: 16, flushMs: 2000,
      fn: async (i: number) => {
        calls++;
        clock += 700;
        if (i === killAt) {
          ac.abort(new Error('killed'));
          throw new Error('killed');
        }
        return [{ id: `i${i}`, v: i }];
      },
    });
    await assert.rejects(runMap(opts(7), env(ac.signal)), /killed/);
    // 2100 ms after the start: items 0-2 written; 2100 ms later 3-5; item 6 was done but its range not yet written
    const chunks = readdirSync(join(dir, 't')).filter((f) => f.endsWith('.json') && f.startsWith('chunk-')).sort();
    assert.deepEqual(chunks, ['chunk-000000000.json', 'chunk-000000003.json']);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 't', chunks[1]), 'utf8')).ids, ['i3', 'i4', 'i5']);
    calls = 0;
    const r = await runMap(opts(), env(new AbortController().signal));
    assert.equal(r.resumed, 6);
    assert.equal(r.computed, 4);
    assert.equal(calls, 4, 'only items 6-9 computed again');
    const fresh = await runMap(opts(), env(new AbortController().signal, dir2));
    assert.deepEqual(Buffer.from(tableToBytes(r.table)), Buffer.from(tableToBytes(fresh.table)), 'resumed table = uninterrupted table, bytes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(dir2, { recursive: true, force: true });
  }
});

test('fold: a reduction in fn resumes from its checkpoint; chunks recorded after the checkpoint are dropped and folded again (each item once)', async () => {
  for (const saveCost of [0, 150]) {
    const dir = mkdtempSync(join(tmpdir(), 'xai-fold-'));
    try {
      let clock = 0; // a fake clock: each item "takes" 700 ms, a checkpoint `saveCost` ms
      const items = Array.from({ length: 10 }, (_, i) => i);
      const env = (signal: AbortSignal) => ({ stageId: 's', dir, signal, failOnItemError: false, progress: () => {}, writeTable: async () => {}, stats: () => {}, now: () => clock });
      let folded: number[] = [];
      const saves: number[] = [];
      const ac = new AbortController();
      const opts = (killAt?: number) => ({
        table: 't', items, id: (i: number) => `i${i}`, schema, chunkSize: 16, flushMs: 2000,
        fold: {
          save: () => {
            clock += saveCost;
            saves.push(folded.length);
            return [Buffer.from(JSON.stringify(folded))];
          },
          load: (b: Uint8Array) => void (folded = JSON.parse(Buffer.from(b).toString('utf8'))),
        },
        fn: async (i: number) => {
          clock += 700;
          if (i === killAt) {
            ac.abort(new Error('killed'));
            throw new Error('killed');
          }
          folded.push(i);
          return [{ id: `i${i}`, v: i }];
        },
      });
      await assert.rejects(runMap(opts(7), env(ac.signal)), /killed/);
      // chunks [0, 3) at 2100 ms and [3, 6) at 4200 ms; checkpoints after both (free) or only the first (150 ms each:
      // the next one is due 20 × 150 = 3000 ms later)
      assert.deepEqual(saves, saveCost ? [3] : [3, 6]);
      folded = []; // a new process: only the checkpoint remains
      const r = await runMap(opts(), env(new AbortController().signal));
      assert.equal(r.resumed, saveCost ? 3 : 6);
      assert.deepEqual(folded, items, `saveCost ${saveCost}: every item folded exactly once, in order`);
      assert.deepEqual(r.table.toArray().map((x: any) => x.v), items);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
