// Kernels that gradients need and tfjs-backend-wasm 4.22 does not register.
// - Conv2DBackpropFilter: the gradient of tfjs-layers' Conv2D (always a fused conv) computes the filter gradient
//   eagerly, even when only the input gradient is wanted. Registered here as a composition of wasm kernels: the
//   filter gradient is a conv of the transposed input [Ci,H,W,N] with the transposed output gradient [Ho,Wo,N,Co]
//   as the filter, dilated by the forward stride (as TensorFlow derives it), then sliced and transposed to HWIO.
// - DepthwiseConv2dNativeBackpropInput / …BackpropFilter, UnsortedSegmentSum: run the cpu backend's kernel on
//   copies of the data (depthwise layers are cheap; segment sums are not used by our gradients — logits are picked
//   with a weight mask, never gathered).
// - MaxPoolGrad: the wasm kernel breaks ties (e.g. all-zero windows after a ReLU) towards a later element; the cpu
//   kernel, like PyTorch's max_pool2d backward, routes the gradient to the first maximum — replaced by the cpu one.
import type { TF } from './backend.ts';

type TensorInfo = { dataId: object; shape: number[]; dtype: string };
type AnyBackend = {
  readSync(dataId: object): unknown;
  write(values: unknown, shape: number[], dtype: string): object;
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: unknown): TensorInfo;
};
type KernelFn = (args: { inputs: Record<string, TensorInfo>; backend: AnyBackend; attrs: Record<string, unknown> }) => TensorInfo | TensorInfo[];

let registered = false;

export function registerWasmGradientKernels(tf: TF): void {
  if (registered) return;
  registered = true;
  const has = (k: string) => tf.getKernel(k, 'wasm') !== undefined;
  if (!has('Conv2DBackpropFilter')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter(tf) as never });
  }
  if (has('MaxPoolGrad') && tf.getKernel('MaxPoolGrad', 'cpu')) {
    tf.unregisterKernel('MaxPoolGrad', 'wasm');
    tf.registerKernel({ kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: cpuFallback(tf, 'MaxPoolGrad') as never });
  }
  for (const k of ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'UnsortedSegmentSum']) {
    if (!has(k) && tf.getKernel(k, 'cpu')) tf.registerKernel({ kernelName: k, backendName: 'wasm', kernelFunc: cpuFallback(tf, k) as never });
  }
}

function kernel(tf: TF, name: string): KernelFn {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel ${name} missing`);
  return k.kernelFunc as unknown as KernelFn;
}

function conv2dBackpropFilter(tf: TF): KernelFn {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | number[][];
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      filterShape: [number, number, number, number];
    };
    if (dataFormat && dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter (wasm): only NHWC is supported');
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad as never, dimRoundingMode, false, 'channelsLast');
    const [kh, kw, ci, co] = filterShape;
    const [, H, W] = x.shape;
    const [, Ho, Wo] = dy.shape;
    const sh = info.strideHeight;
    const sw = info.strideWidth;
    const { top, left } = info.padInfo;
    const pb = Math.max(0, kh + (Ho - 1) * sh - H - top);
    const pr = Math.max(0, kw + (Wo - 1) * sw - W - left);
    const transpose = kernel(tf, 'Transpose');
    const conv = kernel(tf, 'Conv2D');
    const slice = kernel(tf, 'Slice');
    const tmp: TensorInfo[] = [];
    const xt = transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } }) as TensorInfo; // [Ci, H, W, N]
    tmp.push(xt);
    const dyt = transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }) as TensorInfo; // [Ho, Wo, N, Co]
    tmp.push(dyt);
    let g = conv({
      inputs: { x: xt, filter: dyt },
      backend,
      attrs: { strides: [1, 1], pad: [[0, 0], [top, pb], [left, pr], [0, 0]], dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: undefined },
    }) as TensorInfo; // [Ci, oh, ow, Co], oh ≥ kh
    tmp.push(g);
    if (g.shape[1] !== kh || g.shape[2] !== kw) {
      g = slice({ inputs: { x: g }, backend, attrs: { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] } }) as TensorInfo;
      tmp.push(g);
    }
    const out = transpose({ inputs: { x: g }, backend, attrs: { perm: [1, 2, 0, 3] } }) as TensorInfo; // [kh, kw, Ci, Co]
    for (const t of tmp) backend.disposeData(t.dataId);
    return out;
  };
}

function cpuFallback(tf: TF, name: string): KernelFn {
  return ({ inputs, backend, attrs }) => {
    const cpuKernel = tf.getKernel(name, 'cpu')!.kernelFunc as unknown as KernelFn;
    const cpu = tf.engine().findBackend('cpu') as unknown as AnyBackend;
    if (!cpu) throw new Error(`${name} (wasm): the cpu backend is not available for the fallback`);
    const cpuInputs: Record<string, TensorInfo> = {};
    for (const [k, t] of Object.entries(inputs)) cpuInputs[k] = { dataId: cpu.write(backend.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
    try {
      const out = cpuKernel({ inputs: cpuInputs, backend: cpu, attrs });
      const outs = Array.isArray(out) ? out : [out];
      const res = outs.map((o) => {
        const r = backend.makeOutput(o.shape, o.dtype, undefined, cpu.readSync(o.dataId));
        cpu.disposeData(o.dataId);
        return r;
      });
      return Array.isArray(out) ? res : res[0];
    } finally {
      for (const t of Object.values(cpuInputs)) cpu.disposeData(t.dataId);
    }
  };
}
