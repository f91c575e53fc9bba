// Cache keys cover the code: in a temporary copy of the project, editing one source file makes exactly the stages
// whose import graph reaches it stale (xai status names the file), and a rerun recomputes only those.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { latestRun, projectCopy, repo, xai } from './helpers.ts';

const p = projectCopy();
after(() => p.cleanup());

p.write(
  'pipelines/k.yaml',
  `name: k
stages:
  heldout: { uses: synth-dataset, include: configs/datasets/shapes-eval.yaml, params: { count: 2 } }
  model: { uses: load-model, include: configs/models/demo.yaml }
  acts:
    uses: collect-activations
    inputs: { model: model, dataset: heldout }
    params: { layers: [layer3] }
  cams:
    uses: cam
    inputs: { model: model, images: heldout }
    params: { methods: [eigencam], layers: [layer3], overlay: { enabled: false } }
  lime:
    uses: lime
    inputs: { model: model, images: heldout }
    params: { num_samples: 40, top_labels: 1, overlay: { enabled: false } }
`,
);

test('editing src/algo/cam/eigen.ts makes the cam stage stale, names the file, and leaves lime and the dissection cached', { skip: !existsSync(join(repo, 'models/demo/model.onnx')) && 'no demo model' }, () => {
  const r = xai(p.dir, ['run', 'pipelines/k.yaml']);
  assert.equal(r.code, 0, r.stderr);
  const first = latestRun(p, 'k');
  assert.ok(Object.values(first.stages).every((s: any) => s.status === 'done'));
  // the run record and state keep each stage's code fingerprint
  assert.ok(first.stages.cams.code.files['src/algo/cam/eigen.ts']);
  assert.equal(first.stages.lime.code.files['src/algo/cam/eigen.ts'], undefined);

  appendFileSync(join(p.dir, 'src/algo/cam/eigen.ts'), '\n// an edit\n');
  const st = xai(p.dir, ['status', 'pipelines/k.yaml', '--json']);
  assert.equal(st.code, 0, st.stderr);
  const stages = Object.fromEntries((JSON.parse(st.stdout).stages as { id: string; status: string; reasons: string[] }[]).map((s) => [s.id, s]));
  assert.deepEqual(
    Object.fromEntries(Object.entries(stages).map(([id, s]) => [id, s.status])),
    { heldout: 'cached', model: 'cached', acts: 'cached', cams: 'stale', lime: 'cached' },
  );
  assert.deepEqual(stages.cams.reasons, ['code changed: src/algo/cam/eigen.ts']);
  const text = xai(p.dir, ['status', 'pipelines/k.yaml']);
  assert.match(text.stdout, /cams.*stale[\s\S]*code changed: src\/algo\/cam\/eigen\.ts/);

  const r2 = xai(p.dir, ['run', 'pipelines/k.yaml']);
  assert.equal(r2.code, 0, r2.stderr);
  const second = latestRun(p, 'k');
  assert.deepEqual(
    Object.fromEntries(Object.entries(second.stages).map(([id, s]: [string, any]) => [id, s.status])),
    { heldout: 'cached', model: 'cached', acts: 'cached', cams: 'done', lime: 'cached' },
  );
  assert.notEqual(second.stages.cams.key, first.stages.cams.key);
  // cached stages keep their original compute time in the run record
  for (const id of ['heldout', 'model', 'acts', 'lime']) assert.equal(second.stages[id].seconds, first.stages[id].seconds, id);
});
