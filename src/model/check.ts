// Static model checks without a runtime (for `load-model`'s check(), so bad models stop `xai run` / `xai validate`
// with exit 2 before anything runs): the file exists and parses, the input size and channels match the config,
// mean/std have one value or one per channel, layer aliases name tensors / layers, the labels file has one line per
// class. The full checks (with a probe forward) happen again when the model is opened; models over `maxBytes` get
// only the cheap checks. What the header tells (layer names, labels, channels) is returned as ModelFacts, against
// which `checkConsumerParams` checks the params of downstream stages (layers, class targets).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, didYouMean } from '../engine/errors.ts';
import { absPath, configError, inferFormat, modelFilePath, portablePath, readLabels, type ModelConfig } from './config.ts';
import { dimsOf, parseOnnx, realInputs } from './onnx/graph.ts';
import { classIndex } from './common.ts';

/** What a model's header says, read without a runtime (undefined fields: not known cheaply). */
export interface ModelFacts {
  /** Model file as shown in messages. */
  file: string;
  /** Layer / tensor names and aliases a stage may name (plus `input`). */
  names: Set<string>;
  aliases: string[];
  /** Class labels (the labels file, or class_<i> when the class count is known). */
  labels?: string[];
  channels?: number;
}

/** Channel counts the image pipeline can feed (grey and RGB). */
export const SUPPORTED_CHANNELS = [1, 3] as const;

export function checkModelStatic(config: ModelConfig, root: string, maxBytes = 256 * 2 ** 20): ModelFacts | undefined {
  const abs = modelFilePath(config, root);
  const shown = portablePath(abs, root);
  if (!existsSync(abs)) throw configError(config, ['path'], `model file not found: ${shown}`);
  if (config.labels && !existsSync(absPath(config.labels, root))) readLabels(config, root, 0); // throws: labels file not found
  const format = inferFormat(config, root);
  if (statSync(abs).size === 0) throw configError(config, ['path'], `model file ${shown} is empty (0 bytes)`);
  if (statSync(abs).size > maxBytes) return undefined;
  const size = config.input?.size === undefined ? undefined : typeof config.input.size === 'number' ? [config.input.size, config.input.size] : config.input.size;
  let channels: number | undefined = config.input?.channels;
  const checkDims = (c: unknown, h: unknown, w: unknown) => {
    if (size && typeof h === 'number' && typeof w === 'number' && (size[0] !== h || size[1] !== w)) {
      throw configError(config, ['input', 'size'], `input size ${size[0]}×${size[1]} does not match the model ${shown}, which takes ${h}×${w}`, { expected: `[${h}, ${w}]` });
    }
    if (config.input?.channels !== undefined && typeof c === 'number' && c !== config.input.channels) {
      throw configError(config, ['input', 'channels'], `input channels ${config.input.channels} do not match the model ${shown}, which takes ${c}`);
    }
    if (typeof c === 'number') channels = c;
  };
  const checkAliases = (names: Set<string>, what: string) => {
    for (const [alias, t] of Object.entries(config.layers ?? {})) {
      if (!names.has(t)) throw configError(config, ['layers', alias], `layer alias '${alias}' names no ${what} '${t}' in ${shown}`, { suggestion: didYouMean(t, names) ?? 'see `xai inspect` for names' });
    }
  };
  const facts = (names: Set<string>, labels: string[] | undefined): ModelFacts => {
    checkChannels(config, channels, shown);
    const aliases = Object.keys(config.layers ?? {});
    return { file: shown, names: new Set([...names, ...aliases, 'input']), aliases, labels, channels };
  };
  if (format === 'onnx') {
    let proto;
    try {
      proto = parseOnnx(readFileSync(abs), shown);
    } catch (e) {
      throw configError(config, ['path'], (e as Error).message);
    }
    const inputs = realInputs(proto);
    const declared = inputs.length === 1 ? dimsOf(inputs[0]) : undefined;
    const dims = declared ?? [];
    if (declared && dims.length !== 4) {
      throw configError(config, ['path'], `the model ${shown} takes a ${dims.length}-D input [${dims.join(', ')}], expected an image batch [N, C, H, W] or [N, H, W, C]`);
    }
    if (dims.length === 4) {
      const isC = (d: unknown) => d === 1 || d === 3;
      const nhwc = config.input?.layout === 'NHWC' || (!config.input?.layout && !isC(dims[1]) && isC(dims[3]));
      if (nhwc) checkDims(dims[3], dims[1], dims[2]);
      else checkDims(dims[1], dims[2], dims[3]);
    }
    const names = new Set<string>(inputs.map((i) => i.name ?? ''));
    for (const n of proto.graph?.node ?? []) for (const o of n.output ?? []) if (o) names.add(o);
    checkAliases(names, 'tensor');
    const out = config.output ? proto.graph?.output?.find((o) => o.name === config.output) : proto.graph?.output?.[0];
    const od = out ? dimsOf(out) : undefined;
    const k = od && od.length === 2 && typeof od[1] === 'number' ? od[1] : undefined;
    return facts(names, k !== undefined ? readLabels(config, root, k) : undefined);
  } else if (format === 'tfjs-layers') {
    let j: { modelTopology?: { model_config?: { config?: unknown }; config?: unknown }; weightsManifest?: { paths: string[] }[] };
    try {
      j = JSON.parse(readFileSync(abs, 'utf8'));
    } catch (e) {
      throw configError(config, ['path'], `${shown} is not a valid model.json: ${(e as Error).message}`);
    }
    for (const g of j.weightsManifest ?? []) for (const p of g.paths) if (!existsSync(join(dirname(abs), p))) throw configError(config, ['path'], `${shown}: weight shard ${p} not found`);
    type Layer = { name?: string; class_name?: string; config?: { name?: string; batch_input_shape?: (number | null)[]; units?: number } };
    const cfg = (j.modelTopology?.model_config?.config ?? j.modelTopology?.config) as { layers?: Layer[] } | Layer[] | undefined;
    const layers: Layer[] = Array.isArray(cfg) ? cfg : (cfg?.layers ?? []);
    const names = new Set<string>(layers.map((l) => l.name ?? l.config?.name ?? '').filter(Boolean));
    if (names.size) checkAliases(names, 'layer');
    const bis = layers[0]?.config?.batch_input_shape;
    if (bis && bis.length === 4 && config.input?.layout !== 'NCHW') checkDims(bis[3], bis[1], bis[2]);
    const units = layers.length ? layers[layers.length - 1].config?.units : undefined;
    const labels = typeof units === 'number' ? readLabels(config, root, units) : undefined;
    return names.size ? facts(names, labels) : undefined;
  }
  return undefined;
}

/**
 * Channel count supported (1 or 3) and mean/std of one value or one per channel. Defaults (no mean/std in the config):
 * mean 0, std 1 for every channel, whatever the count (pixel·scale only).
 */
export function checkChannels(config: ModelConfig, channels: number | undefined, shown: string): void {
  if (channels === undefined) return;
  if (!(SUPPORTED_CHANNELS as readonly number[]).includes(channels)) {
    throw configError(config, config.input?.channels !== undefined ? ['input', 'channels'] : ['path'], `the model ${shown} takes ${channels} input channels; images can be fed as 1 (grey) or 3 (RGB) channels`);
  }
  for (const key of ['mean', 'std'] as const) {
    const v = config.input?.[key];
    if (v && v.length !== 1 && v.length !== channels) {
      throw configError(config, ['input', key], `${key} has ${v.length} values but the model ${shown} takes ${channels} channel${channels === 1 ? '' : 's'}`, {
        expected: channels === 1 ? `[m] (one value)` : `one value or ${channels}`,
      });
    }
  }
}

const factsMemo = new Map<string, ModelFacts | undefined>();
/** checkModelStatic, memoised per config and model / labels file identity (size + mtime): several consumers, sweeps. */
export function modelFacts(config: ModelConfig, root: string): ModelFacts | undefined {
  const stamp = (f: string) => {
    try {
      const s = statSync(f);
      return `${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  const key = JSON.stringify([root, config, stamp(modelFilePath(config, root)), config.labels ? stamp(absPath(config.labels, root)) : '']);
  if (factsMemo.has(key)) return factsMemo.get(key);
  const f = checkModelStatic(config, root);
  factsMemo.set(key, f);
  return f;
}

/** What a downstream stage's params look like, for `checkConsumerParams`. */
export interface ConsumerParams {
  stageId: string;
  params: Record<string, unknown>;
}

/**
 * Checks a downstream stage's params against the model facts, by the parameter conventions the stages share:
 * `layers` / `layer` name layers or aliases (or `a+b` layer sets); `target` (or `target.class`) and the values of `targets` are a class
 * index or name (besides `top1` / `label`); LIME's `labels` are class indices when `top_labels` is null or 0.
 * Returns ConfigErrors with `path` at the consumer's key (the analyzer locates them).
 */
export function checkConsumerParams(facts: ModelFacts, consumer: ConsumerParams, modelStage: string): ConfigError[] {
  const errors: ConfigError[] = [];
  const p = consumer.params;
  const at = (k: string) => `stages.${consumer.stageId}.params.${k}`;
  const layer = (name: unknown, path: string) => {
    // 'layer3+layer4': a CAM layer set (the cams table's `layer`, which evaluate's `layers` names)
    if (typeof name !== 'string' || name.split('+').every((n) => facts.names.has(n))) return;
    errors.push(
      // the cam stage's wording (aliases when the config has some, else the nearest name)
      new ConfigError(`model '${modelStage}' has no layer or alias '${name}'`, {
        path,
        suggestion: facts.aliases.length ? `aliases: ${facts.aliases.join(', ')}` : (didYouMean(name, facts.names) ?? 'see `xai inspect` for layer names'),
      }),
    );
  };
  if (Array.isArray(p.layers)) p.layers.forEach((l, i) => layer(l, at(`layers[${i}]`)));
  layer(p.layer, at('layer'));
  const labels = facts.labels;
  if (!labels) return errors;
  const k = labels.length;
  const cls = (v: unknown, path: string) => {
    if (typeof v === 'number') {
      if (!(Number.isInteger(v) && v >= 0 && v < k)) errors.push(new ConfigError(`class index ${v} is outside 0..${k - 1} (model '${modelStage}' has ${k} classes)`, { path }));
    } else if (typeof v === 'string' && !['top1', 'top-1', 'label'].includes(v) && classIndex(v, labels) === undefined) {
      errors.push(
        new ConfigError(`model '${modelStage}' has no class named '${v}'`, {
          path,
          expected: `'top1', 'label', a class index 0..${k - 1} or one of ${labels.slice(0, 6).join(', ')}${k > 6 ? ', …' : ''}`,
          suggestion: didYouMean(v, labels),
        }),
      );
    }
  };
  const t = p.target;
  if (t && typeof t === 'object' && !Array.isArray(t)) cls((t as { class?: unknown }).class, at('target.class'));
  else cls(t, at('target'));
  if (p.targets && typeof p.targets === 'object') for (const [id, v] of Object.entries(p.targets)) cls(v, at(`targets.${id}`));
  if ((p.top_labels === null || p.top_labels === 0) && Array.isArray(p.labels)) p.labels.forEach((v, i) => cls(v, at(`labels[${i}]`)));
  return errors;
}
