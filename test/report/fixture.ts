// A small demo run for the report tests: the real stages on the embedded demo model (models/demo) and a few synthetic
// "shapes" images — CAMs (3 methods), LIME (few samples), compare, scoreboard, a 3-layer dissection, a
// compare-concepts stage and the report stage — in a temporary project. About 20 s on one core.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repo = resolve(import.meta.dirname, '..', '..');
export const bin = join(repo, 'bin', 'xai.mjs');
const modelConfig = join(repo, 'configs', 'models', 'demo.yaml');
const modelFile = join(repo, 'models', 'demo', 'model.onnx');

/** Why the fixture cannot be built here (the demo model is missing), or undefined. */
export function fixtureMissing(): string | undefined {
  return existsSync(modelConfig) && existsSync(modelFile) ? undefined : 'models/demo (the embedded demo model) is not in the repository';
}

export const IMAGES = 4;
export const DISSECT_IMAGES = 24;

/** Writes the pipeline into a fresh temporary project, runs it in-process, returns the project dir and run record. */
export async function buildFixture(): Promise<{ dir: string; record: import('../../src/engine/runs.ts').RunRecord }> {
  const { analyze } = await import('../../src/engine/analyze.ts');
  const { executePlan } = await import('../../src/engine/runner.ts');
  const { EventBus } = await import('../../src/engine/events.ts');
  const { closeModels } = await import('../../src/model/index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'xai-report-'));
  const st = (k: string) => JSON.stringify(join(repo, 'stages', `${k}.ts`));
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  writeFileSync(
    join(dir, 'pipelines', 'demo.yaml'),
    `name: reportdemo
description: report test run (demo model, ${IMAGES} images explained, ${DISSECT_IMAGES} dissected)
stages:
  shapes: { uses: ${st('synth-dataset')}, params: { count: ${DISSECT_IMAGES}, size: 128, seed: 2, valFraction: 1, maxObjects: 3 } }
  model: { uses: ${st('load-model')}, include: ${JSON.stringify(modelConfig)}, params: { path: ${JSON.stringify(modelFile)}, labels: ${JSON.stringify(join(repo, 'models', 'demo', 'labels.txt'))} } }
  cams: { uses: ${st('cam')}, inputs: { model: model, images: shapes }, params: { methods: [gradcam, gradcam++, eigencam], layers: [layer3], limit: ${IMAGES} } }
  lime: { uses: ${st('lime')}, inputs: { model: model, images: shapes }, params: { num_samples: 100, top_labels: 1, limit: ${IMAGES}, random_state: 0 } }
  compare: { uses: ${st('compare')}, inputs: { lime: lime, cams: cams, images: shapes } }
  board: { uses: ${st('scoreboard')}, inputs: { lime: lime, compare: compare } }
  acts: { uses: ${st('collect-activations')}, inputs: { model: model, dataset: shapes }, params: { layers: [layer1, layer2, layer3], batchSize: ${DISSECT_IMAGES} } }
  thresholds: { uses: ${st('quantile-thresholds')}, inputs: { activations: acts } }
  units: { uses: ${st('label-units')}, inputs: { activations: acts, thresholds: thresholds }, params: { topN: 5 } }
  l2l3: { uses: ${st('compare-concepts')}, inputs: { a: units, b: units }, params: { layersA: [layer2], layersB: [layer3], nameA: layer2, nameB: layer3 } }
  report:
    uses: ${st('report')}
    inputs: { cams: cams, lime: lime, compare: compare, scoreboard: board, dissection: units, concepts: l2l3 }
    params: { topImages: 4, thumb: 64 }
`,
  );
  const plan = await analyze(join(dir, 'pipelines', 'demo.yaml'), { root: dir });
  const bus = new EventBus();
  const errors: string[] = [];
  bus.on((e) => {
    if (e.type === 'stage-failed') errors.push(`${e.stageId}: ${e.error}`);
  });
  const r = await executePlan(plan, { bus, jobs: 1 });
  await closeModels();
  if (errors.length || !r.ok) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`fixture pipeline failed: ${errors.join('; ')}`);
  }
  return { dir, record: r.record };
}
