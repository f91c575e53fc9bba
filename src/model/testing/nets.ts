// Seeded random-weight CNNs for tests and benches, each built twice from the same weights: as an ONNX graph
// (NCHW, explicit pads, PyTorch layouts) and as a TF.js layers model (NHWC).
//
// Equivalence notes (ONNX → TF.js):
// - ONNX explicit pads [t,l,b,r] become ZeroPadding2D([[t,b],[l,r]]) + 'valid'; TF 'same' pads (0,1) for even
//   inputs with stride 2 where PyTorch pads (1,1), so 'same' is never used.
// - Padded MaxPool becomes ZeroPadding2D + MaxPool 'valid', which equals ONNX's −∞ padding only when the input is
//   ≥ 0 (after ReLU / ReLU6, as in ResNet's stem); the builder checks that the input comes from a ReLU or Clip(0,·).
// - Conv weights [O, I/g, kH, kW] → [kH, kW, I, O]; depthwise [C, 1, kH, kW] → [kH, kW, C, 1].
// - Flatten of a C×H×W map orders features c·H·W + h·W + w in ONNX and (h·W + w)·C + c in NHWC TF.js, so the
//   dense kernel rows after a spatial flatten are permuted.
// - GlobalAveragePool keeps rank 4 in ONNX ([N,C,1,1]); the TF.js side reshapes the pooled vector to [1,1,C]
//   so that layer taps compare one to one.
import type * as tfTypes from '@tensorflow/tfjs';
import { GraphBuilder, type OnnxModelProto } from '../onnx/builder.ts';
import { mulberry32 } from '../../algo/mulberry32.ts';

type TF = typeof tfTypes;

/** mulberry32 (src/algo/mulberry32.ts). */
export const rng = mulberry32;

export function gaussian(r: () => number): () => number {
  return () => {
    const u = Math.max(r(), 1e-12);
    const v = r();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export interface TestNet {
  name: string;
  /** Encoded ONNX model. */
  onnx: Uint8Array;
  model: OnnxModelProto;
  inputName: string;
  outputName: string;
  /** [C, H, W]. */
  input: [number, number, number];
  numClasses: number;
  /** alias → ONNX tensor name. */
  layers: Record<string, string>;
  /** alias → TF.js layer name (the same point of the network). */
  tfjsLayers: Record<string, string>;
  /** Builds the same weights as a TF.js layers model (input [H, W, C], output logits). */
  tfjs(): Promise<tfTypes.LayersModel>;
  /** Parameter count (as in the TF.js model, BN moving stats included). */
  parameters: number;
}

export interface NetOptions {
  seed?: number;
  /** Fold BatchNormalization into the preceding conv in the ONNX graph (the TF.js model keeps BN layers). */
  foldBatchNorm?: boolean;
  numClasses?: number;
  /** Input [C, H, W]. */
  input?: [number, number, number];
}

interface Val {
  /** ONNX tensor name. */
  name: string;
  /** TF.js layer name producing it. */
  tf: string;
  /** [C,H,W] for maps, [F] for vectors. */
  shape: number[];
  /** For a vector flattened from a map: that map's [C,H,W]. */
  flatFrom?: [number, number, number];
  /** Known ≥ 0 (output of ReLU / Clip(0,·)). */
  nonNegative?: boolean;
}

type TfStep = (tf: TF, env: Map<string, tfTypes.SymbolicTensor>) => void;

function sanitize(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return s || 'layer';
}

export interface ConvSpec {
  out: number;
  k: number;
  stride?: number;
  pad?: number | [number, number, number, number];
  dilation?: number;
  /** 'depthwise' for group = channels. */
  group?: number | 'depthwise';
  bias?: boolean;
  name?: string;
}

/** Records a net once and emits it as ONNX nodes and as TF.js layers. */
export class NetBuilder {
  readonly g: GraphBuilder;
  private steps: TfStep[] = [];
  private tfNames = new Set<string>();
  private gauss: () => number;
  private uniform: () => number;
  parameters = 0;
  readonly x: Val;

  constructor(
    readonly netName: string,
    readonly inputShape: [number, number, number],
    seed: number,
    readonly fold = false,
    inputName = 'input',
  ) {
    this.g = new GraphBuilder(netName);
    this.uniform = rng(seed);
    this.gauss = gaussian(this.uniform);
    const name = this.g.input(inputName, [null, ...inputShape]);
    this.x = { name, tf: this.tfName(inputName), shape: [...inputShape] };
    const [c, h, w] = inputShape;
    const tfn = this.x.tf;
    this.steps.push((tf, env) => env.set(name, tf.input({ shape: [h, w, c], name: tfn })));
  }

  private tfName(base: string): string {
    let n = sanitize(base);
    if (this.tfNames.has(n)) {
      let i = 1;
      while (this.tfNames.has(`${n}_${i}`)) i++;
      n = `${n}_${i}`;
    }
    this.tfNames.add(n);
    return n;
  }

  private randn(n: number, std: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.gauss() * std;
    return a;
  }

  private randu(n: number, lo: number, hi: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * this.uniform();
    return a;
  }

  private out(name: string | undefined, base: string): string {
    return name ? name : this.g.fresh(base);
  }

  /** Conv (+ BN when `bn`), PyTorch semantics: explicit symmetric or [t,l,b,r] pads. */
  conv(x: Val, s: ConvSpec, bn?: { eps?: number; name?: string }): Val {
    const [cin, h, w] = x.shape as [number, number, number];
    const group = s.group === 'depthwise' ? cin : (s.group ?? 1);
    if (group !== 1 && group !== cin) throw new Error('NetBuilder: only group 1 or depthwise convs have a TF.js twin');
    if (group === cin && s.out !== cin) throw new Error('NetBuilder: depthwise conv needs out = in channels');
    const stride = s.stride ?? 1;
    const dil = s.dilation ?? 1;
    const pads: [number, number, number, number] = typeof s.pad === 'number' || s.pad === undefined ? [s.pad ?? 0, s.pad ?? 0, s.pad ?? 0, s.pad ?? 0] : s.pad;
    const k = s.k;
    const ho = Math.floor((h + pads[0] + pads[2] - dil * (k - 1) - 1) / stride) + 1;
    const wo = Math.floor((w + pads[1] + pads[3] - dil * (k - 1) - 1) / stride) + 1;
    const cinPerGroup = cin / group;
    const fanIn = cinPerGroup * k * k;
    const W = this.randn(s.out * cinPerGroup * k * k, Math.sqrt(2 / fanIn));
    const useBias = s.bias ?? !bn;
    const B = useBias ? this.randn(s.out, 0.1) : undefined;
    let bnP: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array; eps: number } | undefined;
    if (bn) {
      bnP = {
        gamma: this.randu(s.out, 0.5, 1.5),
        beta: this.randn(s.out, 0.1),
        mean: this.randn(s.out, 0.1),
        variance: this.randu(s.out, 0.5, 1.5),
        eps: bn.eps ?? 1e-5,
      };
    }
    const convOut = this.out(bn ? (this.fold ? bn.name : undefined) ?? s.name : s.name, 'conv');
    let onnxOut: string;
    if (bnP && this.fold) {
      // Fold BN: W' = W·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β.
      const Wf = new Float32Array(W.length);
      const Bf = new Float32Array(s.out);
      const per = cinPerGroup * k * k;
      for (let o = 0; o < s.out; o++) {
        const f = bnP.gamma[o] / Math.sqrt(bnP.variance[o] + bnP.eps);
        for (let i = 0; i < per; i++) Wf[o * per + i] = W[o * per + i] * f;
        Bf[o] = ((B ? B[o] : 0) - bnP.mean[o]) * f + bnP.beta[o];
      }
      const wName = this.g.initializer(`${convOut}.weight`, Wf, [s.out, cinPerGroup, k, k]);
      const bName = this.g.initializer(`${convOut}.bias`, Bf, [s.out]);
      onnxOut = this.g.conv(x.name, wName, bName, { strides: [stride, stride], pads, dilations: [dil, dil], group, kernelShape: [k, k] }, convOut);
    } else {
      const wName = this.g.initializer(`${convOut}.weight`, W, [s.out, cinPerGroup, k, k]);
      const bName = B ? this.g.initializer(`${convOut}.bias`, B, [s.out]) : undefined;
      onnxOut = this.g.conv(x.name, wName, bName, { strides: [stride, stride], pads, dilations: [dil, dil], group, kernelShape: [k, k] }, convOut);
      if (bnP) {
        const bnOut = this.out(bn!.name, 'bn');
        const ps = [bnP.gamma, bnP.beta, bnP.mean, bnP.variance].map((a, i) => this.g.initializer(`${bnOut}.${['weight', 'bias', 'running_mean', 'running_var'][i]}`, a, [s.out]));
        onnxOut = this.g.batchNorm(onnxOut, ps[0], ps[1], ps[2], ps[3], bnP.eps, bnOut);
      }
    }
    // TF.js twin.
    const convTf = this.tfName(bnP ? `${s.name ?? convOut}_conv` : onnxOut);
    const bnTf = bnP ? this.tfName(onnxOut) : undefined;
    const padTf = pads.some((p) => p > 0) ? this.tfName(`${convTf}_pad`) : undefined;
    const inName = x.name;
    const outName = onnxOut;
    // Kernel to TF layout.
    let kernel: Float32Array;
    let kshape: number[];
    if (group === 1) {
      kernel = new Float32Array(W.length);
      kshape = [k, k, cin, s.out];
      for (let o = 0; o < s.out; o++)
        for (let i = 0; i < cin; i++)
          for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) kernel[((ky * k + kx) * cin + i) * s.out + o] = W[((o * cin + i) * k + ky) * k + kx];
    } else {
      kernel = new Float32Array(W.length);
      kshape = [k, k, cin, 1];
      for (let c = 0; c < cin; c++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) kernel[(ky * k + kx) * cin + c] = W[(c * k + ky) * k + kx];
    }
    this.parameters += W.length + (B ? B.length : 0) + (bnP ? 4 * s.out : 0);
    this.steps.push((tf, env) => {
      let t = env.get(inName)!;
      if (padTf) t = tf.layers.zeroPadding2d({ padding: [[pads[0], pads[2]], [pads[1], pads[3]]], name: padTf }).apply(t) as tfTypes.SymbolicTensor;
      const layer =
        group === 1
          ? tf.layers.conv2d({ filters: s.out, kernelSize: k, strides: stride, dilationRate: dil, padding: 'valid', useBias, name: convTf })
          : tf.layers.depthwiseConv2d({ kernelSize: k, depthMultiplier: 1, strides: stride, dilationRate: dil, padding: 'valid', useBias, name: convTf });
      t = layer.apply(t) as tfTypes.SymbolicTensor;
      layer.setWeights(useBias ? [tf.tensor(kernel, kshape), tf.tensor(B!, [s.out])] : [tf.tensor(kernel, kshape)]);
      if (bnP) {
        const bl = tf.layers.batchNormalization({ axis: -1, epsilon: bnP.eps, name: bnTf });
        t = bl.apply(t) as tfTypes.SymbolicTensor;
        bl.setWeights([tf.tensor(bnP.gamma), tf.tensor(bnP.beta), tf.tensor(bnP.mean), tf.tensor(bnP.variance)]);
      }
      env.set(outName, t);
    });
    return { name: onnxOut, tf: bnTf ?? convTf, shape: [s.out, ho, wo] };
  }

  relu(x: Val, name?: string): Val {
    const out = this.g.relu(x.name, this.out(name, 'relu'));
    const tfn = this.tfName(out);
    this.steps.push((tf, env) => env.set(out, tf.layers.reLU({ name: tfn }).apply(env.get(x.name)!) as tfTypes.SymbolicTensor));
    return { name: out, tf: tfn, shape: x.shape, flatFrom: x.flatFrom, nonNegative: true };
  }

  /** Clip(0, max): ReLU6 for max = 6. */
  relu6(x: Val, name?: string, max = 6): Val {
    const out = this.g.clip(x.name, 0, max, this.out(name, 'clip'));
    const tfn = this.tfName(out);
    this.steps.push((tf, env) => env.set(out, tf.layers.reLU({ maxValue: max, name: tfn }).apply(env.get(x.name)!) as tfTypes.SymbolicTensor));
    return { name: out, tf: tfn, shape: x.shape, flatFrom: x.flatFrom, nonNegative: true };
  }

  private pool(kind: 'max' | 'avg', x: Val, k: number, stride: number, pad: number, name?: string): Val {
    const [c, h, w] = x.shape;
    if (pad > 0 && kind === 'avg') throw new Error('NetBuilder: padded AveragePool has no exact TF.js twin');
    if (pad > 0 && !x.nonNegative) throw new Error('NetBuilder: padded MaxPool needs a non-negative input for a TF.js twin');
    const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
    const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
    const o = { kernel: [k, k] as [number, number], strides: [stride, stride] as [number, number], pads: pad ? ([pad, pad, pad, pad] as [number, number, number, number]) : undefined };
    const out = kind === 'max' ? this.g.maxPool(x.name, o, this.out(name, 'maxpool')) : this.g.averagePool(x.name, o, this.out(name, 'avgpool'));
    const tfn = this.tfName(out);
    const padTf = pad ? this.tfName(`${tfn}_pad`) : undefined;
    this.steps.push((tf, env) => {
      let t = env.get(x.name)!;
      if (padTf) t = tf.layers.zeroPadding2d({ padding: [[pad, pad], [pad, pad]], name: padTf }).apply(t) as tfTypes.SymbolicTensor;
      const args = { poolSize: [k, k] as [number, number], strides: [stride, stride] as [number, number], padding: 'valid' as const, name: tfn };
      env.set(out, (kind === 'max' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args)).apply(t) as tfTypes.SymbolicTensor);
    });
    return { name: out, tf: tfn, shape: [c, ho, wo], nonNegative: x.nonNegative };
  }

  maxPool(x: Val, k: number, stride: number, pad = 0, name?: string): Val {
    return this.pool('max', x, k, stride, pad, name);
  }

  avgPool(x: Val, k: number, stride: number, name?: string): Val {
    return this.pool('avg', x, k, stride, 0, name);
  }

  globalAvgPool(x: Val, name?: string): Val {
    const [c] = x.shape;
    const out = this.g.globalAveragePool(x.name, this.out(name, 'gap'));
    const tfn = this.tfName(out);
    const tfGap = this.tfName(`${tfn}_gap`);
    this.steps.push((tf, env) => {
      const t = tf.layers.globalAveragePooling2d({ name: tfGap }).apply(env.get(x.name)!) as tfTypes.SymbolicTensor;
      env.set(out, tf.layers.reshape({ targetShape: [1, 1, c], name: tfn }).apply(t) as tfTypes.SymbolicTensor);
    });
    return { name: out, tf: tfn, shape: [c, 1, 1], nonNegative: x.nonNegative };
  }

  add(a: Val, b: Val, name?: string): Val {
    const out = this.g.add(a.name, b.name, this.out(name, 'add'));
    const tfn = this.tfName(out);
    this.steps.push((tf, env) => env.set(out, tf.layers.add({ name: tfn }).apply([env.get(a.name)!, env.get(b.name)!]) as tfTypes.SymbolicTensor));
    return { name: out, tf: tfn, shape: a.shape };
  }

  flatten(x: Val, name?: string): Val {
    const out = this.g.flatten(x.name, 1, this.out(name, 'flatten'));
    const tfn = this.tfName(out);
    this.steps.push((tf, env) => env.set(out, tf.layers.flatten({ name: tfn }).apply(env.get(x.name)!) as tfTypes.SymbolicTensor));
    const [c, h, w] = x.shape as [number, number, number];
    return { name: out, tf: tfn, shape: [c * h * w], flatFrom: [c, h, w], nonNegative: x.nonNegative };
  }

  /** Gemm with transB (PyTorch Linear). */
  dense(x: Val, units: number, name?: string): Val {
    if (x.shape.length !== 1) throw new Error('NetBuilder: dense needs a flattened input');
    const fin = x.shape[0];
    const W = this.randn(units * fin, Math.sqrt(1 / fin));
    const B = this.randn(units, 0.1);
    const out = this.out(name, 'gemm');
    const wn = this.g.initializer(`${out}.weight`, W, [units, fin]);
    const bn = this.g.initializer(`${out}.bias`, B, [units]);
    this.g.gemm(x.name, wn, bn, { transB: true }, out);
    // TF kernel [fin, units]; rows follow the NHWC flatten order.
    const kernel = new Float32Array(W.length);
    const [C, H, Wd] = x.flatFrom ?? [fin, 1, 1];
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < Wd; w++) {
          const onnxCol = (c * H + h) * Wd + w;
          const tfRow = (h * Wd + w) * C + c;
          for (let u = 0; u < units; u++) kernel[tfRow * units + u] = W[u * fin + onnxCol];
        }
    this.parameters += W.length + B.length;
    const tfn = this.tfName(out);
    this.steps.push((tf, env) => {
      const l = tf.layers.dense({ units, name: tfn });
      env.set(out, l.apply(env.get(x.name)!) as tfTypes.SymbolicTensor);
      l.setWeights([tf.tensor(kernel, [fin, units]), tf.tensor(B, [units])]);
    });
    return { name: out, tf: tfn, shape: [units] };
  }

  /** Finishes: marks `y` as the graph output. */
  finish(y: Val, layers: Record<string, Val>): TestNet {
    this.g.output(y.name, [null, ...y.shape]);
    const model = this.g.build();
    const onnx = this.g.encode();
    const steps = this.steps;
    const inputName = this.x.name;
    const netName = this.netName;
    return {
      name: this.netName,
      onnx,
      model,
      inputName,
      outputName: y.name,
      input: this.inputShape,
      numClasses: y.shape[0],
      layers: Object.fromEntries(Object.entries(layers).map(([k, v]) => [k, v.name])),
      tfjsLayers: Object.fromEntries(Object.entries(layers).map(([k, v]) => [k, v.tf])),
      parameters: this.parameters,
      async tfjs() {
        const tf = (await import('@tensorflow/tfjs')) as unknown as TF;
        const env = new Map<string, tfTypes.SymbolicTensor>();
        for (const s of steps) s(tf, env);
        return tf.model({ inputs: env.get(inputName)!, outputs: env.get(y.name)!, name: netName });
      },
    };
  }
}

/** ResNet-style: conv-BN-ReLU stem, padded maxpool, two basic blocks (identity and strided with 1×1 downsample). */
export function resnetStyle(o: NetOptions = {}): TestNet {
  const n = new NetBuilder('resnet_style', o.input ?? [3, 32, 32], o.seed ?? 1, o.foldBatchNorm);
  let x = n.relu(n.conv(n.x, { out: 8, k: 5, stride: 2, pad: 2, name: 'conv1' }, { name: 'bn1' }), 'stem_relu');
  const stem = n.maxPool(x, 3, 2, 1, 'stem_pool');
  // layer1: identity block 8 → 8.
  let y = n.relu(n.conv(stem, { out: 8, k: 3, pad: 1, name: 'layer1.conv1' }, { name: 'layer1.bn1' }), 'layer1.relu1');
  y = n.conv(y, { out: 8, k: 3, pad: 1, name: 'layer1.conv2' }, { name: 'layer1.bn2' });
  const l1 = n.relu(n.add(y, stem, 'layer1.add'), 'layer1_out');
  // layer2: strided block 8 → 16 with projection shortcut.
  y = n.relu(n.conv(l1, { out: 16, k: 3, stride: 2, pad: 1, name: 'layer2.conv1' }, { name: 'layer2.bn1' }), 'layer2.relu1');
  y = n.conv(y, { out: 16, k: 3, pad: 1, name: 'layer2.conv2' }, { name: 'layer2.bn2' });
  const ds = n.conv(l1, { out: 16, k: 1, stride: 2, name: 'layer2.downsample.0' }, { name: 'layer2.downsample.1' });
  const l2 = n.relu(n.add(y, ds, 'layer2.add'), 'layer2_out');
  const gap = n.globalAvgPool(l2, 'avgpool');
  const f = n.flatten(gap, 'flatten');
  x = n.dense(f, o.numClasses ?? 10, 'logits');
  return n.finish(x, { stem, layer1: l1, layer2: l2, avgpool: gap, logits: x });
}

/** VGG-style: conv-ReLU pairs with max / average pooling between them, a dilated conv, flatten + dense head. */
export function vggStyle(o: NetOptions = {}): TestNet {
  const n = new NetBuilder('vgg_style', o.input ?? [3, 32, 32], o.seed ?? 2, o.foldBatchNorm);
  let x = n.relu(n.conv(n.x, { out: 8, k: 3, pad: 1, name: 'features.0' }), 'features.1');
  x = n.relu(n.conv(x, { out: 8, k: 3, pad: 1, name: 'features.2' }), 'block1_conv');
  const b1 = n.maxPool(x, 2, 2, 0, 'block1');
  x = n.relu(n.conv(b1, { out: 16, k: 3, pad: 2, dilation: 2, name: 'features.5' }), 'block2_conv');
  const b2 = n.avgPool(x, 2, 2, 'block2');
  x = n.relu(n.conv(b2, { out: 16, k: 3, pad: [1, 0, 1, 2], name: 'features.8' }), 'block3_conv');
  const b3 = n.maxPool(x, 2, 2, 0, 'block3');
  const f = n.flatten(b3, 'flatten');
  const fc1 = n.relu(n.dense(f, 32, 'classifier.0'), 'fc1');
  const y = n.dense(fc1, o.numClasses ?? 10, 'logits');
  return n.finish(y, { block1: b1, block2: b2, block3_conv: x, block3: b3, fc1, logits: y });
}

/** MobileNetV2-style: strided stem with ReLU6 (Clip), inverted residual blocks with depthwise convs. */
export function mobilenetStyle(o: NetOptions = {}): TestNet {
  const n = new NetBuilder('mobilenet_style', o.input ?? [3, 32, 32], o.seed ?? 3, o.foldBatchNorm);
  const stem = n.relu6(n.conv(n.x, { out: 8, k: 3, stride: 2, pad: 1, name: 'features.0.0' }, { name: 'features.0.1' }), 'stem');
  // Inverted residual, stride 1, with the identity shortcut.
  let y = n.relu6(n.conv(stem, { out: 24, k: 1, name: 'b1.expand' }, { name: 'b1.expand_bn' }), 'b1.expand_relu');
  y = n.relu6(n.conv(y, { out: 24, k: 3, pad: 1, group: 'depthwise', name: 'b1.dw' }, { name: 'b1.dw_bn' }), 'b1.dw_relu');
  y = n.conv(y, { out: 8, k: 1, name: 'b1.project' }, { name: 'b1.project_bn' });
  const b1 = n.add(y, stem, 'block1');
  // Inverted residual, stride 2 (even input: symmetric pads differ from TF 'same').
  y = n.relu6(n.conv(b1, { out: 48, k: 1, name: 'b2.expand' }, { name: 'b2.expand_bn' }), 'b2.expand_relu');
  y = n.relu6(n.conv(y, { out: 48, k: 3, stride: 2, pad: 1, group: 'depthwise', name: 'b2.dw' }, { name: 'b2.dw_bn' }), 'b2.dw_relu');
  const b2 = n.conv(y, { out: 16, k: 1, name: 'b2.project' }, { name: 'block2' });
  const last = n.relu6(n.conv(b2, { out: 32, k: 1, name: 'features.last' }, { name: 'features.last_bn' }), 'last');
  const gap = n.globalAvgPool(last, 'pool');
  const f = n.flatten(gap, 'flatten');
  const out = n.dense(f, o.numClasses ?? 10, 'logits');
  return n.finish(out, { stem, block1: b1, 'b2.dw': y, block2: b2, last, logits: out });
}

/**
 * ResNet-18 shapes (torchvision) with random weights, 224² by default; tensor names follow torch.onnx.export
 * (`/layer4/layer4.1/relu_1/Relu_output_0`). Aliases conv1, layer1..layer4, avgpool, fc.
 */
export function resnet18(o: NetOptions = {}): TestNet {
  const n = new NetBuilder('resnet18', o.input ?? [3, 224, 224], o.seed ?? 18, o.foldBatchNorm);
  let x = n.relu(n.conv(n.x, { out: 64, k: 7, stride: 2, pad: 3, name: '/conv1/Conv_output_0' }, { name: '/bn1/BatchNormalization_output_0' }), '/relu/Relu_output_0');
  const conv1 = x;
  x = n.maxPool(x, 3, 2, 1, '/maxpool/MaxPool_output_0');
  const stages: Record<string, Val> = {};
  let cin = 64;
  for (let s = 1; s <= 4; s++) {
    const cout = 64 * 2 ** (s - 1);
    for (let b = 0; b < 2; b++) {
      const stride = s > 1 && b === 0 ? 2 : 1;
      const p = `/layer${s}/layer${s}.${b}`;
      let y = n.relu(n.conv(x, { out: cout, k: 3, stride, pad: 1, name: `${p}/conv1/Conv_output_0` }, { name: `${p}/bn1/BatchNormalization_output_0` }), `${p}/relu/Relu_output_0`);
      y = n.conv(y, { out: cout, k: 3, pad: 1, name: `${p}/conv2/Conv_output_0` }, { name: `${p}/bn2/BatchNormalization_output_0` });
      const sc =
        stride !== 1 || cin !== cout
          ? n.conv(x, { out: cout, k: 1, stride, name: `${p}/downsample/downsample.0/Conv_output_0` }, { name: `${p}/downsample/downsample.1/BatchNormalization_output_0` })
          : x;
      x = n.relu(n.add(y, sc, `${p}/Add_output_0`), `${p}/relu_1/Relu_output_0`);
      cin = cout;
    }
    stages[`layer${s}`] = x;
  }
  const gap = n.globalAvgPool(x, '/avgpool/GlobalAveragePool_output_0');
  const f = n.flatten(gap, '/Flatten_output_0');
  const y = n.dense(f, o.numClasses ?? 1000, 'logits');
  return n.finish(y, { conv1, ...stages, avgpool: gap, fc: y });
}

export const NETS = { resnet: resnetStyle, vgg: vggStyle, mobilenet: mobilenetStyle } as const;

/** A deterministic random NCHW batch in [-1, 1]. */
export function randomBatch(n: number, shape: [number, number, number], seed = 7): { data: Float32Array; shape: number[] } {
  const r = rng(seed);
  const data = new Float32Array(n * shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, shape: [n, ...shape] };
}
