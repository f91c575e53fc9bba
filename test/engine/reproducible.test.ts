// Results apart from timings: the demo pipeline (every stage kind, made small with --set) runs in two separate
// copies of the project with different --jobs; every result table of every entry is byte-identical, the keys are the
// same, and the timings are present in their own place (the manifests), not in any table.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectCopy, repo, xai } from './helpers.ts';

const a = projectCopy();
const b = projectCopy();
after(() => {
  a.cleanup();
  b.cleanup();
});

const small = ['stages.shapes.count=40', 'stages.heldout.count=4', 'stages.lime.num_samples=100', 'stages.activations.batchSize=20'].flatMap((s) => ['--set', s]);

/** kind/key → table file → sha256, and kind/key → manifest, for every committed entry of a project. */
function entries(dir: string) {
  const tables: Record<string, Record<string, string>> = {};
  const manifests: Record<string, any> = {};
  const cache = join(dir, 'artifacts', 'cache');
  for (const kind of readdirSync(cache)) {
    for (const key of readdirSync(join(cache, kind))) {
      const m = JSON.parse(readFileSync(join(cache, kind, key, 'manifest.json'), 'utf8'));
      manifests[`${kind}/${key}`] = m;
      tables[`${kind}/${key}`] = Object.fromEntries(
        Object.values(m.tables as Record<string, { file: string }>).map((t) => [t.file, createHash('sha256').update(readFileSync(join(cache, kind, key, t.file))).digest('hex')]),
      );
    }
  }
  return { tables, manifests };
}

test('the demo twice, --jobs 1 and --jobs 4, in two project copies: every result table byte-identical; timings in the manifests', { skip: !existsSync(join(repo, 'models/demo/model.onnx')) && 'no demo model' }, () => {
  const r1 = xai(a.dir, ['run', 'pipelines/demo.yaml', '--jobs', '1', ...small]);
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = xai(b.dir, ['run', 'pipelines/demo.yaml', '--jobs', '4', ...small]);
  assert.equal(r2.code, 0, r2.stderr);
  const ea = entries(a.dir), eb = entries(b.dir);
  assert.deepEqual(Object.keys(eb.tables).sort(), Object.keys(ea.tables).sort(), 'the same keys');
  assert.ok(Object.keys(ea.tables).length >= 12, Object.keys(ea.tables).join(' '));
  let n = 0;
  for (const [entry, files] of Object.entries(ea.tables)) {
    assert.deepEqual(eb.tables[entry], files, entry);
    n += Object.keys(files).length;
  }
  assert.ok(n >= 20, `${n} tables compared`);
  // and every other file (PNG overlays, CSV tallies, images, JSON) except the report's pages, which show timings
  for (const [entry, m] of Object.entries(ea.manifests)) {
    if (m.kind === 'report') continue;
    const sums = (x: any) => Object.fromEntries((x.files as { path: string; sha256: string }[]).map((f) => [f.path, f.sha256]));
    assert.deepEqual(sums(eb.manifests[entry]), sums(m), entry);
  }
  // no table has a timing column
  for (const m of Object.values(ea.manifests)) {
    assert.ok(m.timings && typeof m.timings.seconds === 'number' && m.timings.finished, `${m.kind} timings`);
  }
  // per-item times of ctx.map tables, and LIME's phases, are in the manifests
  const lime = Object.values(ea.manifests).find((m: any) => m.kind === 'lime') as any;
  assert.equal(lime.timings.items.explanations.n, 4);
  assert.ok(lime.timings.items.explanations.phases.perturbation_prediction > 0);
  assert.equal(lime.timings.alone, true, 'the scored LIME stage computes alone');
  const cam = Object.values(ea.manifests).find((m: any) => m.kind === 'cam') as any;
  assert.ok(cam.timings.stage.ms_per_image, 'the cam stage records its phase times with ctx.timing');
  // with --jobs 4, stages computed beside each other say so; the scored LIME stage had nothing beside it
  const limeB = Object.values(eb.manifests).find((m: any) => m.kind === 'lime') as any;
  assert.equal(limeB.timings.alone, true);
  assert.equal(limeB.timings.beside, undefined);
  for (const m of Object.values(eb.manifests) as any[]) assert.ok(!(m.timings.beside ?? []).includes(limeB.stageId), `${m.stageId} beside lime`);
  for (const m of Object.values(ea.manifests) as any[]) assert.equal(m.timings.beside, undefined, `--jobs 1: ${m.stageId} had nothing beside it`);
});
