// Executions in one run: identical keys compute once (memoised by key, as wireit's executor), `--force '*'` is the
// only "all", a stage whose time is consumed (a timed input) computes with nothing beside it, and the run record of a
// cached stage keeps its original compute time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { latestRun, manifestOf, project, statuses, xai, type Project } from './helpers.ts';

const projects: Project[] = [];
after(() => projects.forEach((p) => p.cleanup()));
function setup(pipeline: string) {
  const p = project({ 'pipelines/p.yaml': pipeline });
  projects.push(p);
  return p;
}

test('two stages with the same key run once in a run: the second waits for the first and is served its entry', () => {
  const p = setup(`name: p
stages:
  a: { uses: squares, params: { count: 12, chunk: 2 } }
  b: { uses: squares, params: { count: 12, chunk: 2 } }
  c: { uses: sum, inputs: { src: b } }
`);
  const r = xai(p.dir, ['run', 'pipelines/p.yaml', '--jobs', '2'], { XAI_TEST_SLEEP_MS: '5' });
  assert.equal(r.code, 0, r.stderr);
  const rec = latestRun(p);
  assert.equal(rec.stages.a.key, rec.stages.b.key);
  const [first, second] = rec.stages.a.status === 'done' ? ['a', 'b'] : ['b', 'a'];
  assert.equal(rec.stages[first].status, 'done');
  assert.equal(rec.stages[second].status, 'cached');
  assert.equal(rec.stages[second].sameAs, first);
  assert.equal(rec.stages[second].seconds, rec.stages[first].seconds, 'the compute time of the shared execution');
  assert.equal(manifestOf(p, 'a').map.squares.computed, 12, 'computed once, all 12 items');
  assert.equal(statuses(p).c, 'done');
});

test("--force names stages; '*' is all, and a stage named 'all' is just that stage", () => {
  const p = setup(`name: p
stages:
  all: { uses: squares, params: { count: 3 } }
  other: { uses: squares, params: { count: 3, offset: 5 } }
`);
  assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml']).code, 0);
  const before = latestRun(p);
  assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml', '--force', 'all']).code, 0);
  assert.deepEqual(statuses(p), { all: 'done', other: 'cached' });
  // the cached stage's record keeps the compute time of the run that computed it
  assert.equal(latestRun(p).stages.other.seconds, before.stages.other.seconds);
  assert.equal(xai(p.dir, ['run', 'pipelines/p.yaml', '--force', '*']).code, 0);
  assert.deepEqual(statuses(p), { all: 'done', other: 'done' });
});

test('a stage whose time is consumed (timed input) computes alone; the others record what computed beside them', () => {
  const p = setup(`name: p
stages:
  scored: { uses: squares, params: { count: 6, chunk: 1 } }
  x: { uses: squares, params: { count: 6, chunk: 1, offset: 100 } }
  y: { uses: squares, params: { count: 6, chunk: 1, offset: 200 } }
  z: { uses: squares, params: { count: 6, chunk: 1, offset: 300 } }
  sink: { uses: timed-sink, inputs: { src: scored } }
`);
  const r = xai(p.dir, ['run', 'pipelines/p.yaml', '--jobs', '4'], { XAI_TEST_SLEEP_MS: '15' });
  assert.equal(r.code, 0, r.stderr);
  const t = (id: string) => manifestOf(p, id).timings;
  assert.equal(t('scored').alone, true);
  assert.equal(t('scored').beside, undefined);
  for (const id of ['x', 'y', 'z']) {
    assert.equal(t(id).alone, undefined, id);
    assert.ok(!(t(id).beside ?? []).includes('scored'), `${id} computed beside the timed stage`);
  }
  // the untimed stages were free to run together: whatever they shared is symmetric
  for (const a of ['x', 'y', 'z']) for (const b of t(a).beside ?? []) assert.ok(t(b).beside.includes(a), `${a} beside ${b}`);
  // per-item timings of the map table
  assert.equal(t('scored').items.squares.n, 6);
  assert.ok(t('scored').items.squares.mean_ms >= 0);
});
