// Entry point of the model runtime: `openModel(config, { root })` → a `Model` (ONNX on onnxruntime-node, or TF.js),
// with a process-level cache of open models keyed by the config and the model file's identity (size + mtime).
//
//   import { loadModelConfig, openModel } from '../src/model/index.ts';
//   const model = await openModel(loadModelConfig('configs/models/resnet18.yaml'), { root: process.cwd() });
//   const { logits, probs } = await model.predict({ data, shape: [n, 3, 224, 224] });
import { statSync } from 'node:fs';
import { ConfigError } from '../engine/errors.ts';
import { configError, inferFormat, modelFilePath, portablePath, absPath, type ModelConfig } from './config.ts';
import type { Model } from './types.ts';
import { acceptRgb } from './channels.ts';

export type { Model, ModelInfo, Tensor, LayerInfo, InputSpec, GradientResult } from './types.ts';
export {
  loadModelConfig,
  validateModelConfig,
  modelConfigSchema,
  modelConfigProperties,
  modelFiles,
  inferFormat,
  type ModelConfig,
  type ModelFormat,
} from './config.ts';

export interface OpenOptions {
  /** Project root: relative paths in the config resolve against it. Default: cwd. */
  root?: string;
  /** Skip the cache (a fresh Model, not shared). */
  fresh?: boolean;
}

const cache = new Map<string, Promise<Model>>();

function cacheKey(config: ModelConfig, root: string): string {
  const file = modelFilePath(config, root);
  let stamp = 'missing';
  try {
    const s = statSync(file);
    stamp = `${s.size}:${s.mtimeMs}`;
  } catch {
    /* reported by the opener */
  }
  let labels = '';
  if (config.labels) {
    try {
      const s = statSync(absPath(config.labels, root));
      labels = `${s.size}:${s.mtimeMs}`;
    } catch {
      /* reported by the opener */
    }
  }
  return JSON.stringify([root, config, stamp, labels]);
}

/** Opens (or returns the cached) model for a config. Bad models → ConfigError naming the file and the mismatch. */
export function openModel(config: ModelConfig, opts: OpenOptions = {}): Promise<Model> {
  const root = opts.root ?? process.cwd();
  const key = cacheKey(config, root);
  if (!opts.fresh) {
    const hit = cache.get(key);
    if (hit) return hit;
  }
  const p = (async () => {
    const file = modelFilePath(config, root);
    try {
      statSync(file);
    } catch {
      throw configError(config, ['path'], `model file not found: ${portablePath(file, root)}`);
    }
    const format = inferFormat(config, root);
    let model: Model;
    if (format === 'onnx') {
      const { OnnxModel } = await import('./onnx/runtime.ts');
      model = await OnnxModel.open(config, root);
    } else {
      const { TfjsModel } = await import('./tfjs/runtime.ts');
      model = await TfjsModel.open(config, root, format);
    }
    // Grey models also take the RGB batches every image path produces (luma at the boundary, channels.ts).
    return model.info.input.channels === 1 ? acceptRgb(model) : model;
  })();
  if (!opts.fresh) {
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** Disposes every cached model (end of a run / tests). */
export async function closeModels(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) {
    try {
      await (await p).dispose();
    } catch {
      /* failed opens have nothing to dispose */
    }
  }
}

/**
 * The config recorded by `load-model` as meta.config: validated fields, format resolved, paths root-relative when
 * inside the root (absolute otherwise), input spec filled from the opened model.
 */
export function resolvedConfig(config: ModelConfig, model: Model, root: string): ModelConfig {
  const i = model.info.input;
  const out: ModelConfig = {
    ...config,
    name: model.info.id,
    path: portablePath(absPath(config.path, root), root),
    format: inferFormat(config, root),
    input: {
      size: [i.height, i.width],
      channels: i.modelChannels ?? i.channels,
      channel_order: i.channelOrder,
      layout: i.layout,
      scale: i.scale,
      // one value per channel (InputSpec pads a grey model's to three): reopening the config must pass its checks
      mean: i.mean.slice(0, i.modelChannels ?? i.channels),
      std: i.std.slice(0, i.modelChannels ?? i.channels),
    },
  };
  if (config.labels) out.labels = portablePath(absPath(config.labels, root), root);
  return out;
}

/**
 * The model of an upstream `load-model` stage: its recorded meta.config, opened against the project root (stages that
 * take a `model` input: collect-activations, cam, lime).
 */
export function openUpstreamModel(input: { stageId: string; meta: Record<string, unknown> }, root: string): Promise<Model> {
  const config = input.meta.config;
  if (!config || typeof config !== 'object') throw new ConfigError(`stage '${input.stageId}' recorded no model config (meta.config): connect a load-model stage`);
  return openModel(config as ModelConfig, { root });
}

export { ConfigError };
