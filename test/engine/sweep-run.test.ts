// `xai sweep` end to end on fixture stages (fake CAM and LIME tables, the real compare and scoreboard stages):
// cache reuse across combinations (stage executions counted), the scoreboard table and its Pareto front, a no-op
// rerun, resume after SIGKILL, CLI grids, config errors; `xai runs` and `xai compare` on the sweep's runs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { xai, xaiAsync, waitFor } from './helpers.ts';
import { compareProject } from '../stages/compare-helpers.ts';
import { readArrowFile, tableToJsonRows } from '../../src/arrow/io.ts';

// cams: pixel i of every image has value 1 − i/16, so the same-count CAM mask is the first k pixels.
const CAM = Array.from({ length: 16 }, (_, i) => 1 - i / 16);
const PIPE = `name: sw
stages:
  cams:
    uses: fake-cam
    params:
      maps:
${[0, 1, 2].map((i) => `        - { image: img${i}, index: ${i}, method: gradcam, layer: l, target: 0, cam: ${JSON.stringify(CAM)} }`).join('\n')}
  lime:
    uses: fake-lime
    params: { count: 3, num_samples: 1000 }
  cmp:
    uses: compare
    inputs: { cams: cams, lime: lime }
  board:
    uses: scoreboard
    inputs: { lime: lime, compare: cmp }
  other:
    uses: squares
    params: { count: 2 }
sweep:
  grid:
    stages.lime.num_samples: [200, 500]
    stages.lime.segmentation_fn.name: [quickshift, slic]
`;
// fake-lime: mask = first k = num_samples/100 pixels (slic: shifted by one) → IoU with the CAM 1 (quickshift) or
// (k−1)/(k+1) (slic); total_ms = num_samples (× 2 for slic).
const expected = (n: number, seg: string) => {
  const k = n / 100;
  return { iou: seg === 'slic' ? Math.round(((k - 1) / (k + 1)) * 1e4) / 1e4 : 1, time: (n * (seg === 'slic' ? 2 : 1)) / 1000 };
};

const projects: { cleanup(): void }[] = [];
after(() => projects.forEach((p) => p.cleanup()));
function setup() {
  const p = compareProject({ 'pipelines/sw.yaml': PIPE });
  projects.push(p);
  return p;
}
const counts = (p: { dir: string }) => {
  const f = join(p.dir, 'count.txt');
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : [];
};
const board = (p: { dir: string }) => tableToJsonRows(readArrowFile(join(p.dir, 'artifacts/sweeps/sw/latest/scoreboard.arrow'))) as Record<string, any>[];

test('sweep: each combination reuses the cached upstream stages; scoreboard + Pareto front; a finished sweep reruns as no-ops', () => {
  const p = setup();
  const env = { XAI_TEST_COUNT_FILE: join(p.dir, 'count.txt') };
  const r = xai(p.dir, ['sweep', 'pipelines/sw.yaml'], env);
  assert.equal(r.code, 0, r.stderr);
  const c = counts(p);
  // fake-cam ran once for the four combinations; fake-lime explained 3 images per combination, each once.
  assert.equal(c.filter((l) => l === 'fake-cam').length, 1);
  const limeLines = c.filter((l) => l.startsWith('fake-lime'));
  assert.equal(limeLines.length, 12);
  assert.equal(new Set(limeLines).size, 12);
  // The stage not upstream of the scoreboard never ran.
  assert.ok(!existsSync(join(p.dir, 'artifacts/cache/squares')));
  // Run records: compare and scoreboard computed in every combination, cams only in the first.
  const rows = board(p);
  assert.equal(rows.length, 4);
  const recs = rows.map((row) => p.json(`artifacts/runs/sw/${row.run_id}.json`));
  assert.deepEqual(recs.map((x) => x.stages.cams.status), ['done', 'cached', 'cached', 'cached']);
  assert.deepEqual(recs.map((x) => x.stages.lime.status), ['done', 'done', 'done', 'done']);
  assert.deepEqual(recs.map((x) => x.stages.board.status), ['done', 'done', 'done', 'done']);
  assert.ok(recs.every((x) => x.sweep && !('other' in x.stages)));
  assert.deepEqual(recs[3].overrides, ['stages.lime.num_samples=500', 'stages.lime.segmentation_fn.name="slic"']);
  // The scoreboard: a row per combination with the swept values and the scoreboard stage's numbers.
  for (const row of rows) {
    assert.equal(row.status, 'ok');
    const e = expected(row['lime.num_samples'], row['lime.segmentation_fn.name']);
    assert.equal(row.avg_iou, e.iou, row.run_id);
    assert.equal(row.avg_time, e.time, row.run_id);
    assert.equal(row.n_images, 3);
    assert.equal(row.against, 'cam:gradcam@l');
  }
  assert.deepEqual(rows.map((x) => [x['lime.num_samples'], x['lime.segmentation_fn.name']]), [[200, 'quickshift'], [200, 'slic'], [500, 'quickshift'], [500, 'slic']]);
  // a swept column keeps its parameter's type (num_samples is an integer param)
  const sbSchema = readArrowFile(join(p.dir, 'artifacts/sweeps/sw/latest/scoreboard.arrow')).schema;
  assert.equal(String(sbSchema.fields.find((f) => f.name === 'lime.num_samples')!.type), 'Int64');
  assert.equal(String(sbSchema.fields.find((f) => f.name === 'lime.segmentation_fn.name')!.type), 'Utf8');
  // and follows the tables' conventions: sweep metadata, a description per column
  assert.equal(sbSchema.metadata.get('xai.kind'), 'sweep');
  assert.equal(sbSchema.metadata.get('xai.pipeline'), 'sw');
  assert.deepEqual(sbSchema.fields.filter((f) => !f.metadata.get('xai.description')).map((f) => f.name), []);
  // Pareto (max IoU, min time): (200, quickshift) dominates every other point.
  assert.deepEqual(rows.map((x) => x.pareto), [true, false, false, false]);
  const front = tableToJsonRows(readArrowFile(join(p.dir, 'artifacts/sweeps/sw/latest/pareto.arrow')));
  assert.deepEqual(front.map((x: any) => x.run_id), [rows[0].run_id]);
  assert.ok(readFileSync(join(p.dir, 'artifacts/sweeps/sw/latest/pareto.svg'), 'utf8').startsWith('<svg'));
  // Printed at the end.
  assert.match(r.stdout, /run id\s+lime\.num_samples\s+segmentation_fn\.name\s+avg_iou\s+avg_time\s+n\s+pareto/);
  assert.match(r.stdout, new RegExp(`${rows[0].run_id.replace('.', '\\.')}\\s+200\\s+quickshift\\s+1\\.0000\\s+0\\.200\\s+3\\s+\\*`));
  // The plain run's state is untouched by the sweep.
  assert.ok(!existsSync(join(p.dir, 'artifacts/runs/sw/latest.json')));

  // Rerun: nothing computed, same ids.
  const r2 = xai(p.dir, ['sweep', 'pipelines/sw.yaml'], env);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(counts(p).length, c.length);
  assert.equal((r2.stderr.match(/computed: nothing, all cached/g) ?? []).length, 4);
  assert.deepEqual(board(p).map((x) => x.run_id), rows.map((x) => x.run_id));
  assert.deepEqual(board(p).map((x) => x.avg_iou), rows.map((x) => x.avg_iou));

  // `xai gc` keeps the entries of the latest sweep (so it keeps rerunning as no-ops).
  const gc = xai(p.dir, ['gc']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, /nothing to delete/);

  // `xai runs` lists the combinations with their overrides and metrics; `xai compare` diffs two.
  const runs = xai(p.dir, ['runs', 'pipelines/sw.yaml']);
  assert.equal(runs.code, 0, runs.stderr);
  for (const row of rows) assert.match(runs.stdout, new RegExp(row.run_id.replace('.', '\\.')));
  assert.match(runs.stdout, /lime\.num_samples=500 lime\.segmentation_fn\.name=slic/);
  assert.match(runs.stdout, /avg_iou=0\.6667 avg_time=1/);
  const cmp = xai(p.dir, ['compare', rows[0].run_id, rows[3].run_id, '--only-changed'], { COLUMNS: '100' });
  assert.equal(cmp.code, 0, cmp.stderr);
  assert.match(cmp.stdout, /\* lime\.num_samples\s+200\s+500/);
  assert.match(cmp.stdout, /\* lime\.segmentation_fn\.name\s+quickshift\s+slic/);
  assert.match(cmp.stdout, /\* board\.avg_iou\s+1\s+0\.6667 \(-0\.3333\)/);
  assert.doesNotMatch(cmp.stdout, /kernel_width/); // unchanged: hidden
  assert.doesNotMatch(cmp.stdout, /^\s+cams\s/m); // same outputs: hidden
  assert.ok(cmp.stdout.split('\n').every((l) => l.length <= 100), 'fits the terminal');
  const full = xai(p.dir, ['compare', rows[0].run_id.slice(0, 8), rows[3].run_id.slice(0, 8)]);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /  lime\.kernel_width\s+0\.25\s+0\.25/);
  assert.match(full.stdout, /^  cams\s+cached [0-9a-f]{12}\s+cached [0-9a-f]{12}$/m); // the rerun recorded both as cache hits, same key
});

test('a killed sweep resumes where it stopped: finished combinations are not recomputed', async () => {
  const p = setup();
  const env = { XAI_TEST_COUNT_FILE: join(p.dir, 'count.txt') };
  const run = xaiAsync(p.dir, ['sweep', 'pipelines/sw.yaml'], { ...env, XAI_TEST_SLEEP_MS: '250' });
  // Kill during the second combination (after its first image).
  await waitFor(() => counts(p).filter((l) => l.startsWith('fake-lime')).length >= 4, 60000, 'the second combination');
  run.child.kill('SIGKILL');
  await run.done;
  const before = counts(p).filter((l) => l.startsWith('fake-lime'));
  assert.ok(before.length >= 4 && before.length < 12, String(before.length));
  const r = xai(p.dir, ['sweep', 'pipelines/sw.yaml'], env);
  assert.equal(r.code, 0, r.stderr);
  const all = counts(p).filter((l) => l.startsWith('fake-lime'));
  // Every image of every combination explained once (one in-flight image at the kill may be redone).
  assert.equal(new Set(all).size, 12);
  assert.ok(all.length <= 13, `${all.length} explanations`);
  const first = all.filter((l) => l.includes('num_samples=200 seg=quickshift'));
  assert.equal(first.length, 3, 'the finished first combination was not recomputed');
  assert.match(r.stderr, /\[1\/4\] \S+ ok in [\d.]+s \(computed: nothing, all cached\)/);
  assert.equal(board(p).filter((x) => x.status === 'ok').length, 4);
  assert.equal(counts(p).filter((l) => l === 'fake-cam').length, 1);
});

test('CLI grid replaces the block; --dry-run; config errors are located, nothing runs', () => {
  const p = setup();
  const dry = xai(p.dir, ['sweep', 'pipelines/sw.yaml', '--grid', 'stages.lime.num_samples=300,400,800', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^300\.[0-9a-f]{8}  stages\.lime\.num_samples=300$/m);
  assert.match(dry.stdout, /3 combination\(s\)/);
  const rnd = xai(p.dir, ['sweep', 'pipelines/sw.yaml', '--random', 'stages.lime.num_samples=int(100,900)', '--trials', '3', '--seed', '5', '--dry-run']);
  assert.equal(rnd.code, 0, rnd.stderr);
  const rnd2 = xai(p.dir, ['sweep', 'pipelines/sw.yaml', '--random', 'stages.lime.num_samples=int(100,900)', '--trials', '3', '--seed', '5', '--dry-run']);
  assert.equal(rnd.stdout, rnd2.stdout);
  assert.equal(rnd.stdout.trim().split('\n').length, 4);
  assert.ok(!existsSync(join(p.dir, 'artifacts/cache')));

  p.write('pipelines/bad.yaml', PIPE.replace('stages.lime.segmentation_fn.name', 'stages.lmie.segmentation_fn.name'));
  const bad = xai(p.dir, ['sweep', 'pipelines/bad.yaml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /pipelines\/bad\.yaml:\d+:\d+: stages\.lmie\.segmentation_fn\.name: no stage 'lmie' in the pipeline \(did you mean 'lime'\?\)/);
  p.write('pipelines/bad3.yaml', PIPE.replace('stages.lime.num_samples: [200, 500]', 'stages.lime.num_samples: 200'));
  const bad3 = xai(p.dir, ['sweep', 'pipelines/bad3.yaml']);
  assert.equal(bad3.code, 2);
  assert.match(bad3.stderr, /pipelines\/bad3\.yaml:\d+:\d+: sweep\.grid\.stages\.lime\.num_samples/);
  p.write('pipelines/plain.yaml', PIPE.replace(/sweep:[\s\S]*$/, ''));
  const plain = xai(p.dir, ['sweep', 'pipelines/plain.yaml']);
  assert.equal(plain.code, 2);
  assert.match(plain.stderr, /nothing to sweep/);
  const wrongType = xai(p.dir, ['sweep', 'pipelines/plain.yaml', '--grid', 'stages.lime.num_samples=a,b']);
  assert.equal(wrongType.code, 2);
  assert.match(wrongType.stderr, /combination a\.\S+ \(stages\.lime\.num_samples="a"\).*num_samples/s);
  assert.ok(!existsSync(join(p.dir, 'artifacts/cache')));
});

test('--parallel 2 runs two combinations at once: their images interleave, the common upstream computes once, the boards equal a sequential sweep', () => {
  const seq = setup();
  assert.equal(xai(seq.dir, ['sweep', 'pipelines/sw.yaml']).code, 0);
  const p = setup();
  const env = { XAI_TEST_COUNT_FILE: join(p.dir, 'count.txt'), XAI_TEST_SLEEP_MS: '100' };
  const r = xai(p.dir, ['sweep', 'pipelines/sw.yaml', '--parallel', '2'], env);
  assert.equal(r.code, 0, r.stderr);
  const c = counts(p);
  assert.equal(c.filter((l) => l === 'fake-cam').length, 1, 'the CAM stage common to every combination ran once');
  const lime = c.filter((l) => l.startsWith('fake-lime'));
  assert.equal(new Set(lime).size, 12);
  assert.equal(lime.length, 12);
  // the first two combinations ran beside each other: the second one's first image before the first one's last
  const first = lime.findIndex((l) => l.includes('num_samples=200 seg=slic'));
  const lastOfFirst = lime.findLastIndex((l) => l.includes('num_samples=200 seg=quickshift'));
  assert.ok(first >= 0 && first < lastOfFirst, lime.join('\n'));
  const strip = (rows: Record<string, any>[]) => rows.map(({ run_id, avg_iou, n_images, status }) => ({ run_id, avg_iou, n_images, status }));
  assert.deepEqual(strip(board(p)), strip(board(seq)));
  // one combination computed cams, the others found it done (cached, or the same execution as that run's)
  const recs = board(p).map((row) => p.json(`artifacts/runs/sw/${row.run_id}.json`));
  assert.equal(recs.filter((x) => x.stages.cams.status === 'done').length, 1);
  assert.ok(recs.every((x) => x.sweep.parallel === 2));
  // no LIME claims to have computed alone; the first two record each other beside them
  const limeTimings = recs.map((x) => p.json(`artifacts/cache/fake-lime/${x.stages.lime.key}/manifest.json`).timings);
  assert.ok(limeTimings.every((t) => !t.alone));
  assert.ok(limeTimings[0].beside.includes(`${board(p)[1].run_id}/lime`), `${board(p)[1].run_id} ${JSON.stringify(limeTimings[0])}`);
  // nothing left locked
  assert.ok(!existsSync(join(p.dir, 'artifacts/lock')));
});
