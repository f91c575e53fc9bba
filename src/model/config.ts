// Model configs (`configs/models/*.yaml`): schema, loading with located errors, path resolution, format inference,
// labels files. Relative paths in a config are relative to the project root (as in pipelines).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError, ConfigErrors } from '../engine/errors.ts';
import { compile, closeSchema, toConfigErrors } from '../engine/validate.ts';
import { loadYaml, locate, type PathSeg, type YamlSource } from '../engine/yamlsrc.ts';

export type ModelFormat = 'onnx' | 'tfjs-layers' | 'tfjs-graph';
export type TfjsBackendName = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

export interface ModelConfig {
  /** Model id (default: the model file's base name). */
  name?: string;
  /** Model file: `.onnx`, or a TF.js `model.json` (or the folder holding it). */
  path: string;
  /** Inferred from the file when omitted. */
  format?: ModelFormat;
  input?: {
    /** Height and width: one number for square inputs, or [height, width]. Taken from the model when fixed there. */
    size?: number | [number, number];
    channels?: number;
    channel_order?: 'RGB' | 'BGR';
    /** Layout of the model's own input (batches across the Model interface are NCHW regardless). */
    layout?: 'NCHW' | 'NHWC';
    /** pixel [0,255] · scale, then (· − mean) / std per channel. Default 1/255, mean 0, std 1. */
    scale?: number;
    mean?: number[];
    std?: number[];
  };
  /** Class-label file, one label per line (count must equal the model's class count). */
  labels?: string;
  /** Layer aliases → tensor names (ONNX value names / TF.js layer names). */
  layers?: Record<string, string>;
  /** The logits tensor (default: the model's first output). */
  output?: string;
  /**
   * What that output holds: 'logits' (softmax applied by the runtimes) or 'probabilities' (the model ends in its own
   * softmax: used as they are). Default: load-model detects it on its probe batch (rows ≥ 0 summing to 1).
   */
  output_type?: 'logits' | 'probabilities';
  /** TF.js backend (default: first available of tfjs-node-gpu, tfjs-node, wasm, cpu; env XAI_TFJS_BACKEND). */
  backend?: TfjsBackendName;
  /** Intra-op threads for onnxruntime (default: CPU cores). */
  threads?: number;
  /** Memory budget for batching, MiB (default 512). */
  memory_budget_mb?: number;
  /** onnxruntime execution provider (default cpu; env XAI_ORT_EP wins). cuda needs the CUDA EP install (README). */
  execution_provider?: 'cpu' | 'cuda';
}

/** The JSON schema of a model config (also the core of the `load-model` stage params). */
export const modelConfigProperties = {
  name: { type: 'string', minLength: 1, description: 'model id (default: file base name)' },
  path: { type: 'string', minLength: 1, description: 'model file (.onnx, or TF.js model.json / its folder), project-root relative' },
  format: { enum: ['onnx', 'tfjs-layers', 'tfjs-graph'], description: 'inferred from the file when omitted' },
  input: {
    type: 'object',
    properties: {
      size: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2 }] },
      channels: { type: 'integer', minimum: 1 },
      channel_order: { enum: ['RGB', 'BGR'] },
      layout: { enum: ['NCHW', 'NHWC'] },
      scale: { type: 'number', exclusiveMinimum: 0 },
      mean: { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 3 },
      std: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1, maxItems: 3 },
    },
  },
  labels: { type: 'string', minLength: 1, description: 'labels file, one per line' },
  layers: { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, description: 'alias → tensor / layer name' },
  output: { type: 'string', minLength: 1 },
  output_type: {
    enum: ['logits', 'probabilities'],
    description: "what the output holds: 'logits' (softmax applied) or 'probabilities' (used as they are); default: detected by load-model's probe",
  },
  backend: { enum: ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] },
  threads: { type: 'integer', minimum: 1 },
  memory_budget_mb: { type: 'number', exclusiveMinimum: 0 },
  execution_provider: { enum: ['cpu', 'cuda'], description: 'onnxruntime execution provider (ONNX models)' },
} as const;

export const modelConfigSchema = closeSchema({
  type: 'object',
  required: ['path'],
  properties: modelConfigProperties,
});

export const MODEL_CONFIG_KEYS = Object.keys(modelConfigProperties) as (keyof ModelConfig)[];

/** Where a config came from, for located errors. */
export interface ConfigOrigin {
  /** Shown file (config file or pipeline). */
  file?: string;
  /** Key path prefix of the config inside that file (e.g. ['stages', 'model', 'params']). */
  prefix?: PathSeg[];
  src?: YamlSource;
}

const origins = new WeakMap<object, ConfigOrigin>();

export function setOrigin(config: ModelConfig, origin: ConfigOrigin): ModelConfig {
  origins.set(config, origin);
  return config;
}

/** A ConfigError located at a config field (`path`), when the config's origin is known. */
export function configError(config: ModelConfig, field: PathSeg[], detail: string, extra: { expected?: string; suggestion?: string } = {}): ConfigError {
  const o = origins.get(config);
  const full = [...(o?.prefix ?? []), ...field];
  let loc: { file?: string; line?: number; column?: number } = { file: o?.file };
  if (o?.src) {
    try {
      loc = locate(o.src, full, 'value');
    } catch {
      /* keep file only */
    }
  }
  return new ConfigError(detail, { ...loc, path: full.map(String).join('.'), ...extra });
}

/** Validates a config object against the schema (located when `src` is given). */
export function validateModelConfig(value: unknown, origin: ConfigOrigin = {}): ModelConfig {
  const v = compile(modelConfigSchema);
  if (!v(value)) {
    const prefix = origin.prefix ?? [];
    const errs = toConfigErrors(v.errors ?? [], prefix, (path, at) => {
      if (!origin.src) return { file: origin.file };
      return locate(origin.src, [...prefix, ...path], at);
    });
    throw errs.length === 1 ? errs[0] : new ConfigErrors(errs);
  }
  return setOrigin(value as ModelConfig, origin);
}

/** Loads `configs/models/x.yaml` (path relative to cwd or absolute); syntax and schema errors are located. */
export function loadModelConfig(path: string, opts: { root?: string } = {}): ModelConfig {
  const root = opts.root ?? process.cwd();
  const abs = isAbsolute(path) ? path : resolve(root, path);
  const src = loadYaml(abs, root, 'model config');
  if (src.value === null || typeof src.value !== 'object' || Array.isArray(src.value)) {
    throw new ConfigError('a model config must be a mapping with at least `path`', { file: src.file, line: 1 });
  }
  return validateModelConfig(src.value, { file: src.file, src, prefix: [] });
}

/** Absolute path of a config path (relative ones are project-root relative). */
export function absPath(p: string, root: string): string {
  return isAbsolute(p) ? p : resolve(root, p);
}

/** Root-relative when inside the root, else absolute (for meta.config and messages). */
export function portablePath(abs: string, root: string): string {
  const r = relative(root, abs);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : abs;
}

/** The model file(s) whose content identifies the model (model.json + weight shards for TF.js). */
export function modelFiles(config: ModelConfig, root: string): string[] {
  const abs = modelFilePath(config, root);
  const files = [abs];
  if (abs.endsWith('.json') && existsSync(abs)) {
    try {
      const j = JSON.parse(readFileSync(abs, 'utf8')) as { weightsManifest?: { paths: string[] }[] };
      for (const g of j.weightsManifest ?? []) for (const p of g.paths) files.push(join(abs, '..', p));
    } catch {
      /* reported when opened */
    }
  }
  if (config.labels) files.push(absPath(config.labels, root));
  return files;
}

/** The model file: a folder stands for its model.json. */
export function modelFilePath(config: ModelConfig, root: string): string {
  const abs = absPath(config.path, root);
  try {
    if (statSync(abs).isDirectory()) return join(abs, 'model.json');
  } catch {
    /* missing: reported by the opener */
  }
  return abs;
}

/** Format from the config or the file: `.onnx` → onnx; model.json → its `format` / topology. */
export function inferFormat(config: ModelConfig, root: string): ModelFormat {
  if (config.format) return config.format;
  const abs = modelFilePath(config, root);
  const ext = extname(abs).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.json') {
    let j: { format?: string; modelTopology?: { class_name?: string; model_config?: unknown; node?: unknown } };
    try {
      j = JSON.parse(readFileSync(abs, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw configError(config, ['path'], `model file not found: ${portablePath(abs, root)}`);
      throw configError(config, ['path'], `${portablePath(abs, root)} is not a TF.js model.json: ${(e as Error).message}`);
    }
    if (j.format === 'graph-model' || Array.isArray(j.modelTopology?.node)) return 'tfjs-graph';
    if (j.format === 'layers-model' || j.modelTopology?.class_name || j.modelTopology?.model_config) return 'tfjs-layers';
    throw configError(config, ['path'], `${portablePath(abs, root)}: cannot tell a TF.js layers model from a graph model`, { suggestion: 'set format:' });
  }
  if (!existsSync(abs)) throw configError(config, ['path'], `model file not found: ${portablePath(abs, root)}`);
  throw configError(config, ['format'], `cannot infer the model format of ${portablePath(abs, root)}`, { expected: 'format: onnx | tfjs-layers | tfjs-graph' });
}

export function modelId(config: ModelConfig): string {
  if (config.name) return config.name;
  const b = basename(config.path);
  return b === 'model.json' ? basename(join(config.path, '..')) : b.replace(/\.(onnx|json)$/i, '');
}

/** Reads a labels file (one label per line, trailing blank lines ignored) and checks the count. */
export function readLabels(config: ModelConfig, root: string, numClasses: number): string[] {
  if (!config.labels) return Array.from({ length: numClasses }, (_, i) => `class_${i}`);
  const abs = absPath(config.labels, root);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch {
    throw configError(config, ['labels'], `labels file not found: ${portablePath(abs, root)}`);
  }
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  const labels = lines.map((l) => l.trim());
  if (labels.length !== numClasses) {
    throw configError(config, ['labels'], `labels file ${portablePath(abs, root)} has ${labels.length} labels but the model has ${numClasses} classes`, {
      expected: `${numClasses} lines`,
    });
  }
  return labels;
}
