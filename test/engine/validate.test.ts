// Validation before anything runs: located messages (file:line:col, key path, expected, nearest key), exit 2,
// nothing written. The first case goes through a spawned `xai run`; the others call the CLI's main() in-process
// (same code path, no process start-up).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { project, xai, xaiIn, exists } from './helpers.ts';

/** Runs `xai run` and `xai validate` on a pipeline text; asserts exit 2 and that nothing was written; returns stderr. */
async function rejects(yaml: string, files: Record<string, string> = {}, opts: { spawn?: boolean } = {}): Promise<string> {
  const p = project({ ...files, 'pipelines/p.yaml': yaml });
  try {
    const r = opts.spawn ? xai(p.dir, ['run', 'pipelines/p.yaml']) : await xaiIn(p.dir, ['run', 'pipelines/p.yaml']);
    assert.equal(r.code, 2, `expected exit 2, got ${r.code}: ${r.stderr}`);
    assert.equal(exists(p, 'artifacts'), false, 'nothing may be written');
    const v = await xaiIn(p.dir, ['validate', 'pipelines/p.yaml']);
    assert.equal(v.code, 2);
    assert.equal(v.stderr, r.stderr, 'validate reports the same');
    return r.stderr;
  } finally {
    p.cleanup();
  }
}

test('malformed YAML: located syntax error', async () => {
  const err = await rejects('name: p\nstages:\n  a:\n    uses: squares\n    params: { count: [1, 2 }\n', {}, { spawn: true });
  assert.match(err, /^error: pipelines\/p\.yaml:5:\d+: YAML syntax error: /);
  const dup = await rejects('name: p\nstages:\n  a: { uses: squares }\n  a: { uses: sum }\n');
  assert.match(dup, /^error: pipelines\/p\.yaml:4:3: YAML syntax error: Map keys must be unique/);
});

test('unknown key: located at the key, with the nearest valid key suggested', async () => {
  const err = await rejects('name: p\nstages:\n  a:\n    uses: squares\n    params:\n      cuont: 3\n');
  assert.equal(err, "error: pipelines/p.yaml:6:7: stages.a.params.cuont: unknown key (did you mean 'count'?)\n");
  const top = await rejects('name: p\nstagess:\n  a: { uses: squares }\n');
  assert.match(top, /pipelines\/p\.yaml:2:1: stagess: unknown key \(did you mean 'stages'\?\)/);
  assert.match(top, /pipelines\/p\.yaml:1:1: missing required key 'stages'/);
  const stageKey = await rejects('name: p\nstages:\n  a: { uses: squares, parms: { count: 2 } }\n');
  assert.match(stageKey, /pipelines\/p\.yaml:3:23: stages\.a\.parms: unknown key \(did you mean 'params'\?\)/);
});

test('wrong type and out-of-range values: what was expected and what was given', async () => {
  const err = await rejects('name: p\nstages:\n  a:\n    uses: squares\n    params: { count: many, chunk: 0, bad: [1, x] }\n');
  assert.match(err, /pipelines\/p\.yaml:5:22: stages\.a\.params\.count: expected integer, got string "many"/);
  assert.match(err, /pipelines\/p\.yaml:5:35: stages\.a\.params\.chunk: must be >= 1, got 0/);
  assert.match(err, /pipelines\/p\.yaml:5:47: stages\.a\.params\.bad\[1\]: expected integer, got string "x"/);
  const inputs = await rejects('name: p\nstages:\n  a: { uses: squares }\n  b: { uses: sum, inputs: [a] }\n');
  assert.match(inputs, /pipelines\/p\.yaml:4:27: stages\.b\.inputs: expected mapping, got array \["a"\]/);
});

test('dependency cycle: located, with the cycle spelled out', async () => {
  const err = await rejects('name: p\nstages:\n  a: { uses: noop, inputs: { prev: c } }\n  b: { uses: noop, inputs: { prev: a } }\n  c: { uses: noop, inputs: { prev: b } }\n');
  assert.match(err, /pipelines\/p\.yaml:\d+:\d+: stages\.\w\.inputs: dependency cycle: (a → b → c → a|b → c → a → b|c → a → b → c)/);
});

test('missing reference, unknown input name, wrong upstream kind, missing required input', async () => {
  const err = await rejects('name: p\nstages:\n  sq: { uses: squares }\n  s: { uses: sum, inputs: { src: sqq } }\n');
  assert.equal(err, "error: pipelines/p.yaml:4:34: stages.s.inputs.src: unknown stage 'sqq' (did you mean 'sq'?)\n");
  const name = await rejects('name: p\nstages:\n  sq: { uses: squares }\n  s: { uses: sum, inputs: { sorc: sq } }\n');
  assert.match(name, /pipelines\/p\.yaml:4:29: stages\.s\.inputs\.sorc: stage kind 'sum' has no input 'sorc' \(did you mean 'src'\?\)/);
  assert.match(name, /stages\.s\.inputs: missing required input 'src'/);
  const kind = await rejects('name: p\nstages:\n  n: { uses: noop }\n  s: { uses: sum, inputs: { src: n } }\n');
  assert.match(kind, /stages\.s\.inputs\.src: input 'src' takes a stage of kind squares, but 'n' is 'noop'/);
});

test('unknown stage kind and missing module: located, with suggestions', async () => {
  const err = await rejects('name: p\nstages:\n  a: { uses: squarez }\n');
  assert.equal(err, "error: pipelines/p.yaml:3:14: stages.a.uses: unknown stage kind 'squarez' (did you mean 'squares'?)\n");
  const mod = await rejects('name: p\nstages:\n  a: { uses: ./nope.ts }\n');
  assert.match(mod, /pipelines\/p\.yaml:3:14: stages\.a\.uses: stage module '\.\/nope\.ts' not found \(looked at pipelines\/nope\.ts\)/);
});

test('all errors are reported at once; bad --set and missing files are usage errors', async () => {
  const err = await rejects('name: p\nstages:\n  a: { uses: squares, params: { cuont: 1 } }\n  b: { uses: sum, inputs: { src: zz } }\n');
  assert.equal(err.trim().split('\n').length, 2);
  const p = project();
  try {
    const r = await xaiIn(p.dir, ['run', 'pipelines/none.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipelines\/none\.yaml: pipeline file not found/);
    p.write('pipelines/p.yaml', 'name: p\nstages:\n  a: { uses: squares }\n');
    const s = await xaiIn(p.dir, ['run', 'pipelines/p.yaml', '--set', 'count=3']);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /--set: count: expected stages\.<stage id>\.<param>=<value>/);
    const y = await xaiIn(p.dir, ['run', 'pipelines/p.yaml', '--set', 'stages.a.count=[1,']);
    assert.equal(y.code, 2);
    assert.match(y.stderr, /value is not valid YAML/);
    const o = await xaiIn(p.dir, ['run', 'pipelines/p.yaml', '--jbos', '2']);
    assert.equal(o.code, 2);
    assert.match(o.stderr, /unknown option '--jbos' \(did you mean '--jobs'\?\)/);
    assert.equal(exists(p, 'artifacts'), false);
  } finally {
    p.cleanup();
  }
});
