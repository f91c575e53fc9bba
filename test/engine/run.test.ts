// Engine end-to-end through the real CLI: cache hits, selective recompute, --set, failure semantics, item errors,
// includes, run records and the latest view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { project, xai, xaiIn, statuses, latestRun, manifestOf, completeEntries, type Project } from './helpers.ts';

/** a → b, c → d. With `byPath`, stage kinds are named by paths relative to the pipeline file (`uses: ../x.ts`). */
function fourStages(p: Project, aCount = 5, bScale = 1, byPath = false): string {
  const sq = byPath ? p.uses('squares') : 'squares';
  const sum = byPath ? p.uses('sum') : 'sum';
  return `name: p
stages:
  a:
    uses: ${sq}
    params: { count: ${aCount}, chunk: 2 }
  b:
    uses: ${sum}
    inputs: { src: a }
    params: { scale: ${bScale} }
  c:
    uses: ${sq}
    params: { count: 3, offset: 10 }
  d:
    uses: ${sum}
    inputs: { src: c }
`;
}

test('rerun of a finished pipeline is a full cache hit with identical outputs', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', fourStages(p, 5, 1, true));
    assert.match(p.read('pipelines/p.yaml'), /uses: \.\.\/.*test\/fixtures\/stages\/squares\.ts/);
    const r1 = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(statuses(p), { a: 'done', b: 'done', c: 'done', d: 'done' });
    const before = manifestOf(p, 'a').files;
    const r2 = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(statuses(p), { a: 'cached', b: 'cached', c: 'cached', d: 'cached' });
    assert.deepEqual(manifestOf(p, 'a').files, before);
    assert.equal(manifestOf(p, 'b').meta.total, 0 + 1 + 4 + 9 + 16);
  } finally {
    p.cleanup();
  }
});

test('changing one param reruns exactly that stage and its descendants', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', fourStages(p));
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    const keys1 = Object.fromEntries(Object.entries(latestRun(p).stages).map(([k, s]: [string, any]) => [k, s.key]));
    // A leaf param: only b.
    p.write('pipelines/p.yaml', fourStages(p, 5, 2));
    let r = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(statuses(p), { a: 'cached', b: 'done', c: 'cached', d: 'cached' });
    assert.equal(manifestOf(p, 'b').meta.total, 2 * 30);
    // A root param: a and its descendant b; the independent branch c, d stays cached.
    p.write('pipelines/p.yaml', fourStages(p, 6, 2));
    r = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(statuses(p), { a: 'done', b: 'done', c: 'cached', d: 'cached' });
    const keys3 = Object.fromEntries(Object.entries(latestRun(p).stages).map(([k, s]: [string, any]) => [k, s.key]));
    assert.notEqual(keys3.a, keys1.a);
    assert.equal(keys3.c, keys1.c);
    assert.equal(keys3.d, keys1.d);
    // Back to the first params: every entry is still in the cache.
    p.write('pipelines/p.yaml', fourStages(p));
    r = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.deepEqual(statuses(p), { a: 'cached', b: 'cached', c: 'cached', d: 'cached' });
  } finally {
    p.cleanup();
  }
});

test('--set overrides a param (YAML-typed), is recorded, and status diffs against it', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', fourStages(p));
    const r = xai(p.dir, ['run', 'pipelines/p.yaml', '--set', 'stages.a.count=7', '--set', 'stages.c.params.bad=[0, 1]']);
    assert.equal(r.code, 0, r.stderr);
    const rec = latestRun(p);
    assert.deepEqual(rec.overrides, ['stages.a.count=7', 'stages.c.params.bad=[0, 1]']);
    assert.equal(rec.config.stages.a.params.count, 7);
    assert.deepEqual(rec.config.stages.c.params.bad, [0, 1]);
    assert.equal(rec.config.stages.a.params.offset, 0, 'defaults are part of the resolved config');
    assert.equal(manifestOf(p, 'a').tables.squares.rows, 7);
    assert.equal(manifestOf(p, 'c').tables.squares.rows, 1);
    assert.equal(manifestOf(p, 'c').tables.squares_errors.rows, 2);
    // Without the override the file's values apply again: status says what changed, old → new.
    const st = await xaiIn(p.dir, ['status', 'pipelines/p.yaml']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /a\s+stale/);
    assert.match(st.stdout, /param count: 7 → 5/);
    assert.match(st.stdout, /b\s+stale[\s\S]*upstream 'a' is stale/);
    assert.match(st.stdout, /param bad: \[0,1\] → \[\]/);
    // With the same override again: all cached.
    const st2 = await xaiIn(p.dir, ['status', 'pipelines/p.yaml', '--set', 'stages.a.count=7', '--set', 'stages.c.bad=[0,1]', '--json']);
    assert.deepEqual(JSON.parse(st2.stdout).stages.map((s: any) => s.status), ['cached', 'cached', 'cached', 'cached']);
    // A bad --set: unknown stage, located and suggested; exit 2.
    const bad = xai(p.dir, ['run', 'pipelines/p.yaml', '--set', 'stages.aa.count=1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--set: stages\.aa\.count: no stage 'aa' in the pipeline \(did you mean 'a'\?\)/);
    const badType = xai(p.dir, ['run', 'pipelines/p.yaml', '--set', 'stages.a.count=lots']);
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /stages\.a\.params\.count: expected integer, got string "lots" \[stages\.a\.count=lots\]/);
  } finally {
    p.cleanup();
  }
});

test('status: missing, cached, stale with reasons; a removed entry is missing', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', fourStages(p));
    let st = JSON.parse((await xaiIn(p.dir, ['status', 'pipelines/p.yaml', '--json'])).stdout);
    assert.deepEqual(st.stages.map((s: any) => s.status), ['missing', 'missing', 'missing', 'missing']);
    assert.ok(st.stages[0].reasons.includes('never run'));
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    p.write('pipelines/p.yaml', fourStages(p).replace('offset: 10', 'offset: 11'));
    st = JSON.parse((await xaiIn(p.dir, ['status', 'pipelines/p.yaml', '--json'])).stdout);
    const by = Object.fromEntries(st.stages.map((s: any) => [s.id, s]));
    assert.equal(by.a.status, 'cached');
    assert.equal(by.b.status, 'cached');
    assert.equal(by.c.status, 'stale');
    assert.deepEqual(by.c.reasons, ['param offset: 10 → 11']);
    assert.equal(by.d.status, 'stale');
    assert.deepEqual(by.d.reasons, ["upstream 'c' is stale"]);
    // Remove a's entry: missing (removed), and b, downstream, stale.
    const m = manifestOf(p, 'a');
    p.write('pipelines/p.yaml', fourStages(p));
    rmSync(join(p.dir, 'artifacts/cache/squares', m.key), { recursive: true });
    st = JSON.parse((await xaiIn(p.dir, ['status', 'pipelines/p.yaml', '--json'])).stdout);
    assert.equal(st.stages[0].status, 'missing');
    assert.ok(st.stages[0].reasons.includes('cache entry was removed'));
    assert.equal(st.stages[1].status, 'stale');
  } finally {
    p.cleanup();
  }
});

test('a failing stage stops its descendants, independent stages finish, exit 1 names the stage', async () => {
  const p = project();
  try {
    p.write(
      'pipelines/p.yaml',
      `name: p
stages:
  a: { uses: squares, params: { count: 3 } }
  bad: { uses: boom, inputs: { src: a }, params: { message: 'kaput: disk on fire' } }
  after: { uses: noop, inputs: { prev: bad } }
  after2: { uses: noop, inputs: { prev: after }, params: { n: 2 } }
  indep: { uses: squares, params: { count: 4, offset: 1 } }
  indep2: { uses: sum, inputs: { src: indep } }
`,
    );
    const r = xai(p.dir, ['run', 'pipelines/p.yaml', '--jobs', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stage 'bad' failed: kaput: disk on fire/);
    assert.deepEqual(statuses(p), { a: 'done', bad: 'failed', after: 'skipped', after2: 'skipped', indep: 'done', indep2: 'done' });
    const rec = latestRun(p);
    assert.equal(rec.status, 'failed');
    assert.equal(rec.stages.bad.error, 'kaput: disk on fire');
    assert.match(rec.stages.after.error, /upstream 'bad' failed/);
    // The finished stages are cached for the next run.
    const r2 = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r2.code, 1);
    assert.equal(statuses(p).indep2, 'cached');
  } finally {
    p.cleanup();
  }
});

test('bad items go to <table>_errors; fail_on_item_error makes them fatal', async () => {
  const p = project();
  try {
    const yaml = (fatal: boolean) => `name: p
${fatal ? 'fail_on_item_error: true\n' : ''}stages:
  a: { uses: squares, params: { count: 6, bad: [2, 4] } }
`;
    p.write('pipelines/p.yaml', yaml(false));
    const r = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 0, r.stderr);
    const show = JSON.parse((await xaiIn(p.dir, ['show', 'pipelines/p.yaml', 'a.squares_errors', '--json'])).stdout);
    assert.deepEqual(show.data, [
      { item: 'n2', index: 2, message: 'item 2 is bad' },
      { item: 'n4', index: 4, message: 'item 4 is bad' },
    ]);
    const rows = JSON.parse((await xaiIn(p.dir, ['show', 'pipelines/p.yaml', 'a.squares', '--json', '--columns', 'id'])).stdout).data;
    assert.deepEqual(rows.map((x: any) => x.id), ['n0', 'n1', 'n3', 'n5']);
    assert.deepEqual(manifestOf(p, 'a').map.squares, { items: 6, computed: 6, resumed: 0, errors: 2 });
    p.write('pipelines/p.yaml', yaml(true));
    const r2 = xai(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /stage 'a' failed: item 'n2' \(index 2\): item 2 is bad \(fail_on_item_error is set\)/);
  } finally {
    p.cleanup();
  }
});

test('include fragments: deep merge in order, fragments including fragments, local params win; cycles rejected', async () => {
  const p = project({
    'configs/base.yaml': 'count: 4\noffset: 1\nbad: [9]\n',
    'configs/mid.yaml': 'include: ./base.yaml\noffset: 2\n',
    'configs/other.yaml': 'chunk: 3\n',
  });
  try {
    p.write(
      'pipelines/p.yaml',
      `name: p
stages:
  a:
    uses: squares
    include: [configs/mid.yaml, configs/other.yaml]
    params: { count: 5 }
`,
    );
    const v = xai(p.dir, ['validate', 'pipelines/p.yaml', '--json']);
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(JSON.parse(v.stdout).stages.a.params, { count: 5, offset: 2, bad: [9], chunk: 3 });
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    assert.deepEqual(latestRun(p).config.stages.a.include, ['configs/mid.yaml', 'configs/base.yaml', 'configs/other.yaml']);
    assert.ok(latestRun(p).fragments['configs/base.yaml']);
    // An error inside a fragment is located in the fragment.
    p.write('configs/other.yaml', 'chunk: 3\ncuont: 2\n');
    let r = xai(p.dir, ['validate', 'pipelines/p.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /configs\/other\.yaml:2:1: stages\.a\.params\.cuont: unknown key \[included from pipelines\/p\.yaml\] \(did you mean 'count'\?\)/);
    // A cycle of includes.
    p.write('configs/other.yaml', 'include: configs/mid.yaml\n');
    p.write('configs/base.yaml', 'include: configs/other.yaml\n');
    r = xai(p.dir, ['validate', 'pipelines/p.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /include cycle: configs\/mid\.yaml → configs\/base\.yaml → configs\/other\.yaml → configs\/mid\.yaml/);
  } finally {
    p.cleanup();
  }
});

test('run record: pipeline hash, resolved config, per-stage key/status/time, versions, backend; latest view links', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', fourStages(p));
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    const rec = latestRun(p);
    assert.equal(rec.fileHash, createHash('sha256').update(p.read('pipelines/p.yaml')).digest('hex'));
    assert.equal(rec.status, 'ok');
    assert.equal(rec.file, 'pipelines/p.yaml');
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.match(rec.stages[id].key, /^[0-9a-f]{20}$/);
      assert.equal(typeof rec.stages[id].seconds, 'number');
    }
    assert.equal(rec.stages.b.inputs.src.key, rec.stages.a.key);
    assert.equal(rec.versions.node, process.version);
    assert.ok(rec.versions['apache-arrow']);
    assert.deepEqual(rec.backends, ['test-cpu']);
    assert.equal(rec.stages.a.backend, 'test-cpu');
    const runFile = join(p.dir, 'artifacts/runs/p', `${rec.runId}.json`);
    assert.deepEqual(JSON.parse(readFileSync(runFile, 'utf8')), rec);
    // The latest view: artifacts/p/<stage> → cache entry.
    const link = join(p.dir, 'artifacts/p/a');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(manifestOf(p, 'a').key, rec.stages.a.key);
    assert.ok(readFileSync(join(link, 'squares.arrow')).length > 0);
    assert.equal(readFileSync(join(link, 'notes/summary.txt'), 'utf8'), 'rows 5\n');
    // An absolute path into the output recorded in meta points at the committed entry.
    assert.equal(manifestOf(p, 'a').meta.raw, join(p.dir, 'artifacts/cache/squares', rec.stages.a.key, 'data/raw.bin'));
    assert.equal(readFileSync(manifestOf(p, 'a').meta.raw).length, 5);
    // The manifest: files with sizes and checksums, rows, timings, versions.
    const m = manifestOf(p, 'a');
    assert.ok(m.files.some((f: any) => f.path === 'squares.arrow' && f.size > 0 && /^[0-9a-f]{64}$/.test(f.sha256)));
    assert.equal(m.tables.squares.rows, 5);
    assert.ok(m.timings.seconds >= 0);
    assert.equal(m.versions.node, process.version);
    assert.equal(completeEntries(p).length, 4);
  } finally {
    p.cleanup();
  }
});

test('--force recomputes a cached stage; --jobs 1 runs stages one at a time, --jobs 2 concurrently', async () => {
  const p = project();
  try {
    p.write('pipelines/p.yaml', `name: p\nstages:\n  x: { uses: squares, params: { count: 3, chunk: 1 } }\n  y: { uses: squares, params: { count: 3, chunk: 1, offset: 1 } }\n`);
    const env = { XAI_TEST_SLEEP_MS: '120' };
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml', '--jobs', '2'], env).code, 0);
    const overlap = () => {
      const x = manifestOf(p, 'x').timings;
      const y = manifestOf(p, 'y').timings;
      return Date.parse(x.started) < Date.parse(y.finished) && Date.parse(y.started) < Date.parse(x.finished);
    };
    assert.ok(overlap(), 'independent stages ran concurrently with --jobs 2');
    const r = xai(p.dir, ['run', 'pipelines/p.yaml', '--jobs', '1', '--force', '*'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(statuses(p), { x: 'done', y: 'done' });
    assert.ok(!overlap(), 'stages ran one at a time with --jobs 1');
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml', '--force', 'y']).code, 0);
    assert.deepEqual(statuses(p), { x: 'cached', y: 'done' });
    const bad = xai(p.dir, ['run', 'pipelines/p.yaml', '--force', 'yy']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no stage 'yy'.*did you mean 'y'/);
  } finally {
    p.cleanup();
  }
});

test('reads(): file and directory contents are part of the key (memoised hashes); status names the changed read', async () => {
  const p = project({ 'data/f.txt': 'hello', 'data/dir/a.txt': '1', 'data/dir/sub/b.txt': '2' });
  try {
    p.write('pipelines/p.yaml', `name: p\nstages:\n  f: { uses: read-file, params: { path: data/f.txt } }\n  d: { uses: read-file, params: { path: data/dir } }\n`);
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    assert.deepEqual(statuses(p), { f: 'cached', d: 'cached' });
    const memo = p.json('artifacts/memo.json');
    assert.ok(memo[join(p.dir, 'data/f.txt')].sha256);
    p.write('data/f.txt', 'hello world');
    writeFileSync(join(p.dir, 'data/dir/sub/c.txt'), '3');
    const st = await xaiIn(p.dir, ['status', 'pipelines/p.yaml']);
    assert.match(st.stdout, /f\s+stale[\s\S]*read data\/f\.txt: [0-9a-f]{16} → [0-9a-f]{16}/);
    assert.match(st.stdout, /d\s+stale[\s\S]*read data\/dir: dir:/);
    assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
    assert.deepEqual(statuses(p), { f: 'done', d: 'done' });
    assert.equal(manifestOf(p, 'f').meta.size, 11);
  } finally {
    p.cleanup();
  }
});
