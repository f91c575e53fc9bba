// Stage `load-model`: validates a model config (params = the config, usually `include: configs/models/<m>.yaml`),
// fingerprints the model file(s) for the cache (reads), opens the model, runs a probe batch, writes the model-info
// tables and records meta.config (the resolved config; paths project-root relative or absolute) for downstream
// stages (`openModel(meta.config, { root: ctx.projectRoot })`), plus meta.backend and meta.suggested_layers.
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import type { Json, StageDef } from '../src/engine/types.ts';
import { ConfigError } from '../src/engine/errors.ts';
import { modelConfigProperties, MODEL_CONFIG_KEYS, type ModelConfig } from '../src/model/config.ts';

export interface LoadModelParams extends ModelConfig {
  /** Images in the probe batch (random pixels; checks the model runs and gives finite logits). */
  probe_batch: number;
}

function abs(p: string, root: string): string {
  return isAbsolute(p) ? p : resolve(root, p);
}

/** The model-config part of the params (a fresh object). */
function pickConfig(p: LoadModelParams): ModelConfig {
  const picked: Record<string, unknown> = {};
  for (const k of MODEL_CONFIG_KEYS) if (p[k] !== undefined) picked[k] = p[k];
  return picked as unknown as ModelConfig;
}

export default {
  kind: 'load-model',
  version: '1',
  description: 'Load and validate a classifier (ONNX or TF.js), probe it, and record its config and layer table',
  params: {
    type: 'object',
    required: ['path'],
    properties: {
      ...modelConfigProperties,
      probe_batch: { type: 'integer', minimum: 1, maximum: 64, default: 2, description: 'images in the probe forward' },
    },
  },
  outputs: {
    layers: { description: 'one row per layer: name, alias, op, shape (C×H×W), units, suggested (for dissection)', type: 'table' },
    labels: { description: 'class index and label', type: 'table' },
    'model-info.txt': { description: 'the `xai inspect` summary', type: 'file' },
  },
  reads(params) {
    // The model file (a TF.js model.json stands for its folder: topology + weight shards) and the labels file.
    const p = params.path;
    const files = [extname(p).toLowerCase() === '.json' ? dirname(p) : p];
    if (params.labels) files.push(params.labels);
    return files;
  },
  async check(params, ctx) {
    // Cheap checks first (no model read), then static model checks (parse, input size, aliases, label count) so
    // a bad model stops the run before anything executes (ConfigError → exit 2).
    const at = (field: string) => `stages.${ctx.stageId}.params.${field}`;
    const file = abs(params.path, ctx.projectRoot);
    if (!existsSync(file)) throw new ConfigError(`model file not found: ${params.path}`, { path: at('path') });
    const st = statSync(file);
    if (st.isDirectory() && !existsSync(resolve(file, 'model.json'))) throw new ConfigError(`${params.path} is a folder without model.json`, { path: at('path') });
    if (!params.format && st.isFile() && !/\.(onnx|json)$/i.test(params.path)) {
      throw new ConfigError(`cannot infer the model format of ${params.path}`, { path: at('format'), expected: 'format: onnx | tfjs-layers | tfjs-graph' });
    }
    if (params.labels && !existsSync(abs(params.labels, ctx.projectRoot))) throw new ConfigError(`labels file not found: ${params.labels}`, { path: at('labels') });
    const { modelFacts } = await import('../src/model/check.ts');
    const { setOrigin } = await import('../src/model/config.ts');
    modelFacts(setOrigin(pickConfig(params), { prefix: ['stages', ctx.stageId, 'params'] }), ctx.projectRoot);
  },
  async checkConsumer(params, consumer, ctx) {
    // The consumers' layer names and class targets against the model's header and labels (src/model/check.ts).
    const { modelFacts, checkConsumerParams } = await import('../src/model/check.ts');
    const facts = modelFacts(pickConfig(params), ctx.projectRoot);
    return facts ? checkConsumerParams(facts, consumer, ctx.stageId) : [];
  },
  async run(ctx) {
    const { openModel, resolvedConfig } = await import('../src/model/index.ts');
    const { setOrigin } = await import('../src/model/config.ts');
    const { suggestDissectionLayers, formatModelInfo, formatShape } = await import('../src/model/inspect.ts');
    const { tableFromRows } = await import('../src/arrow/io.ts');
    const { Field, Int32, Schema, Utf8, Bool } = await import('apache-arrow');
    const { rng } = await import('../src/model/testing/nets.ts');
    const p = ctx.params;
    const config = pickConfig(p);
    setOrigin(config, { prefix: ['stages', ctx.stageId, 'params'] });
    const t0 = performance.now();
    const model = await openModel(config, { root: ctx.projectRoot });
    const info = model.info;
    ctx.log.info(`${info.id}: ${info.runtime} (${info.backend}), input ${info.input.modelChannels ?? info.input.channels}×${info.input.height}×${info.input.width}${info.input.modelChannels === 1 ? ' (grey: RGB images reduced by luma)' : ''}, ${info.numClasses} classes, ${info.layers.length} layers, opened in ${((performance.now() - t0) / 1000).toFixed(2)} s`);

    // Probe batch: random pixels, normalised as the config says; logits must be finite.
    const { channels: c, height: h, width: w, scale, mean, std } = info.input;
    const n = p.probe_batch;
    const r = rng(1);
    const data = new Float32Array(n * c * h * w);
    for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) data[(b * c + ch) * h * w + i] = (Math.floor(r() * 256) * scale - mean[ch]) / std[ch];
    const t1 = performance.now();
    const { logits } = await model.predict({ data, shape: [n, c, h, w] });
    const ms = (performance.now() - t1) / n;
    if (!logits.data.every(Number.isFinite)) throw new Error(`model ${info.id}: the probe batch gave non-finite logits`);
    ctx.log.info(`probe: ${n} images, ${ms.toFixed(1)} ms/image`);
    // Outputs: the config's output_type, else detected on the probe (rows ≥ 0 summing to 1 → probabilities).
    const { looksLikeProbabilities } = await import('../src/model/common.ts');
    const detected = looksLikeProbabilities(logits) ? 'probabilities' : 'logits';
    const outputType = p.output_type ?? detected;
    if (p.output_type && p.output_type !== detected) ctx.log.warn(`output_type: ${p.output_type} (set in the config; the probe's outputs look like ${detected})`);
    else if (outputType === 'probabilities') ctx.log.info(`outputs are probabilities (${p.output_type ? 'output_type in the config' : 'detected on the probe: rows ≥ 0 summing to 1'}): no softmax is applied downstream`);
    config.output_type = outputType;

    const suggested = new Set(suggestDissectionLayers(info).map((l) => l.name));
    const layerSchema = new Schema([
      new Field('name', new Utf8(), false),
      new Field('alias', new Utf8(), true),
      new Field('op', new Utf8(), false),
      new Field('shape', new Utf8(), false),
      new Field('units', new Int32(), false),
      new Field('suggested', new Bool(), false),
    ]);
    await ctx.out.table(
      'layers',
      tableFromRows(
        info.layers.map((l) => ({ name: l.name, alias: l.alias ?? null, op: l.op, shape: formatShape(l.shape), units: l.units, suggested: suggested.has(l.name) })),
        layerSchema,
      ),
    );
    const labelSchema = new Schema([new Field('index', new Int32(), false), new Field('label', new Utf8(), false)]);
    await ctx.out.table('labels', tableFromRows(info.labels.map((label, index) => ({ index, label })), labelSchema));
    await ctx.out.file('model-info.txt', formatModelInfo(info, { file: config.path }) + '\n');

    ctx.out.meta('config', resolvedConfig(config, model, ctx.projectRoot) as unknown as Json);
    ctx.out.meta('backend', info.backend);
    ctx.out.meta('runtime', info.runtime);
    ctx.out.meta('num_classes', info.numClasses);
    ctx.out.meta('output_type', outputType);
    ctx.out.meta('suggested_layers', [...suggested].map((name) => info.layers.find((l) => l.name === name)!.alias ?? name));
    ctx.timing('probe_ms_per_image', Math.round(ms * 100) / 100);
  },
} satisfies StageDef<LoadModelParams>;
