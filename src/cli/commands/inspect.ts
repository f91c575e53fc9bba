// xai inspect <model-file | model-config.yaml> [--backend B] [--json]
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from '../args.ts';
import { ConfigError } from '../../engine/errors.ts';

export const summary = 'Describe a model: runtime, input spec, layers with shapes and units, parameters, dissection layers';
export const usage = `Usage: xai inspect <model.onnx | model.json | model folder | configs/models/<m>.yaml> [options]

Opens the model (as the load-model stage would), runs a probe forward for layer shapes and prints the runtime and
backend, the input spec, every layer with its output shape (C×H×W) and unit count, the parameter count and the
suggested layers for dissection (the last block output at each resolution).

Options:
  --backend B   TF.js backend: tfjs-node-gpu | tfjs-node | wasm | cpu (default: first available; env XAI_TFJS_BACKEND)
  --json        JSON output (the ModelInfo plus suggested_layers)
  -h, --help    this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('inspect', argv, { backend: { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new ConfigError(`xai inspect: expected one model file or model config, got ${positionals.length}`, { suggestion: 'see xai inspect --help' });
  const target = positionals[0];
  const root = process.cwd();
  const { loadModelConfig, openModel } = await import('../../model/index.ts');
  const { suggestDissectionLayers, formatModelInfo } = await import('../../model/inspect.ts');
  const isConfig = ['.yaml', '.yml'].includes(extname(target).toLowerCase());
  if (!existsSync(target)) throw new ConfigError(`xai inspect: ${isConfig ? 'model config' : 'model file'} not found: ${target}`);
  const config = isConfig ? loadModelConfig(target, { root }) : { path: target };
  if (typeof values.backend === 'string') {
    const ok = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
    if (!ok.includes(values.backend)) throw new ConfigError(`xai inspect: --backend must be one of ${ok.join(', ')}, got '${values.backend}'`);
    (config as { backend?: string }).backend = values.backend;
  }
  const model = await openModel(config, { root });
  if (values.json) {
    const suggested = suggestDissectionLayers(model.info).map((l) => l.alias ?? l.name);
    process.stdout.write(JSON.stringify({ ...model.info, suggested_layers: suggested }, null, 2) + '\n');
  } else {
    process.stdout.write(formatModelInfo(model.info, { file: config.path }) + '\n');
  }
  await model.dispose();
  return 0;
}
