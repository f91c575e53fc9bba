// In-process unit tests of the engine's pieces: suggestions, merging, canonical JSON, DAG, Arrow helpers,
// schema closing, the TTY progress display.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, FixedSizeList, Float32, Int32, Int64, Schema, Utf8, tableFromIPC } from 'apache-arrow';
import { ConfigError, nearest, levenshtein } from '../../src/engine/errors.ts';
import { deepMerge } from '../../src/engine/pipeline.ts';
import { canonicalJson, stageKey } from '../../src/engine/fingerprint.ts';
import { findCycle, topoOrder, descendants } from '../../src/engine/dag.ts';
import { closeSchema, compile } from '../../src/engine/validate.ts';
import { concatTables, formatTable, tableFromRows, tableToBytes, tableToJsonRows } from '../../src/arrow/io.ts';
import { EventBus } from '../../src/engine/events.ts';
import { attachProgress } from '../../src/engine/progress.ts';
import { runMap } from '../../src/engine/map.ts';

test('nearest: Levenshtein suggestions, none when nothing is close', () => {
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(nearest('num_sampels', ['num_samples', 'seed', 'batch_size']), 'num_samples');
  assert.equal(nearest('Seed', ['seed', 'size']), 'seed');
  assert.equal(nearest('zzzzzz', ['count', 'offset']), undefined);
});

test('ConfigError formats file:line:col: path: detail (suggestion)', () => {
  const e = new ConfigError('unknown key', { file: 'pipelines/x.yaml', line: 12, column: 5, path: 'stages.lime.params.num_sampels', suggestion: "did you mean 'num_samples'?" });
  assert.equal(e.message, "pipelines/x.yaml:12:5: stages.lime.params.num_sampels: unknown key (did you mean 'num_samples'?)");
  assert.equal(e.exitCode, 2);
});

test('deepMerge: mappings merge key by key, lists and scalars are replaced, inputs untouched', () => {
  const a = { x: 1, m: { p: 1, q: [1, 2] }, l: [1] };
  const b = { m: { q: [3], r: 2 }, l: [9, 9] };
  assert.deepEqual(deepMerge(a, b), { x: 1, m: { p: 1, q: [3], r: 2 }, l: [9, 9] });
  assert.deepEqual(a, { x: 1, m: { p: 1, q: [1, 2] }, l: [1] });
});

test('canonicalJson is key-order independent; keys change with any key input', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
  const base = { kind: 'k', version: '1', code: 'c1', params: { a: 1, b: 2 }, upstream: { x: 'u1' }, reads: {} };
  const k = stageKey(base);
  assert.equal(stageKey({ ...base, params: { b: 2, a: 1 } }), k);
  assert.notEqual(stageKey({ ...base, version: '2' }), k);
  assert.notEqual(stageKey({ ...base, code: 'c2' }), k);
  assert.notEqual(stageKey({ ...base, params: { a: 1, b: 3 } }), k);
  assert.notEqual(stageKey({ ...base, upstream: { x: 'u2' } }), k);
  assert.notEqual(stageKey({ ...base, reads: { f: 'h' } }), k);
});

test('DAG: cycle found in data-flow order; topological order keeps file order among independents', () => {
  const nodes = [
    { id: 'a', deps: ['c'] },
    { id: 'b', deps: ['a'] },
    { id: 'c', deps: ['b'] },
  ];
  assert.deepEqual(findCycle(nodes), ['a', 'b', 'c', 'a']); // a feeds b feeds c feeds a
  const ok = [
    { id: 'z', deps: [] },
    { id: 'y', deps: ['x'] },
    { id: 'x', deps: [] },
    { id: 'w', deps: ['z', 'y'] },
  ];
  assert.equal(findCycle(ok), undefined);
  assert.deepEqual(topoOrder(ok).map((n) => n.id), ['z', 'x', 'y', 'w']);
  assert.deepEqual([...descendants(ok, 'x')].sort(), ['w', 'y']);
});

test('closeSchema rejects unknown keys at every level (not inside allOf) and keeps defaults', () => {
  const s = closeSchema({ type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'integer', default: 3 } } } } });
  const v = compile(s);
  const d: any = { a: {} };
  assert.equal(v(d), true);
  assert.deepEqual(d, { a: { b: 3 } });
  assert.equal(v({ a: { c: 1 } }), false);
  assert.equal(v({ z: 1 }), false);
  const all = compile(closeSchema({ allOf: [{ properties: { a: {} } }, { properties: { b: {} } }] }));
  assert.equal(all({ a: 1, b: 2 }), true);
});

test('Arrow helpers: rows → table (FixedSizeList<Float32>, Int64, nulls), concat, IPC round trip, formatting', () => {
  const schema = new Schema([
    new Field('id', new Utf8(), false),
    new Field('n', new Int64(), false),
    new Field('x', new Float32(), true),
    new Field('v', new FixedSizeList(3, new Field('item', new Float32(), false)), false),
  ]);
  const t1 = tableFromRows([{ id: 'a', n: 1, x: 0.5, v: new Float32Array([1, 2, 3]) }], schema);
  const t2 = tableFromRows([{ id: 'b', n: 2, x: null, v: [4, 5, 6] }], schema);
  const t = concatTables([t1, tableFromRows([], schema), t2], schema);
  const back = tableFromIPC(tableToBytes(t));
  assert.equal(back.numRows, 2);
  assert.deepEqual(tableToJsonRows(back), [
    { id: 'a', n: 1, x: 0.5, v: [1, 2, 3] },
    { id: 'b', n: 2, x: null, v: [4, 5, 6] },
  ]);
  assert.equal(concatTables([], schema).numRows, 0);
  assert.throws(() => tableFromRows([{ id: null, n: 1, x: 1, v: [1, 2, 3] }], schema), /row 0: column 'id' is not nullable/);
  const text = formatTable(back, { columns: ['id', 'v'] });
  assert.match(text, /^a\s+\[1, 2, 3\]$/m);
  assert.match(text, /^b\s+\[4, 5, 6\]$/m);
});

test('TTY progress: one live line per running stage with done/total and ETA, redrawn in place', () => {
  const bus = new EventBus();
  let out = '';
  const p = attachProgress(bus, { tty: true, write: (s) => (out += s), columns: 120 });
  bus.emit({ type: 'run-start', pipeline: 'p', runId: 'r', stages: ['a', 'b'], jobs: 2 });
  bus.emit({ type: 'stage-start', stageId: 'a', kind: 'squares', key: 'k1' });
  bus.emit({ type: 'stage-start', stageId: 'b', kind: 'squares', key: 'k2' });
  bus.emit({ type: 'stage-progress', stageId: 'a', done: 0, total: 10, unit: 'items' });
  const t0 = Date.now();
  while (Date.now() - t0 < 30);
  bus.emit({ type: 'stage-progress', stageId: 'a', done: 4, total: 10, unit: 'items' });
  bus.emit({ type: 'stage-log', stageId: 'b', level: 'info', message: 'hello' });
  const lastFrame = out.slice(out.lastIndexOf('\x1b[0J') + 4);
  assert.match(lastFrame, /▸ a \(squares\) 4\/10 items 40% ETA [\d.]+s/);
  assert.match(lastFrame, /▸ b \(squares\)/);
  assert.match(out, /\x1b\[2A\x1b\[0J    b: hello\n/, 'log lines scroll above the live block');
  bus.emit({ type: 'stage-done', stageId: 'a', kind: 'squares', key: 'k1', seconds: 1.5 });
  assert.match(out, /✓ a done in 1\.5s \(k1\)/);
  bus.emit({ type: 'run-end', ok: true, interrupted: false, seconds: 2 });
  p.stop();
});

test('ctx.map (runMap): flush is awaited before each chunk is recorded; a flush error fails the run and the chunk stays undone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xai-map-'));
  try {
    const schema = new Schema([new Field('id', new Utf8(), false), new Field('v', new Int32(), false)]);
    const env = { stageId: 's', dir, signal: new AbortController().signal, failOnItemError: false, progress: () => {}, writeTable: async () => {}, stats: () => {} };
    const log: string[] = [];
    let pending = 0; // "writes" started by batchFn and finished only by flush
    const opts = (failFlushAt?: number) => ({
      table: 't',
      items: [0, 1, 2, 3, 4, 5],
      id: (i: number) => `i${i}`,
      schema,
      chunkSize: 4,
      batchSize: 2,
      fn: async (i: number) => [{ id: `i${i}`, v: i }],
      async batchFn(b: number[]) {
        pending++;
        log.push(`batch ${b[0]}`);
        return b.map((i) => [{ id: `i${i}`, v: i }]);
      },
      async flush() {
        log.push(`flush (${pending} pending)`);
        if (failFlushAt !== undefined && log.filter((x) => x.startsWith('flush')).length === failFlushAt) throw new Error('disk full');
        pending = 0;
      },
    });
    await assert.rejects(runMap(opts(2), env), /disk full/);
    assert.deepEqual(log, ['batch 0', 'batch 2', 'flush (2 pending)', 'batch 4', 'flush (1 pending)']);
    assert.ok(existsSync(join(dir, 't', 'chunk-000000000.json')), 'chunk 0 recorded after its flush');
    assert.ok(!existsSync(join(dir, 't', 'chunk-000000004.json')), 'chunk 1 (from item 4) not recorded: its flush failed');
    log.length = 0;
    pending = 0; // a new process: nothing in flight
    const r = await runMap(opts(), env);
    assert.deepEqual(log, ['batch 4', 'flush (1 pending)']);
    assert.equal(r.resumed, 4);
    assert.equal(r.computed, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ctx.map (runMap): batches, a failing batch isolated item by item, abort then resume computes only the rest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xai-map-'));
  try {
    const schema = new Schema([new Field('id', new Utf8(), false), new Field('v', new Int32(), false)]);
    const written: Record<string, any> = {};
    const env = (signal: AbortSignal) => ({
      stageId: 's',
      dir,
      signal,
      failOnItemError: false,
      progress: () => {},
      writeTable: async (name: string, t: any) => void (written[name] = t),
      stats: () => {},
    });
    const items = Array.from({ length: 10 }, (_, i) => i);
    let fnCalls = 0;
    let batchCalls = 0;
    const ac = new AbortController();
    const opts = (abortAt?: number) => ({
      table: 't',
      items,
      id: (i: number) => `i${i}`,
      schema,
      chunkSize: 4,
      batchSize: 2,
      async fn(i: number) {
        fnCalls++;
        if (i === 3) throw new Error('three is bad');
        return [{ id: `i${i}`, v: i * 10 }];
      },
      async batchFn(b: number[]) {
        batchCalls++;
        if (abortAt !== undefined && b[0] >= abortAt) ac.abort(new Error('stop'));
        if (b.includes(3)) throw new Error('batch with 3 failed');
        return b.map((i) => [{ id: `i${i}`, v: i * 10 }]);
      },
    });
    await assert.rejects(runMap(opts(4), env(ac.signal)), /stop/);
    // Chunk 0 (items 0-3) finished, with item 3 isolated through fn; chunk 1 was interrupted after its first batch.
    assert.equal(fnCalls, 2);
    const r = await runMap(opts(), env(new AbortController().signal));
    assert.equal(r.resumed, 4);
    assert.equal(r.computed, 6);
    assert.deepEqual(r.errors, [{ item: 'i3', message: 'three is bad' }]);
    assert.deepEqual(tableToJsonRows(r.table).map((x) => x.v), [0, 10, 20, 40, 50, 60, 70, 80, 90]);
    assert.equal(written.t_errors.numRows, 1);
    assert.ok(batchCalls >= 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
