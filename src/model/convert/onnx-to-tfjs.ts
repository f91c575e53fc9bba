// ONNX (NCHW CNN) → TF.js layers model (NHWC), same weights, same arithmetic.
// Supported ops: Conv (group 1 or depthwise), BatchNormalization (inference), Relu, Sigmoid, MaxPool, AveragePool,
// GlobalAveragePool, GlobalMaxPool, Flatten, Gemm, MatMul (constant B), Add, Clip(0, max), Identity, Dropout,
// Softmax.
// Conventions: Conv OIHW → HWIO; ONNX explicit pads become 'same' only where TF's 'same' pads identically (TF puts the
// odd pixel at the end), else a ZeroPadding2D layer + 'valid' (for MaxPool only when its input is known ≥ 0, where
// zero padding equals ONNX's −∞ padding). Every tfjs layer is named after the ONNX value it
// produces, so layer names/aliases chosen for the ONNX model work unchanged on the tfjs one.
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { attrs, decodeOnnx, num, OnnxConvertError, tensorData, type ConstTensor, type OnnxModel, type OnnxNode } from './onnx-graph.ts';

type Kind = 'nhwc' | 'flat' | 'pooled'; // pooled = ONNX [N,C,1,1] held as tfjs [N,C]
interface Val {
  t: tf.SymbolicTensor;
  kind: Kind;
  /** Known ≥ 0 (ReLU / Clip(0,·) output, or max-pooled from one): zero padding then acts as −∞ padding for MaxPool. */
  nonNeg?: boolean;
}

export interface ConvertResult {
  model: tf.LayersModel;
  /** tfjs layer name for each ONNX value that has its own layer. */
  layerNames: Record<string, string>;
  inputName: string;
  outputName: string;
}

const TF_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;
function tfName(onnxName: string, used: Set<string>): string {
  let n = onnxName.replace(/[^-A-Za-z0-9._/]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  if (!n || !TF_NAME.test(n)) n = `v_${n}`;
  let k = n;
  for (let i = 1; used.has(k); i++) k = `${n}_${i}`;
  used.add(k);
  return k;
}

/** TF 'same' padding (before, after) for one spatial dim. */
function tfSamePads(inSize: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function transpose(src: ConstTensor, perm: number[]): tf.Tensor {
  return tf.tidy(() => tf.transpose(tf.tensor(src.data, src.dims), perm));
}

/** Build the tfjs model from a decoded ONNX model. Input must have fixed C, H, W (batch may be dynamic). */
export function convertOnnxModel(m: OnnxModel, file = 'model.onnx'): ConvertResult {
  const g = m.graph!;
  const consts = new Map<string, ConstTensor>();
  for (const init of g.initializer ?? []) consts.set(init.name ?? '', tensorData(init));
  const inits = new Set(consts.keys());
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name ?? ''));
  if (inputs.length !== 1) throw new OnnxConvertError(`${file}: expected one graph input, found ${inputs.length}`);
  if ((g.output ?? []).length !== 1) throw new OnnxConvertError(`${file}: expected one graph output, found ${(g.output ?? []).length}`);
  const inName = inputs[0].name ?? 'input';
  const dims = (inputs[0].type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null ? num(d.dimValue) : NaN));
  if (dims.length !== 4 || dims.slice(1).some((d) => !(d > 0))) {
    throw new OnnxConvertError(`${file}: input ${inName} must be NCHW with fixed C,H,W; got [${dims}]`);
  }
  const [, C, H, W] = dims;
  const used = new Set<string>();
  const vals = new Map<string, Val>();
  const layerNames: Record<string, string> = {};
  const inT = tf.input({ shape: [H, W, C], name: tfName(inName, used) });
  vals.set(inName, { t: inT, kind: 'nhwc' });
  const pendingWeights: Array<[tf.layers.Layer, tf.Tensor[]]> = [];

  const where = (n: OnnxNode) => `${file}: node ${n.name || n.output?.[0]} (${n.opType})`;
  const val = (n: OnnxNode, i: number, kinds: Kind[] = ['nhwc']): Val => {
    const name = n.input?.[i] ?? '';
    const v = vals.get(name);
    if (!v) throw new OnnxConvertError(`${where(n)}: input '${name}' is not a computed tensor (constant activations are not supported)`);
    if (!kinds.includes(v.kind)) throw new OnnxConvertError(`${where(n)}: input '${name}' has layout ${v.kind}, expected ${kinds.join('/')}`);
    return v;
  };
  const cst = (n: OnnxNode, i: number, required = true): ConstTensor | undefined => {
    const name = n.input?.[i];
    if (!name) {
      if (required) throw new OnnxConvertError(`${where(n)}: input ${i} is required`);
      return undefined;
    }
    const c = consts.get(name);
    if (!c) throw new OnnxConvertError(`${where(n)}: input '${name}' must be a constant (initializer)`);
    return c;
  };
  const apply = (n: OnnxNode, layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[], kind: Kind, weights?: tf.Tensor[], nonNeg = false) => {
    const t = layer.apply(x) as tf.SymbolicTensor;
    if (weights) pendingWeights.push([layer, weights]);
    const out = n.output![0];
    vals.set(out, { t, kind, nonNeg });
    layerNames[out] = layer.name;
  };
  const alias = (n: OnnxNode, v: Val) => vals.set(n.output![0], v);

  /** Explicit ONNX pads → tfjs padding mode, inserting a ZeroPadding2D layer when 'same' would differ. */
  const spatialPadding = (n: OnnxNode, x: tf.SymbolicTensor, k: number[], s: number[], d: number[], zeroPadOk: boolean) => {
    const a = attrs(n);
    const [h, w] = [x.shape[1] as number, x.shape[2] as number];
    const autoPad = a.str('auto_pad', 'NOTSET');
    let pads = a.ints('pads', [0, 0, 0, 0]);
    if (autoPad === 'VALID') pads = [0, 0, 0, 0];
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const ph = tfSamePads(h, k[0], s[0], d[0]);
      const pw = tfSamePads(w, k[1], s[1], d[1]);
      if (autoPad === 'SAME_LOWER') {
        ph.reverse();
        pw.reverse();
      }
      pads = [ph[0], pw[0], ph[1], pw[1]];
    } else if (autoPad !== 'NOTSET') throw new OnnxConvertError(`${where(n)}: auto_pad ${autoPad} not supported`);
    if (pads.every((p) => p === 0)) return { x, padding: 'valid' as const };
    const sh = tfSamePads(h, k[0], s[0], d[0]);
    const sw = tfSamePads(w, k[1], s[1], d[1]);
    if (pads[0] === sh[0] && pads[2] === sh[1] && pads[1] === sw[0] && pads[3] === sw[1]) return { x, padding: 'same' as const };
    if (!zeroPadOk) {
      throw new OnnxConvertError(`${where(n)}: pads [${pads}] differ from TF 'same' and zero padding would change the result (input not known to be ≥ 0)`);
    }
    const padLayer = tf.layers.zeroPadding2d({
      padding: [
        [pads[0], pads[2]],
        [pads[1], pads[3]],
      ],
      name: tfName(`${n.output![0]}_pad`, used),
    });
    return { x: padLayer.apply(x) as tf.SymbolicTensor, padding: 'valid' as const };
  };

  for (const n of g.node ?? []) {
    const a = attrs(n);
    const out = n.output?.[0] ?? '';
    switch (n.opType) {
      case 'Identity':
      case 'Dropout': {
        const src = n.input?.[0] ?? '';
        if (consts.has(src)) consts.set(out, consts.get(src)!);
        else alias(n, val(n, 0, ['nhwc', 'flat', 'pooled']));
        break;
      }
      case 'Constant': {
        const t = (n.attribute ?? []).find((x) => x.name === 'value')?.t;
        if (!t) throw new OnnxConvertError(`${where(n)}: only tensor 'value' constants are supported`);
        consts.set(out, tensorData(t));
        break;
      }
      case 'Conv': {
        const x = val(n, 0);
        const wt = cst(n, 1)!;
        const bias = cst(n, 2, false);
        const k = a.ints('kernel_shape', wt.dims.slice(2));
        const s = a.ints('strides', [1, 1]);
        const d = a.ints('dilations', [1, 1]);
        const group = a.int('group', 1);
        if (k.length !== 2) throw new OnnxConvertError(`${where(n)}: only 2-D convolutions are supported`);
        const cin = x.t.shape[3] as number;
        const [cout] = wt.dims;
        const p = spatialPadding(n, x.t, k, s, d, true);
        const name = tfName(out, used);
        if (group === 1) {
          const kernel = transpose(wt, [2, 3, 1, 0]); // OIHW → HWIO
          const layer = tf.layers.conv2d({
            filters: cout,
            kernelSize: k as [number, number],
            strides: s as [number, number],
            dilationRate: d as [number, number],
            padding: p.padding,
            useBias: !!bias,
            name,
          });
          apply(n, layer, p.x, 'nhwc', bias ? [kernel, tf.tensor1d(bias.data)] : [kernel]);
        } else if (group === cin && wt.dims[1] === 1) {
          const mult = cout / cin;
          // ONNX depthwise weight [C·M, 1, kh, kw] (output channel c·M+m) → tfjs [kh, kw, C, M].
          const kernel = tf.tidy(() =>
            tf.tensor(wt.data, [cin, mult, k[0], k[1]]).transpose([2, 3, 0, 1]),
          );
          const layer = tf.layers.depthwiseConv2d({
            kernelSize: k as [number, number],
            depthMultiplier: mult,
            strides: s as [number, number],
            dilationRate: d as [number, number],
            padding: p.padding,
            useBias: !!bias,
            name,
          });
          apply(n, layer, p.x, 'nhwc', bias ? [kernel, tf.tensor1d(bias.data)] : [kernel]);
        } else throw new OnnxConvertError(`${where(n)}: group=${group} is not supported (1 or depthwise only)`);
        break;
      }
      case 'BatchNormalization': {
        if (a.int('training_mode', 0) !== 0 || (n.output ?? []).filter(Boolean).length > 1) {
          throw new OnnxConvertError(`${where(n)}: training-mode BatchNormalization; export the model in eval mode`);
        }
        const x = val(n, 0, ['nhwc', 'flat']);
        const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => cst(n, i)!);
        const layer = tf.layers.batchNormalization({ axis: -1, epsilon: a.float('epsilon', 1e-5), momentum: a.float('momentum', 0.9), name: tfName(out, used) });
        apply(n, layer, x.t, x.kind, [scale, bias, mean, variance].map((c) => tf.tensor1d(c.data)));
        break;
      }
      case 'Relu':
      case 'Sigmoid': {
        const x = val(n, 0, ['nhwc', 'flat', 'pooled']);
        const name = tfName(out, used);
        const layer = n.opType === 'Relu' ? tf.layers.reLU({ name }) : tf.layers.activation({ activation: 'sigmoid', name });
        apply(n, layer, x.t, x.kind, undefined, true);
        break;
      }
      case 'Clip': {
        // Opset ≥ 11: min and max are optional constant inputs. Only Clip(0, max) (ReLU, ReLU6) maps to a layer.
        const x = val(n, 0, ['nhwc', 'flat', 'pooled']);
        const lo = cst(n, 1, false);
        const hi = cst(n, 2, false);
        const loV = lo ? lo.data[0] : a.float('min', -Infinity);
        const hiV = hi ? hi.data[0] : a.float('max', Infinity);
        if (loV !== 0) throw new OnnxConvertError(`${where(n)}: only Clip with min 0 is supported (got ${loV})`);
        const layer = tf.layers.reLU(Number.isFinite(hiV) ? { maxValue: hiV, name: tfName(out, used) } : { name: tfName(out, used) });
        apply(n, layer, x.t, x.kind, undefined, true);
        break;
      }
      case 'Softmax': {
        const x = val(n, 0, ['flat']);
        const axis = a.int('axis', -1);
        if (axis !== -1 && axis !== 1) throw new OnnxConvertError(`${where(n)}: Softmax axis ${axis} not supported`);
        apply(n, tf.layers.softmax({ axis: -1, name: tfName(out, used) }), x.t, 'flat');
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const x = val(n, 0);
        const k = a.ints('kernel_shape');
        const s = a.ints('strides', [1, 1]);
        if (a.int('ceil_mode', 0) !== 0) throw new OnnxConvertError(`${where(n)}: ceil_mode=1 not supported`);
        if (n.opType === 'MaxPool' && a.ints('dilations', [1, 1]).some((v) => v !== 1)) throw new OnnxConvertError(`${where(n)}: dilated pooling not supported`);
        if ((n.output ?? []).filter(Boolean).length > 1) throw new OnnxConvertError(`${where(n)}: MaxPool indices output not supported`);
        // TF 'same' pooling ignores padded cells: equals ONNX MaxPool, and AveragePool with count_include_pad=0.
        if (n.opType === 'AveragePool' && a.int('count_include_pad', 0) !== 0 && a.ints('pads', [0, 0, 0, 0]).some((v) => v)) {
          throw new OnnxConvertError(`${where(n)}: count_include_pad=1 with padding not supported`);
        }
        const p = spatialPadding(n, x.t, k, s, [1, 1], n.opType === 'MaxPool' && !!x.nonNeg);
        const cfg = { poolSize: k as [number, number], strides: s as [number, number], padding: p.padding, name: tfName(out, used) };
        apply(n, n.opType === 'MaxPool' ? tf.layers.maxPooling2d(cfg) : tf.layers.averagePooling2d(cfg), p.x, 'nhwc', undefined, n.opType === 'MaxPool' && !!x.nonNeg);
        break;
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool': {
        const x = val(n, 0);
        const name = tfName(out, used);
        const layer = n.opType === 'GlobalAveragePool' ? tf.layers.globalAveragePooling2d({ name }) : tf.layers.globalMaxPooling2d({ name });
        apply(n, layer, x.t, 'pooled', undefined, !!x.nonNeg);
        break;
      }
      case 'Flatten': {
        const x = val(n, 0, ['nhwc', 'flat', 'pooled']);
        if (a.int('axis', 1) !== 1) throw new OnnxConvertError(`${where(n)}: Flatten axis must be 1`);
        if (x.kind !== 'nhwc') alias(n, { t: x.t, kind: 'flat', nonNeg: x.nonNeg });
        else {
          // ONNX flattens C,H,W in that order: permute NHWC → NCHW first (unless H = W = 1).
          let t = x.t;
          if ((t.shape[1] as number) * (t.shape[2] as number) > 1) {
            t = tf.layers.permute({ dims: [3, 1, 2], name: tfName(`${out}_nchw`, used) }).apply(t) as tf.SymbolicTensor;
          }
          apply(n, tf.layers.flatten({ name: tfName(out, used) }), t, 'flat');
        }
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        const x = val(n, 0, ['flat', 'pooled']);
        const b = cst(n, 1)!;
        const c = n.opType === 'Gemm' ? cst(n, 2, false) : undefined;
        if (n.opType === 'Gemm' && (a.float('alpha', 1) !== 1 || a.float('beta', 1) !== 1 || a.int('transA', 0) !== 0)) {
          throw new OnnxConvertError(`${where(n)}: only Gemm with alpha = beta = 1 and transA = 0 is supported`);
        }
        const transB = n.opType === 'Gemm' ? a.int('transB', 0) : 0;
        if (b.dims.length !== 2) throw new OnnxConvertError(`${where(n)}: weight must be 2-D`);
        const kernel = transB ? transpose(b, [1, 0]) : tf.tensor(b.data, b.dims);
        const units = kernel.shape[1] as number;
        if (c && c.data.length !== units) throw new OnnxConvertError(`${where(n)}: bias of ${c.data.length} values for ${units} units`);
        const layer = tf.layers.dense({ units, useBias: !!c, name: tfName(out, used) });
        apply(n, layer, x.t, 'flat', c ? [kernel, tf.tensor1d(c.data)] : [kernel]);
        break;
      }
      case 'Add': {
        const x = val(n, 0, ['nhwc', 'flat', 'pooled']);
        const y = val(n, 1, ['nhwc', 'flat', 'pooled']);
        if (x.kind !== y.kind || x.t.shape.join() !== y.t.shape.join()) {
          throw new OnnxConvertError(`${where(n)}: Add of shapes [${x.t.shape}] and [${y.t.shape}] (broadcasting not supported)`);
        }
        apply(n, tf.layers.add({ name: tfName(out, used) }), [x.t, y.t], x.kind);
        break;
      }
      default:
        throw new OnnxConvertError(`${where(n)}: op ${n.opType} is not supported by the ONNX → TF.js converter`);
    }
  }
  const outName = g.output![0].name ?? '';
  const outVal = vals.get(outName);
  if (!outVal) throw new OnnxConvertError(`${file}: graph output '${outName}' is not computed`);
  if (outVal.kind !== 'flat') throw new OnnxConvertError(`${file}: graph output '${outName}' must be 2-D [N, classes]`);
  const model = tf.model({ inputs: inT, outputs: outVal.t, name: g.name || 'converted' });
  for (const [layer, w] of pendingWeights) {
    layer.setWeights(w);
    tf.dispose(w);
  }
  return { model, layerNames, inputName: inT.name, outputName: outName };
}

export interface WriteResult {
  modelJson: string;
  weightsFile: string;
  layerNames: Record<string, string>;
  bytes: number;
}

/** Convert `onnxPath` and write `outDir/model.json` + `outDir/weights.bin` (standard tfjs layers-model format). */
export async function convertOnnxFileToTfjs(onnxPath: string, outDir: string): Promise<WriteResult> {
  const bytes = await readFile(onnxPath);
  const m = decodeOnnx(bytes, onnxPath);
  const res = convertOnnxModel(m, onnxPath);
  await mkdir(outDir, { recursive: true });
  const weightsFile = 'weights.bin';
  let written = 0;
  await res.model.save(
    tf.io.withSaveHandler(async (art) => {
      const data = art.weightData;
      const buf = Array.isArray(data) ? Buffer.concat(data.map((d) => Buffer.from(d))) : Buffer.from(data as ArrayBuffer);
      const json = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: 'xai-pipeline src/model/convert/onnx-to-tfjs.ts',
        modelTopology: art.modelTopology,
        weightsManifest: [{ paths: [weightsFile], weights: art.weightSpecs }],
        userDefinedMetadata: { sourceOnnx: onnxPath.split('/').pop(), onnxValueToLayer: res.layerNames },
      };
      await writeFile(join(outDir, weightsFile), buf);
      const text = `${JSON.stringify(json)}\n`;
      await writeFile(join(outDir, 'model.json'), text);
      written = buf.length + text.length;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  res.model.dispose();
  return { modelJson: join(outDir, 'model.json'), weightsFile: join(outDir, weightsFile), layerNames: res.layerNames, bytes: written };
}
