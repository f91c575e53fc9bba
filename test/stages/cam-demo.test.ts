// Stage `cam` on the embedded demo model (models/demo, configs/models/demo*.yaml):
// - gradient-based CAMs (and EigenCAM) agree between the ONNX and the TF.js runtimes;
// - pointing game: Grad-CAM at the last conv layer (layer3) puts its maximum inside the ground-truth object mask on
//   ≥ 80% of 100 held-out images (the held-out seed 2 of configs/datasets/shapes-eval.yaml), through the CLI.
// Skipped (with a message) when the demo model has not been trained/committed yet.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { tableFromIPC } from 'apache-arrow';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repo, 'bin', 'xai.mjs');
const cfgOnnx = join(repo, 'configs/models/demo.yaml');
const cfgTfjs = join(repo, 'configs/models/demo-tfjs.yaml');
function modelFile(cfg: string): string | undefined {
  if (!existsSync(cfg)) return undefined;
  const p = (parse(readFileSync(cfg, 'utf8')) as { path?: string }).path;
  return p && existsSync(resolve(repo, p)) ? resolve(repo, p) : undefined;
}
const missing = !modelFile(cfgOnnx) || !modelFile(cfgTfjs) ? 'demo model not present (configs/models/demo*.yaml, models/demo)' : false;

let dir = '';
before(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'xai-cam-demo-'));
});
after(async () => {
  const { closeModels } = await import('../../src/model/index.ts');
  await closeModels();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The repo's demo config with absolute paths, written into the temp project. */
function absConfig(cfg: string, rel: string): string {
  const doc = parse(readFileSync(cfg, 'utf8')) as Record<string, unknown>;
  doc.path = resolve(repo, doc.path as string);
  if (doc.labels) doc.labels = resolve(repo, doc.labels as string);
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), stringify(doc));
  return rel;
}

test('demo model: gradient CAMs (and EigenCAM) equal between ONNX and TF.js', { skip: missing }, async () => {
  const { generateShapes } = await import('../../src/data/synth/shapes.ts');
  const { openDataset } = await import('../../src/data/index.ts');
  const { loadModelConfig, openModel } = await import('../../src/model/index.ts');
  const { computeCams } = await import('../../src/explain/cam.ts');
  const res = await generateShapes(join(dir, 'eq'), { count: 6, size: 128, seed: 4 });
  const ds = await openDataset(res.ref);
  const items = ds.items.slice(0, 6);
  const methods = ['gradcam', 'gradcam++', 'xgradcam', 'hirescam', 'layercam', 'eigencam'];
  const run = async (cfg: string) => {
    const model = await openModel(loadModelConfig(cfg, { root: repo }), { root: repo, fresh: true });
    const rows = await computeCams({
      model,
      items,
      indices: items.map((_, i) => i),
      methods: methods as never,
      layerSets: [['layer3'], ['layer2']],
      targets: items.map(() => 'top1' as const),
      eigenSmooth: false,
      ablation: { batchSize: 32, value: 'library' },
      scoreBatchSize: 16,
      overlay: { enabled: false, imageWeight: 0.5 },
      loadOpts: {},
      writeFile: async () => {},
      timing: {},
      counts: { forwards: 0, gradientCalls: 0, headRows: 0, maskedForwards: 0 },
    });
    await model.dispose();
    return { rows: rows.flat(), backend: model.info.backend };
  };
  const a = await run(cfgOnnx);
  const b = await run(cfgTfjs);
  assert.match(a.backend, /onnxruntime/);
  assert.match(b.backend, /tfjs/);
  assert.equal(a.rows.length, items.length * methods.length * 2);
  let worst = 0;
  for (let i = 0; i < a.rows.length; i++) {
    const x = a.rows[i] as Record<string, any>;
    const y = b.rows[i] as Record<string, any>;
    assert.deepEqual([y.image, y.method, y.layer, y.target], [x.image, x.method, x.layer, x.target]);
    assert.ok(Math.abs(x.score - y.score) < 1e-3 * (1 + Math.abs(x.score)), `score ${x.score} vs ${y.score}`);
    let d = 0;
    for (let p = 0; p < x.cam.length; p++) d = Math.max(d, Math.abs(x.cam[p] - y.cam[p]));
    assert.ok(d < 2e-3, `${x.method}@${x.layer} ${x.image}: ONNX vs TF.js max |Δcam| = ${d}`);
    worst = Math.max(worst, d);
  }
  console.log(`# ONNX vs TF.js: max |Δcam| over ${a.rows.length} cams (6 methods × 2 layers × 6 images) = ${worst.toExponential(2)}`);
});

test('demo model: pointing game of Grad-CAM at layer3 on 100 held-out images ≥ 80% (through the CLI)', { skip: missing }, () => {
  const uses = (k: string) => JSON.stringify(join(repo, 'stages', `${k}.ts`));
  absConfig(cfgOnnx, 'configs/demo.yaml');
  writeFileSync(
    join(dir, 'p.yaml'),
    `name: p
stages:
  heldout:
    uses: ${uses('synth-dataset')}
    params: { count: 100, size: 128, seed: 2, valFraction: 1, maxObjects: 3 }
  model:
    uses: ${uses('load-model')}
    include: configs/demo.yaml
  cams:
    uses: ${uses('cam')}
    inputs: { model: model, images: heldout }
    params: { methods: [gradcam], layers: [layer3], batch_size: 16, overlay: { enabled: false } }
`,
  );
  const r = spawnSync(process.execPath, [bin, 'run', 'p.yaml'], { cwd: dir, env: { ...process.env, CI: '1' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(readFileSync(join(dir, 'artifacts/p/cams/manifest.json'), 'utf8'));
  const pg = m.meta.pointing_game['gradcam@layer3'];
  console.log(`# pointing game gradcam@layer3: ${pg.hits}/${pg.total} = ${(100 * pg.rate).toFixed(1)}%`);
  assert.equal(pg.total, 100);
  assert.ok(pg.rate >= 0.8, `pointing game ${pg.hits}/${pg.total}`);
  // the stage counts it as the items are computed (chunk sums); the table's in_mask column gives the same count
  const inMask = tableFromIPC(readFileSync(join(dir, 'artifacts/p/cams', m.tables.cams.file))).getChild('in_mask')!;
  assert.equal(pg.hits, Array.from({ length: inMask.length }, (_, i) => inMask.get(i)).filter((x) => x === true).length);
});
