// TF.js models (layers and graph models, loaded from disk) on the selected TF.js backend.
// Layers models: taps = a multi-output tf.model over the same graph; heads = the layers after a tensor re-applied
// to a new input (forwardFrom); gradients = the model re-applied with a zero offset Z added at the layer, so
// d(Σ w·logits)/dZ at Z = 0 is the gradient w.r.t. the layer's activations (any layer, cut or not), by tf.valueAndGrad.
// Graph models: taps and heads through GraphModel.execute with intermediate outputs / feeds.
// The target score is Σ weights·logits (a mask, never a gather: wasm lacks UnsortedSegmentSum).
import type * as tfTypes from '@tensorflow/tfjs';
import { didYouMean } from '../../engine/errors.ts';
import { batchSizeFromLayers, checkBatch, concatBatch, nchwToNhwc, nhwcToNchw, resolveLayer, sliceBatch, outputProbabilities } from '../common.ts';
import { configError, modelFilePath, modelId, portablePath, readLabels, type ModelConfig, type ModelFormat } from '../config.ts';
import { inputSpec } from '../onnx/runtime.ts';
import type { GradientResult, LayerInfo, Model, ModelInfo, Tensor } from '../types.ts';
import { selectBackend, type TF } from './backend.ts';
import { fileLoadHandler } from './io.ts';

type Sym = tfTypes.SymbolicTensor;
type TfTensor = tfTypes.Tensor;
interface LNode {
  inputTensors: Sym[];
  outputTensors: Sym[];
  callArgs?: Record<string, unknown>;
}
type LLayer = tfTypes.layers.Layer & { inboundNodes: LNode[] };

const DEFAULT_BUDGET_MB = 512;

export class TfjsModel implements Model {
  readonly info: ModelInfo;
  private aliases: Record<string, string>;
  private known: Set<string>;
  private cache = new Map<string, unknown>();
  private maxBatch: number;
  private layerNodes = new Map<string, { layer: LLayer; nodes: LNode[] }>();

  private constructor(
    private readonly tf: TF,
    private readonly format: ModelFormat,
    private readonly layersModel: tfTypes.LayersModel | undefined,
    private readonly graphModel: tfTypes.GraphModel | undefined,
    info: ModelInfo,
    private readonly outputName: string,
    private readonly inputName: string,
    budgetMb: number,
  ) {
    this.info = info;
    this.aliases = {};
    this.known = new Set(info.layers.map((l) => l.name));
    this.maxBatch = 1;
    if (layersModel) for (const l of layersModel.layers as LLayer[]) this.layerNodes.set(l.name, { layer: l, nodes: [...l.inboundNodes] });
    this.maxBatch = this.batchSizeFor(budgetMb * 2 ** 20);
  }

  static async open(config: ModelConfig, root: string, format: ModelFormat): Promise<TfjsModel> {
    const { tf, name: backend } = await selectBackend(config.backend);
    const abs = modelFilePath(config, root);
    const shown = portablePath(abs, root);
    const id = modelId(config);
    let lm: tfTypes.LayersModel | undefined;
    let gm: tfTypes.GraphModel | undefined;
    try {
      if (format === 'tfjs-layers') lm = await tf.loadLayersModel(fileLoadHandler(abs));
      else gm = await tf.loadGraphModel(fileLoadHandler(abs));
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0].replace(abs, shown);
      throw configError(config, ['path'], msg.startsWith(shown) ? msg : `cannot load ${format} model ${shown}: ${msg}`);
    }
    const inShape = (lm ? lm.inputs[0].shape : gm!.inputs[0].shape) ?? [];
    const inputName = lm ? lm.inputs[0].name : gm!.inputs[0].name;
    if (inShape.length !== 4) throw configError(config, ['path'], `${shown}: input has rank ${inShape.length}, expected a 4-D image batch`);
    const isC = (d: unknown) => d === 1 || d === 3;
    const layout: 'NCHW' | 'NHWC' = config.input?.layout ?? (isC(inShape[3]) ? 'NHWC' : isC(inShape[1]) ? 'NCHW' : 'NHWC');
    const [dc, dh, dw] = layout === 'NHWC' ? [inShape[3], inShape[1], inShape[2]] : [inShape[1], inShape[2], inShape[3]];
    const spec = inputSpec(config, { c: dc ?? undefined, h: dh ?? undefined, w: dw ?? undefined }, layout, shown);
    const toNchw = (s: number[]) => (s.length === 4 && layout === 'NHWC' ? [s[0], s[3], s[1], s[2]] : s);
    const layers: LayerInfo[] = [];
    let outputName: string;
    let numClasses: number;
    let parameters = 0;
    if (lm) {
      for (const l of lm.layers as LLayer[]) {
        if (l.getClassName() === 'InputLayer') continue;
        const os = l.inboundNodes[0]?.outputTensors?.[0]?.shape ?? [];
        const shape = toNchw(os.map((d, i) => (i === 0 ? 1 : (d ?? -1))));
        layers.push({ name: l.name, op: l.getClassName(), shape, units: shape[1] ?? 1 });
      }
      parameters = lm.countParams();
      outputName = config.output ?? lm.outputs[0].sourceLayer.name;
      if (!layers.some((l) => l.name === outputName)) {
        throw configError(config, ['output'], `${shown} has no layer '${outputName}'`, { suggestion: didYouMean(outputName, layers.map((l) => l.name)) });
      }
    } else {
      // Graph model: probe every node's output at batch 1 for shapes.
      const nodes = (gm as unknown as { executor: { graph: { nodes: Record<string, { op: string }> } } }).executor.graph.nodes;
      const names = Object.entries(nodes).filter(([, n]) => !['Const', 'Placeholder', 'NoOp'].includes(n.op)).map(([k]) => k);
      const x = tf.zeros(layout === 'NHWC' ? [1, spec.height, spec.width, spec.channels] : [1, spec.channels, spec.height, spec.width]);
      const outs = gm!.execute({ [inputName]: x }, names) as TfTensor[];
      names.forEach((n, i) => {
        const t = outs[i];
        if (t.dtype === 'float32' && t.shape.length >= 2) {
          const shape = toNchw(t.shape);
          layers.push({ name: n, op: nodes[n].op, shape, units: shape[1] ?? 1 });
        }
      });
      tf.dispose([x, ...outs]);
      for (const w of Object.values((gm as unknown as { weights: Record<string, TfTensor[]> }).weights ?? {})) for (const t of w) if (t.dtype === 'float32') parameters += t.size;
      outputName = config.output ?? gm!.outputs[0].name.replace(/:0$/, '');
    }
    const outLayer = layers.find((l) => l.name === outputName);
    if (!outLayer || outLayer.shape.length !== 2) {
      throw configError(config, ['output'], `${shown}: output '${outputName}' has shape [${outLayer?.shape.join(', ') ?? '?'}], expected [N, classes]`);
    }
    numClasses = outLayer.shape[1];
    const aliases: Record<string, string> = {};
    for (const [alias, t] of Object.entries(config.layers ?? {})) {
      if (!layers.some((l) => l.name === t) && t !== inputName) {
        throw configError(config, ['layers', alias], `layer alias '${alias}' names no layer '${t}' in ${shown}`, {
          suggestion: didYouMean(t, layers.map((l) => l.name)) ?? 'see `xai inspect` for layer names',
        });
      }
      aliases[alias] = t;
      const li = layers.find((l) => l.name === t);
      if (li && !li.alias) li.alias = alias;
    }
    const labels = readLabels(config, root, numClasses);
    const info: ModelInfo = { id, runtime: 'tfjs', backend: `tfjs ${backend}`, input: spec, labels, numClasses, layers, parameters, output: config.output_type ?? 'logits' };
    const m = new TfjsModel(tf, format, lm, gm, info, outputName, inputName, config.memory_budget_mb ?? DEFAULT_BUDGET_MB);
    m.aliases = aliases;
    return m;
  }

  private resolve(layer: string): string {
    if ((layer === 'input' && !Object.hasOwn(this.aliases, 'input') && !this.known.has('input')) || layer === this.inputName) return this.inputName;
    return resolveLayer(layer, this.aliases, this.known, this.info.id);
  }

  private isNhwc(): boolean {
    return this.info.input.layout === 'NHWC';
  }

  private toModel(t: Tensor): TfTensor {
    const tf = this.tf;
    if (t.shape.length === 4 && this.isNhwc()) {
      const [n, c, h, w] = t.shape;
      return tf.tensor(nchwToNhwc(t.data, t.shape), [n, h, w, c], 'float32');
    }
    return tf.tensor(t.data, t.shape, 'float32');
  }

  private async fromModel(t: TfTensor): Promise<Tensor> {
    const data = (await t.data()) as Float32Array;
    if (t.shape.length === 4 && this.isNhwc()) return { data: nhwcToNchw(data, t.shape), shape: [t.shape[0], t.shape[3], t.shape[1], t.shape[2]] };
    return { data: data instanceof Float32Array ? data : Float32Array.from(data), shape: [...t.shape] };
  }

  private symOf(layer: string): Sym {
    const e = this.layerNodes.get(layer);
    if (!e) throw new Error(`no layer '${layer}'`);
    return e.nodes[0].outputTensors[0];
  }

  private cached<T>(key: string, make: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, make());
    return this.cache.get(key) as T;
  }

  /**
   * Re-applies the model's layers (original nodes, in order) from `seed` (symbolic tensor id → new tensor).
   * `hook` may replace a layer's new output. Layers whose inputs are not all available are skipped.
   */
  private replay(seed: Map<number, Sym>, hook?: (orig: Sym, t: Sym) => Sym): Map<number, Sym> {
    const map = new Map(seed);
    for (const { layer, nodes } of this.layerNodes.values()) {
      if (layer.getClassName() === 'InputLayer') continue;
      for (const node of nodes) {
        if (node.outputTensors.every((t) => map.has(t.id))) continue;
        if (!node.inputTensors.every((t) => map.has(t.id))) continue;
        const args = node.inputTensors.map((t) => map.get(t.id)!);
        const out = layer.apply(args.length === 1 ? args[0] : args, node.callArgs ?? {}) as Sym | Sym[];
        const outs = Array.isArray(out) ? out : [out];
        node.outputTensors.forEach((t, i) => map.set(t.id, hook ? hook(t, outs[i]) : outs[i]));
      }
    }
    return map;
  }

  private chunks(batch: Tensor): Tensor[] {
    const out: Tensor[] = [];
    for (let i = 0; i < batch.shape[0]; i += this.maxBatch) out.push(sliceBatch(batch, i, Math.min(this.maxBatch, batch.shape[0] - i)));
    return out;
  }

  private check(batch: Tensor): void {
    const { channels, height, width } = this.info.input;
    checkBatch(batch, channels, height, width, this.info.id);
  }

  /** Runs `names` (layer / node names) on an NCHW batch chunk; returns model-layout tensors (caller disposes). */
  private run(b: Tensor, names: string[]): TfTensor[] {
    const tf = this.tf;
    const x = this.toModel(b);
    try {
      if (this.layersModel) {
        const key = `taps:${names.join('\u0000')}`;
        const m = this.cached(key, () => tf.model({ inputs: this.layersModel!.inputs, outputs: names.map((n) => this.symOf(n)) }));
        const r = m.predict(x) as TfTensor | TfTensor[];
        return Array.isArray(r) ? r : [r];
      }
      const r = this.graphModel!.execute({ [this.inputName]: x }, names) as TfTensor | TfTensor[];
      return Array.isArray(r) ? r : [r];
    } finally {
      x.dispose();
    }
  }

  async predict(batch: Tensor): Promise<{ logits: Tensor; probs: Tensor }> {
    this.check(batch);
    const parts: Tensor[] = [];
    for (const b of this.chunks(batch)) {
      const [y] = this.run(b, [this.outputName]);
      parts.push(await this.fromModel(y));
      y.dispose();
    }
    const logits = concatBatch(parts);
    return { logits, probs: outputProbabilities(logits, this.info) };
  }

  async activations(batch: Tensor, layers: string[]): Promise<Record<string, Tensor>> {
    this.check(batch);
    const names = layers.map((l) => this.resolve(l));
    const fetch = [...new Set(names.filter((n) => n !== this.inputName))];
    const parts: Tensor[][] = fetch.map(() => []);
    if (fetch.length) {
      for (const b of this.chunks(batch)) {
        const ys = this.run(b, fetch);
        for (let i = 0; i < ys.length; i++) parts[i].push(await this.fromModel(ys[i]));
        this.tf.dispose(ys);
      }
    }
    const out: Record<string, Tensor> = {};
    layers.forEach((l, i) => (out[l] = names[i] === this.inputName ? batch : concatBatch(parts[fetch.indexOf(names[i])])));
    return out;
  }

  private layerShape(name: string): number[] {
    if (name === this.inputName) {
      const { channels, height, width } = this.info.input;
      return [1, channels, height, width];
    }
    return this.info.layers.find((l) => l.name === name)!.shape;
  }

  async forwardFrom(layer: string, activations: Tensor): Promise<Tensor> {
    const t = this.resolve(layer);
    if (t === this.inputName) return (await this.predict(activations)).logits;
    const shape = this.layerShape(t);
    if (activations.shape.length !== shape.length || activations.shape.slice(1).some((d, i) => d !== shape[i + 1])) {
      throw new Error(`model '${this.info.id}': forwardFrom('${layer}') expects [N, ${shape.slice(1).join(', ')}], got [${activations.shape.join(', ')}]`);
    }
    const tf = this.tf;
    const parts: Tensor[] = [];
    for (const a of this.chunks(activations)) {
      const x = this.toModel(a);
      let y: TfTensor;
      if (this.layersModel) {
        const head = this.cached(`head:${t}`, () => {
          const src = this.symOf(t);
          const inp = tf.input({ shape: src.shape.slice(1) as number[] });
          const map = this.replay(new Map([[src.id, inp]]));
          const out = map.get(this.symOf(this.outputName).id);
          if (!out) throw new Error(`layer '${layer}' does not cut the graph: the logits also depend on the input by another path (e.g. a residual shortcut); pick a block output`);
          return tf.model({ inputs: inp, outputs: out });
        });
        y = head.predict(x) as TfTensor;
      } else {
        y = this.graphModel!.execute({ [t]: x }, this.outputName) as TfTensor;
      }
      parts.push(await this.fromModel(y));
      tf.dispose([x, y]);
    }
    return concatBatch(parts);
  }

  async gradients(batch: Tensor, layer: string, weights: Float32Array): Promise<GradientResult> {
    this.check(batch);
    const t = this.resolve(layer);
    const n = batch.shape[0];
    const c = this.info.numClasses;
    if (weights.length !== n * c) throw new Error(`model '${this.info.id}': gradient weights must be [${n} × ${c}], got ${weights.length} values`);
    const tf = this.tf;
    const shape = this.layerShape(t);
    const modelShape = shape.length === 4 && this.isNhwc() ? [shape[2], shape[3], shape[1]] : shape.slice(1);
    const parts: { a: Tensor; g: Tensor; l: Tensor }[] = [];
    for (let i = 0; i < n; i += this.maxBatch) {
      const k = Math.min(this.maxBatch, n - i);
      const b = sliceBatch(batch, i, k);
      const x = this.toModel(b);
      const w = tf.tensor2d(weights.subarray(i * c, (i + k) * c), [k, c]);
      const z = tf.zeros([k, ...modelShape]);
      let act: TfTensor | undefined;
      let logits: TfTensor | undefined;
      let f: (z: TfTensor) => TfTensor;
      if (this.layersModel) {
        const gm = this.cached(`grad:${t}`, () => {
          const xin = tf.input({ shape: this.layersModel!.inputs[0].shape.slice(1) as number[] });
          const zin = tf.input({ shape: modelShape });
          let aSym: Sym | undefined;
          const src = this.layersModel!.inputs[0];
          const addZ = (s: Sym) => tf.layers.add().apply([s, zin]) as Sym;
          let seedT = xin;
          if (t === this.inputName) {
            aSym = xin;
            seedT = addZ(xin);
          }
          const target = t === this.inputName ? undefined : this.symOf(t).id;
          const map = this.replay(new Map([[src.id, seedT]]), (orig, s) => {
            if (orig.id !== target) return s;
            aSym = s;
            return addZ(s);
          });
          const out = map.get(this.symOf(this.outputName).id)!;
          return tf.model({ inputs: [xin, zin], outputs: [aSym!, out] });
        });
        f = (zz) => {
          const [a, l] = gm.apply([x, zz]) as TfTensor[];
          act = tf.keep(a);
          logits = tf.keep(l);
          return tf.sum(tf.mul(l, w));
        };
      } else {
        const gm = this.graphModel!;
        const a0 = t === this.inputName ? x : (gm.execute({ [this.inputName]: x }, t) as TfTensor);
        act = a0 === x ? tf.clone(x) : a0;
        f = (zz) => {
          const l = gm.execute(t === this.inputName ? { [this.inputName]: tf.add(x, zz) } : { [this.inputName]: x, [t]: tf.add(act!, zz) }, this.outputName) as TfTensor;
          logits = tf.keep(l);
          return tf.sum(tf.mul(l, w));
        };
      }
      let grad: TfTensor;
      try {
        const r = tf.valueAndGrad(f)(z);
        grad = r.grad;
        r.value.dispose();
      } catch (e) {
        tf.dispose([x, w, z, act!, logits!].filter(Boolean));
        throw new Error(`model '${this.info.id}': gradient w.r.t. '${layer}' failed on tfjs ${tf.getBackend()}: ${(e as Error).message.split('\n')[0]}`);
      }
      parts.push({ a: await this.fromModel(act!), g: await this.fromModel(grad), l: await this.fromModel(logits!) });
      tf.dispose([x, w, z, act!, logits!, grad]);
    }
    return { activations: concatBatch(parts.map((p) => p.a)), gradients: concatBatch(parts.map((p) => p.g)), logits: concatBatch(parts.map((p) => p.l)) };
  }

  batchSizeFor(budgetBytes: number): number {
    const { channels, height, width } = this.info.input;
    return batchSizeFromLayers(this.info.layers, channels * height * width, budgetBytes);
  }

  async dispose(): Promise<void> {
    this.layersModel?.dispose();
    this.graphModel?.dispose();
    this.cache.clear();
  }
}

