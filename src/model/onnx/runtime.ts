// ONNX models on onnxruntime-node (CPU). One session per (model, taps): the forward session, tap sessions (graph
// rewritten so requested tensors are outputs: one forward returns them all), head sessions (subgraph from a
// tensor to the logits, for forwardFrom) and gradient sessions (generated backward graph, per layer).
// Layout: NCHW models take batches as given; NHWC-input models (e.g. tf2onnx exports) get the batch transposed, and
// tensors at the input (input activations / gradients) transposed back. Intermediate tensors are reported as the
// graph holds them, i.e. assumed NCHW (tf2onnx converts convolutions to NCHW behind a Transpose).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type * as ortTypes from 'onnxruntime-node';
import { didYouMean } from '../../engine/errors.ts';
import { batchSizeFromLayers, checkBatch, concatBatch, nchwToNhwc, nhwcToNchw, resolveLayer, sliceBatch, outputProbabilities } from '../common.ts';
import { configError, modelFilePath, modelId, portablePath, readLabels, type ModelConfig } from '../config.ts';
import type { GradientResult, InputSpec, LayerInfo, Model, ModelInfo, Tensor } from '../types.ts';
import { encodeModel, type OnnxModelProto } from './builder.ts';
import { dimsOf, headModel, parameterCount, parseOnnx, producers, realInputs, withOutputs } from './graph.ts';

type Ort = typeof ortTypes;
let ortPromise: Promise<Ort> | undefined;
export function loadOrt(): Promise<Ort> {
  ortPromise ??= import('onnxruntime-node') as Promise<Ort>;
  return ortPromise;
}

export type ExecutionProvider = 'cpu' | 'cuda';

/** The execution provider: config `execution_provider`, overridden by env XAI_ORT_EP (cpu | cuda). */
export function executionProvider(configured: ExecutionProvider | undefined): ExecutionProvider {
  const env = process.env.XAI_ORT_EP;
  if (env === 'cpu' || env === 'cuda') return env;
  return configured ?? 'cpu';
}

/**
 * Session options. `arena`: onnxruntime's CPU memory arena, which keeps the intermediate buffers between runs. Off,
 * every run allocates and frees them (large blocks are fresh mmap pages, page-faulted in again each run): ResNet-18 at
 * batch 32 then runs ~12 % slower than a bare session (bench/model.bench.ts), for ~100 MB less peak RSS. On for the
 * sessions run again and again at one batch size (forward, heads, gradients); off for the probe and the tap
 * sessions (dissection's collect-activations, whose memory is bounded by the tapped maps it keeps).
 */
export function sessionOptions(threads: number, ep: ExecutionProvider = 'cpu', arena = false): ortTypes.InferenceSession.SessionOptions {
  const base = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', enableCpuMemArena: arena } as const;
  // CUDA needs the CUDA EP binaries, which the default install skips (README: "GPU").
  return ep === 'cuda' ? { ...base, executionProviders: ['cuda', 'cpu'] } : base;
}

const DEFAULT_BUDGET_MB = 512;

interface GradNames {
  inputs: { image: string; weights: string };
  outputs: { activations: string; logits: string; gradients: string };
}
/** src/model/onnx/backward/index.ts (generated backward graphs). */
interface BackwardModule {
  buildGradientGraph(model: OnnxModelProto, opts: { layer: string; logits: string }): GradNames & { model: OnnxModelProto };
}

export class OnnxModel implements Model {
  readonly info: ModelInfo;
  private sessions = new Map<string, Promise<ortTypes.InferenceSession>>();
  private layerByName: Map<string, LayerInfo>;
  private aliases: Record<string, string>;
  private readonly maxBatch: number;

  private constructor(
    private readonly ort: Ort,
    private readonly proto: OnnxModelProto,
    private readonly bytes: Uint8Array,
    info: ModelInfo,
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly threads: number,
    budgetMb: number,
    private readonly ep: ExecutionProvider = 'cpu',
  ) {
    this.info = info;
    this.layerByName = new Map(info.layers.map((l) => [l.name, l]));
    this.aliases = Object.fromEntries(info.layers.filter((l) => l.alias).map((l) => [l.alias!, l.name]));
    this.maxBatch = this.batchSizeFor(budgetMb * 2 ** 20);
  }

  static async open(config: ModelConfig, root: string): Promise<OnnxModel> {
    const ort = await loadOrt();
    const abs = modelFilePath(config, root);
    const shown = portablePath(abs, root);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(abs);
    } catch (e) {
      throw configError(config, ['path'], (e as NodeJS.ErrnoException).code === 'ENOENT' ? `model file not found: ${shown}` : `cannot read model file ${shown}: ${(e as Error).message}`);
    }
    let proto: OnnxModelProto;
    try {
      proto = parseOnnx(bytes, shown);
    } catch (e) {
      throw configError(config, ['path'], (e as Error).message);
    }
    const id = modelId(config);
    const inputs = realInputs(proto);
    if (inputs.length !== 1) throw configError(config, ['path'], `${shown}: expected one image input, the graph has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`);
    const inputName = inputs[0].name!;
    const dims = dimsOf(inputs[0]) ?? [];
    if (dims.length !== 4) throw configError(config, ['path'], `${shown}: input '${inputName}' has rank ${dims.length}, expected a 4-D image batch`);
    const isC = (d: unknown) => d === 1 || d === 3;
    const layout: 'NCHW' | 'NHWC' = config.input?.layout ?? (isC(dims[1]) ? 'NCHW' : isC(dims[3]) ? 'NHWC' : 'NCHW');
    const [dc, dh, dw] = layout === 'NCHW' ? [dims[1], dims[2], dims[3]] : [dims[3], dims[1], dims[2]];
    const spec = inputSpec(config, { c: dc, h: dh, w: dw }, layout, shown);
    const outputName = config.output ?? proto.graph!.output![0].name!;
    const prod = producers(proto);
    if (!prod.has(outputName)) {
      throw configError(config, ['output'], `${shown} has no tensor '${outputName}'`, { suggestion: didYouMean(outputName, (proto.graph!.output ?? []).map((o) => o.name ?? '')) });
    }
    const threads = config.threads ?? os.availableParallelism();
    const ep = executionProvider(config.execution_provider);

    // Probe: one batch-1 forward with every node output fetched gives every layer's shape.
    const names: string[] = [];
    const ops = new Map<string, string>();
    for (const n of proto.graph!.node ?? []) for (const o of n.output ?? []) if (o) (names.push(o), ops.set(o, n.opType ?? '?'));
    let shapes: Map<string, number[]>;
    try {
      const probe = await ort.InferenceSession.create(withOutputs(proto, names), sessionOptions(threads, ep));
      const x = new Float32Array(spec.channels * spec.height * spec.width);
      const xdims = layout === 'NCHW' ? [1, spec.channels, spec.height, spec.width] : [1, spec.height, spec.width, spec.channels];
      const r = await probe.run({ [inputName]: new ort.Tensor('float32', x, xdims) });
      shapes = new Map();
      for (const [k, v] of Object.entries(r)) {
        if (v.type === 'float32' && v.dims.length >= 2) shapes.set(k, [...v.dims].map(Number));
        v.dispose?.();
      }
      await probe.release();
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      if (ep === 'cuda' && /shared library|Cuda/i.test(msg)) {
        throw configError(config, ['execution_provider'], `${shown}: the CUDA execution provider is not installed (${msg}); install it with \`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node\` (README, "GPU") or use execution_provider: cpu`);
      }
      throw configError(config, config.input?.size ? ['input', 'size'] : ['path'], `${shown}: probe forward at input ${spec.channels}×${spec.height}×${spec.width} failed: ${msg}`);
    }
    const outShape = shapes.get(outputName);
    if (!outShape || outShape.length !== 2) {
      throw configError(config, ['output'], `${shown}: output '${outputName}' has shape [${outShape?.join(', ') ?? '?'}], expected [N, classes]`);
    }
    const numClasses = outShape[1];
    const aliasOf = new Map<string, string>();
    for (const [alias, t] of Object.entries(config.layers ?? {})) {
      if (!shapes.has(t) && t !== inputName) {
        throw configError(config, ['layers', alias], `layer alias '${alias}' names no tensor '${t}' in ${shown}`, { suggestion: didYouMean(t, shapes.keys()) ?? 'see `xai inspect` for tensor names' });
      }
      if (!aliasOf.has(t)) aliasOf.set(t, alias);
    }
    const layers: LayerInfo[] = [];
    for (const name of names) {
      const s = shapes.get(name);
      if (!s) continue;
      const shape = s;
      layers.push({ name, alias: aliasOf.get(name), op: ops.get(name) ?? '?', shape, units: shape[1] ?? 1 });
    }
    const labels = readLabels(config, root, numClasses);
    const info: ModelInfo = {
      id,
      runtime: 'onnx',
      backend: ep === 'cuda' ? 'onnxruntime-node cuda' : `onnxruntime-node cpu (${threads} threads)`,
      input: spec,
      labels,
      numClasses,
      layers,
      parameters: parameterCount(proto),
      output: config.output_type ?? 'logits',
    };
    const m = new OnnxModel(ort, proto, bytes, info, inputName, outputName, threads, config.memory_budget_mb ?? DEFAULT_BUDGET_MB, ep);
    // Input aliases (an alias naming the graph input) resolve to the input itself.
    for (const [alias, t] of Object.entries(config.layers ?? {})) if (t === inputName) m.aliases[alias] = t;
    return m;
  }

  private session(key: string, make: () => Uint8Array): Promise<ortTypes.InferenceSession> {
    let s = this.sessions.get(key);
    if (!s) {
      const arena = !key.startsWith('taps:');
      s = Promise.resolve().then(() => this.ort.InferenceSession.create(make(), sessionOptions(this.threads, this.ep, arena)));
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  private toModelInput(batch: Tensor): ortTypes.Tensor {
    const { channels: c, height: h, width: w, layout } = this.info.input;
    checkBatch(batch, c, h, w, this.info.id);
    const n = batch.shape[0];
    if (layout === 'NCHW') return new this.ort.Tensor('float32', batch.data, batch.shape);
    return new this.ort.Tensor('float32', nchwToNhwc(batch.data, batch.shape), [n, h, w, c]);
  }

  /** An ORT output as an NCHW Tensor (`atInput`: a tensor in the input's layout). */
  private fromModel(t: ortTypes.Tensor, atInput = false): Tensor {
    const dims = [...t.dims].map(Number);
    const data = t.data as Float32Array;
    if (atInput && dims.length === 4 && this.info.input.layout === 'NHWC') return { data: nhwcToNchw(data, dims), shape: [dims[0], dims[3], dims[1], dims[2]] };
    return { data, shape: dims };
  }

  /** Tensor name of a layer name / alias ('input' = the image input unless an alias says otherwise). */
  resolve(layer: string): string {
    if (layer === 'input' && !Object.hasOwn(this.aliases, 'input') && !this.layerByName.has('input')) return this.inputName;
    if (layer === this.inputName) return this.inputName;
    return resolveLayer(layer, this.aliases, new Set(this.layerByName.keys()), this.info.id);
  }

  private async chunked<T>(batch: Tensor, f: (b: Tensor) => Promise<T>): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < batch.shape[0]; i += this.maxBatch) out.push(await f(sliceBatch(batch, i, Math.min(this.maxBatch, batch.shape[0] - i))));
    return out;
  }

  async predict(batch: Tensor): Promise<{ logits: Tensor; probs: Tensor }> {
    const s = await this.session('forward', () => this.bytes);
    const parts = await this.chunked(batch, async (b) => {
      const r = await s.run({ [this.inputName]: this.toModelInput(b) }, [this.outputName]);
      return this.fromModel(r[this.outputName]);
    });
    const logits = concatBatch(parts);
    return { logits, probs: outputProbabilities(logits, this.info) };
  }

  async activations(batch: Tensor, layers: string[]): Promise<Record<string, Tensor>> {
    const tensors = layers.map((l) => this.resolve(l));
    const fetch = [...new Set(tensors.filter((t) => t !== this.inputName))].sort();
    const out: Record<string, Tensor> = {};
    if (fetch.length) {
      const s = await this.session(`taps:${fetch.join('\u0000')}`, () => withOutputs(this.proto, fetch));
      const parts = await this.chunked(batch, async (b) => {
        const r = await s.run({ [this.inputName]: this.toModelInput(b) }, fetch);
        return fetch.map((t) => this.fromModel(r[t]));
      });
      fetch.forEach((t, i) => (out[t] = concatBatch(parts.map((p) => p[i]))));
    }
    const result: Record<string, Tensor> = {};
    layers.forEach((l, i) => (result[l] = tensors[i] === this.inputName ? batch : out[tensors[i]]));
    return result;
  }

  async forwardFrom(layer: string, activations: Tensor): Promise<Tensor> {
    const t = this.resolve(layer);
    if (t === this.inputName) return (await this.predict(activations)).logits;
    const info = this.layerByName.get(t)!;
    const shape = info.shape.slice(1);
    if (activations.shape.length !== info.shape.length || activations.shape.slice(1).some((d, i) => d !== shape[i])) {
      throw new Error(`model '${this.info.id}': forwardFrom('${layer}') expects [N, ${shape.join(', ')}], got [${activations.shape.join(', ')}]`);
    }
    const modelShape = shape;
    const s = await this.session(`head:${t}`, () => encodeModel(headModel(this.proto, t, this.outputName, modelShape)));
    const parts = await this.chunked(activations, async (a) => {
      const r = await s.run({ [t]: new this.ort.Tensor('float32', a.data, [a.shape[0], ...modelShape]) }, [this.outputName]);
      return this.fromModel(r[this.outputName]);
    });
    return concatBatch(parts);
  }

  async gradients(batch: Tensor, layer: string, weights: Float32Array): Promise<GradientResult> {
    const t = this.resolve(layer);
    const n = batch.shape[0];
    if (weights.length !== n * this.info.numClasses) {
      throw new Error(`model '${this.info.id}': gradient weights must be [${n} × ${this.info.numClasses}], got ${weights.length} values`);
    }
    let backward: BackwardModule;
    try {
      backward = (await import('./backward/index.ts')) as BackwardModule;
    } catch (e) {
      throw new Error(`gradients for ONNX models are not available yet (src/model/onnx/backward could not be loaded: ${(e as Error).message.split('\n')[0]})`);
    }
    let names: GradNames | undefined;
    const s = await this.session(`grad:${t}`, () => {
      const g = backward.buildGradientGraph(this.proto, { layer: t, logits: this.outputName });
      names = { inputs: g.inputs, outputs: g.outputs };
      this.gradNames.set(t, names);
      return encodeModel(g.model);
    });
    names ??= this.gradNames.get(t)!;
    const nm = names;
    const c = this.info.numClasses;
    const parts: { a: Tensor; g: Tensor; l: Tensor }[] = [];
    for (let i = 0; i < n; i += this.maxBatch) {
      const k = Math.min(this.maxBatch, n - i);
      const b = sliceBatch(batch, i, k);
      const r = await s.run(
        { [nm.inputs.image]: this.toModelInput(b), [nm.inputs.weights]: new this.ort.Tensor('float32', weights.subarray(i * c, (i + k) * c), [k, c]) },
        [nm.outputs.activations, nm.outputs.logits, nm.outputs.gradients],
      );
      const atInput = t === this.inputName;
      parts.push({ a: this.fromModel(r[nm.outputs.activations], atInput), g: this.fromModel(r[nm.outputs.gradients], atInput), l: this.fromModel(r[nm.outputs.logits]) });
    }
    return { activations: concatBatch(parts.map((p) => p.a)), gradients: concatBatch(parts.map((p) => p.g)), logits: concatBatch(parts.map((p) => p.l)) };
  }
  private gradNames = new Map<string, GradNames>();

  /** Gradients for each image's top-1 class (argmax of its logits, first on ties) in one pass; see Model.gradientsTop1. */
  async gradientsTop1(batch: Tensor, layer: string): Promise<GradientResult & { targets: number[] }> {
    const t = this.resolve(layer);
    const backward = (await import('./backward/index.ts')) as BackwardModule;
    const { top1WeightsGraph } = await import('./top1.ts');
    const key = `top1:${t}`;
    const s = await this.session(`gradtop1:${t}`, () => {
      const g = backward.buildGradientGraph(this.proto, { layer: t, logits: this.outputName });
      this.gradNames.set(key, { inputs: g.inputs, outputs: g.outputs });
      return encodeModel(top1WeightsGraph(g.model, g.inputs.weights, g.outputs.logits, this.info.numClasses));
    });
    const nm = this.gradNames.get(key)!;
    const atInput = t === this.inputName;
    const parts: { a: Tensor; g: Tensor; l: Tensor }[] = [];
    for (let i = 0; i < batch.shape[0]; i += this.maxBatch) {
      const b = sliceBatch(batch, i, Math.min(this.maxBatch, batch.shape[0] - i));
      const r = await s.run({ [nm.inputs.image]: this.toModelInput(b) }, [nm.outputs.activations, nm.outputs.logits, nm.outputs.gradients]);
      parts.push({ a: this.fromModel(r[nm.outputs.activations], atInput), g: this.fromModel(r[nm.outputs.gradients], atInput), l: this.fromModel(r[nm.outputs.logits]) });
    }
    const logits = concatBatch(parts.map((p) => p.l));
    const k = logits.shape[1];
    const targets: number[] = [];
    for (let r = 0; r < logits.shape[0]; r++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (logits.data[r * k + c] > logits.data[r * k + best]) best = c;
      targets.push(best);
    }
    return { activations: concatBatch(parts.map((p) => p.a)), gradients: concatBatch(parts.map((p) => p.g)), logits, targets };
  }

  batchSizeFor(budgetBytes: number): number {
    const { channels, height, width } = this.info.input;
    return batchSizeFromLayers(this.info.layers, channels * height * width, budgetBytes);
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) {
      try {
        await (await s).release();
      } catch {
        /* already gone */
      }
    }
  }
}

/** Input spec from the config, checked against the model's fixed dims. */
export function inputSpec(config: ModelConfig, model: { c: unknown; h: unknown; w: unknown }, layout: 'NCHW' | 'NHWC', shown: string): InputSpec {
  const ci = config.input ?? {};
  const size = ci.size === undefined ? undefined : typeof ci.size === 'number' ? [ci.size, ci.size] : ci.size;
  const fixed = (d: unknown) => (typeof d === 'number' && d > 0 ? d : undefined);
  const [mh, mw, mc] = [fixed(model.h), fixed(model.w), fixed(model.c)];
  if (size && mh !== undefined && mw !== undefined && (size[0] !== mh || size[1] !== mw)) {
    throw configError(config, ['input', 'size'], `input size ${size[0]}×${size[1]} does not match the model ${shown}, which takes ${mh}×${mw}`, { expected: `[${mh}, ${mw}]` });
  }
  if (ci.channels !== undefined && mc !== undefined && ci.channels !== mc) {
    throw configError(config, ['input', 'channels'], `input channels ${ci.channels} do not match the model ${shown}, which takes ${mc}`);
  }
  const height = size?.[0] ?? mh;
  const width = size?.[1] ?? mw;
  const channels = ci.channels ?? mc ?? 3;
  if (height === undefined || width === undefined) {
    throw configError(config, ['input', 'size'], `the model ${shown} has no fixed input size; set input.size`);
  }
  const three = (v: number[] | undefined, d: number, key: string): [number, number, number] => {
    if (!v) return [d, d, d];
    if (v.length === 1) return [v[0], v[0], v[0]];
    if (v.length !== channels && !(channels === 3 && v.length === 3)) throw configError(config, ['input', key], `${key} has ${v.length} values, the model has ${channels} channels`);
    return [v[0], v[1] ?? v[0], v[2] ?? v[0]];
  };
  return {
    height,
    width,
    channels,
    layout,
    channelOrder: ci.channel_order ?? 'RGB',
    scale: ci.scale ?? 1 / 255,
    mean: three(ci.mean, 0, 'mean'),
    std: three(ci.std, 1, 'std'),
  };
}

