// Static model checks without a runtime (for `load-model`'s check(), so bad models stop `xai run` / `xai validate`
// with exit 2 before anything runs): the file exists and parses, the input size and channels match the config,
// layer aliases name tensors / layers, the labels file has one line per class. The full checks (with a probe
// forward) happen again when the model is opened; models over `maxBytes` get only the cheap checks.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { didYouMean } from '../engine/errors.ts';
import { absPath, configError, inferFormat, modelFilePath, portablePath, readLabels, type ModelConfig } from './config.ts';
import { dimsOf, parseOnnx, realInputs } from './onnx/graph.ts';

export function checkModelStatic(config: ModelConfig, root: string, maxBytes = 256 * 2 ** 20): void {
  const abs = modelFilePath(config, root);
  const shown = portablePath(abs, root);
  if (!existsSync(abs)) throw configError(config, ['path'], `model file not found: ${shown}`);
  if (config.labels && !existsSync(absPath(config.labels, root))) readLabels(config, root, 0); // throws: labels file not found
  const format = inferFormat(config, root);
  if (statSync(abs).size > maxBytes) return;
  const size = config.input?.size === undefined ? undefined : typeof config.input.size === 'number' ? [config.input.size, config.input.size] : config.input.size;
  const checkDims = (c: unknown, h: unknown, w: unknown) => {
    if (size && typeof h === 'number' && typeof w === 'number' && (size[0] !== h || size[1] !== w)) {
      throw configError(config, ['input', 'size'], `input size ${size[0]}×${size[1]} does not match the model ${shown}, which takes ${h}×${w}`, { expected: `[${h}, ${w}]` });
    }
    if (config.input?.channels !== undefined && typeof c === 'number' && c !== config.input.channels) {
      throw configError(config, ['input', 'channels'], `input channels ${config.input.channels} do not match the model ${shown}, which takes ${c}`);
    }
  };
  const checkAliases = (names: Set<string>, what: string) => {
    for (const [alias, t] of Object.entries(config.layers ?? {})) {
      if (!names.has(t)) throw configError(config, ['layers', alias], `layer alias '${alias}' names no ${what} '${t}' in ${shown}`, { suggestion: didYouMean(t, names) ?? 'see `xai inspect` for names' });
    }
  };
  if (format === 'onnx') {
    let proto;
    try {
      proto = parseOnnx(readFileSync(abs), shown);
    } catch (e) {
      throw configError(config, ['path'], (e as Error).message);
    }
    const inputs = realInputs(proto);
    const dims = inputs.length === 1 ? (dimsOf(inputs[0]) ?? []) : [];
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
    if (config.labels && od && od.length === 2 && typeof od[1] === 'number') readLabels(config, root, od[1]);
  } else if (format === 'tfjs-layers') {
    let j: { modelTopology?: { model_config?: { config?: unknown }; config?: unknown }; weightsManifest?: { paths: string[] }[] };
    try {
      j = JSON.parse(readFileSync(abs, 'utf8'));
    } catch (e) {
      throw configError(config, ['path'], `${shown} is not a valid model.json: ${(e as Error).message}`);
    }
    for (const g of j.weightsManifest ?? []) for (const p of g.paths) if (!existsSync(join(dirname(abs), p))) throw configError(config, ['path'], `${shown}: weight shard ${p} not found`);
    const cfg = (j.modelTopology?.model_config?.config ?? j.modelTopology?.config) as { layers?: { name?: string; config?: { name?: string; batch_input_shape?: (number | null)[] } }[] } | undefined;
    const layers = Array.isArray(cfg) ? cfg : (cfg?.layers ?? []);
    const names = new Set<string>(layers.map((l: { name?: string; config?: { name?: string } }) => l.name ?? l.config?.name ?? '').filter(Boolean));
    if (names.size) checkAliases(names, 'layer');
    const bis = layers[0]?.config?.batch_input_shape;
    if (bis && bis.length === 4 && config.input?.layout !== 'NCHW') checkDims(bis[3], bis[1], bis[2]);
  }
}
