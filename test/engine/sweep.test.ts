// Sweep expansion (grid, seeded random search, CLI argument forms) — pure functions of src/engine/sweep.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, parseGridArg, parseRandomArg, specFromBlock, combinationId, prunePlan, draw, rng } from '../../src/engine/sweep.ts';

test('grid: cartesian product, first key slowest; sets are YAML/JSON values; ids stable and distinct', () => {
  const spec = { grid: [['stages.lime.num_samples', [250, 500, 1000]], ['stages.lime.segmentation_fn.name', ['quickshift', 'slic']]] as [string, unknown[]][] };
  const c = expand(spec, 'demo');
  assert.equal(c.length, 6);
  assert.deepEqual(c.map((x) => [x.values['stages.lime.num_samples'], x.values['stages.lime.segmentation_fn.name']]), [
    [250, 'quickshift'], [250, 'slic'], [500, 'quickshift'], [500, 'slic'], [1000, 'quickshift'], [1000, 'slic'],
  ]);
  assert.deepEqual(c[1].sets, ['stages.lime.num_samples=250', 'stages.lime.segmentation_fn.name="slic"']);
  assert.match(c[1].id, /^250_slic\.[0-9a-f]{8}$/);
  assert.equal(new Set(c.map((x) => x.id)).size, 6);
  // Same overrides → same ids (resume); another pipeline or other base overrides → other ids.
  assert.deepEqual(expand(spec, 'demo').map((x) => x.id), c.map((x) => x.id));
  assert.notEqual(expand(spec, 'other')[0].id, c[0].id);
  assert.notEqual(expand(spec, 'demo', ['stages.lime.limit=3'])[0].id, c[0].id);
  // The string "250" is not the number 250.
  assert.notEqual(combinationId('demo', [], ['stages.a.x="250"'], ['250']), combinationId('demo', [], ['stages.a.x=250'], [250]));
  // A negative number keeps its sign in the readable part (and never starts the id with '-').
  assert.match(combinationId('demo', [], ['stages.a.x=-3'], [-3]), /^neg3\.[0-9a-f]{8}$/);
  assert.match(combinationId('demo', [], ['stages.a.x=3'], [3]), /^3\.[0-9a-f]{8}$/);
  assert.match(combinationId('demo', [], ['stages.a.x=-0.5', 'stages.b.y=2'], [-0.5, 2]), /^neg0\.5_2\./);
  // Duplicated values collapse to one combination.
  assert.equal(expand({ grid: [['stages.a.x', [1, 1, 2]]] }, 'p').length, 2);
});

test('random search: seeded, reproducible, within bounds; crossed with the grid', () => {
  const spec = specFromBlock({
    random: {
      trials: 20,
      seed: 7,
      params: {
        'stages.lime.num_samples': { int: [100, 1000] },
        'stages.lime.kernel_width': { uniform: [0.1, 0.5] },
        'stages.lime.model_regressor': { loguniform: [0.01, 10] },
        'stages.lime.segmentation_fn.name': ['quickshift', 'slic', 'felzenszwalb'],
      },
    },
  });
  const a = expand(spec, 'p');
  const b = expand(spec, 'p');
  assert.deepEqual(a, b);
  assert.equal(a.length, 20);
  for (const c of a) {
    const n = c.values['stages.lime.num_samples'] as number;
    assert.ok(Number.isInteger(n) && n >= 100 && n <= 1000, String(n));
    const w = c.values['stages.lime.kernel_width'] as number;
    assert.ok(w >= 0.1 && w <= 0.5);
    assert.equal(Number(w.toPrecision(4)), w);
    const r = c.values['stages.lime.model_regressor'] as number;
    assert.ok(r >= 0.01 && r <= 10);
    assert.ok(['quickshift', 'slic', 'felzenszwalb'].includes(c.values['stages.lime.segmentation_fn.name'] as string));
  }
  assert.equal(new Set(a.map((c) => c.values['stages.lime.segmentation_fn.name'])).size, 3);
  const other = expand({ ...spec, random: { ...spec.random!, seed: 8 } }, 'p');
  assert.notDeepEqual(other.map((c) => c.values), a.map((c) => c.values));
  // Grid × trials.
  const crossed = expand({ grid: [['stages.cams.methods', [['gradcam'], ['scorecam']]]], random: { trials: 3, seed: 1, params: [['stages.lime.num_samples', { int: [1, 1e6] }]] } }, 'p');
  assert.equal(crossed.length, 6);
  assert.deepEqual(crossed[0].values['stages.cams.methods'], ['gradcam']);
  assert.equal(crossed[0].values['stages.lime.num_samples'], crossed[3].values['stages.lime.num_samples']);
  assert.equal(crossed[0].sets[0], 'stages.cams.methods=["gradcam"]');
  // The generator is uniform enough to hit both ends of a small int range.
  const r = rng(3);
  const seen = new Set(Array.from({ length: 200 }, () => draw({ int: [1, 3] }, r)));
  assert.deepEqual([...seen].sort(), [1, 2, 3]);
});

test('CLI argument forms', () => {
  assert.deepEqual(parseGridArg('stages.lime.num_samples=250,500,1000'), ['stages.lime.num_samples', [250, 500, 1000]]);
  assert.deepEqual(parseGridArg('stages.lime.segmentation_fn.name=quickshift,slic'), ['stages.lime.segmentation_fn.name', ['quickshift', 'slic']]);
  assert.deepEqual(parseGridArg('stages.cams.methods=[gradcam],[gradcam, scorecam]'), ['stages.cams.methods', [['gradcam'], ['gradcam', 'scorecam']]]);
  assert.deepEqual(parseGridArg('stages.a.b=[1, 2]'), ['stages.a.b', [1, 2]]);
  assert.deepEqual(parseGridArg('stages.a.b="x,y",z'), ['stages.a.b', ['x,y', 'z']]);
  assert.deepEqual(parseRandomArg('stages.lime.kernel_width=uniform(0.1, 0.5)'), ['stages.lime.kernel_width', { uniform: [0.1, 0.5] }]);
  assert.deepEqual(parseRandomArg('stages.lime.num_samples=int(100,1000)'), ['stages.lime.num_samples', { int: [100, 1000] }]);
  assert.deepEqual(parseRandomArg('stages.x.y=loguniform(1e-3,1)'), ['stages.x.y', { loguniform: [0.001, 1] }]);
  assert.deepEqual(parseRandomArg('stages.x.y=a,b'), ['stages.x.y', { choice: ['a', 'b'] }]);
  assert.deepEqual(parseRandomArg('stages.x.y=choice(1,2)'), ['stages.x.y', { choice: [1, 2] }]);
  assert.throws(() => parseGridArg('lime.num_samples=1,2'), /stages\.<stage id>\.<param path>/);
  assert.throws(() => parseGridArg('stages.lime.num_samples'), /expected stages/);
  assert.throws(() => parseRandomArg('stages.x.y=int(1.5,2)'), /integers/);
  assert.throws(() => parseRandomArg('stages.x.y=loguniform(0,1)'), /> 0/);
});

test('prunePlan keeps the targets and their upstream stages, in order', () => {
  const st = (id: string, deps: string[]) => ({ id, deps }) as any;
  const stages = [st('data', []), st('model', []), st('cams', ['model', 'data']), st('lime', ['model', 'data']), st('cmp', ['cams', 'lime']), st('board', ['lime', 'cmp']), st('dissect', ['model', 'data']), st('report', ['board', 'dissect'])];
  const plan = { root: '/', pipeline: {} as any, stages, byId: new Map(stages.map((s) => [s.id, s])) };
  assert.deepEqual(prunePlan(plan, ['board']).stages.map((s) => s.id), ['data', 'model', 'cams', 'lime', 'cmp', 'board']);
  assert.deepEqual(prunePlan(plan, ['lime', 'dissect']).stages.map((s) => s.id), ['data', 'model', 'lime', 'dissect']);
});
