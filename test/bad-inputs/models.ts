// Small ONNX models for the bad-input corpus (built with src/model/onnx/builder.ts): a conv → GAP → Gemm classifier
// with a chosen input (channels, rank) and optionally its own softmax.
import { GraphBuilder } from '../../src/model/onnx/builder.ts';

export function tinyNet(opts: { channels?: number; side?: number; softmax?: boolean; flat?: boolean } = {}): Uint8Array {
  const c = opts.channels ?? 3;
  const s = opts.side ?? 16;
  const g = new GraphBuilder('tiny');
  if (opts.flat) {
    const x = g.input('x', [null, 10]);
    const y = g.gemm(x, g.initializer('w', Float32Array.from({ length: 30 }, (_, i) => (i % 7) / 7), [3, 10]), undefined, { transB: true }, 'logits');
    g.output(y, [null, 3]);
    return g.encode();
  }
  const x = g.input('x', [null, c, s, s]);
  const w = g.initializer('w', Float32Array.from({ length: 2 * c * 9 }, (_, i) => ((i * 7) % 5) / 5 - 0.4), [2, c, 3, 3]);
  const feat = g.conv(x, w, g.initializer('b', Float32Array.from([0.1, -0.2]), [2]), { pads: [1, 1, 1, 1], kernelShape: [3, 3] }, 'feat');
  const flat = g.flatten(g.globalAveragePool(feat, 'gap'), 1, 'flat');
  const logits = g.gemm(flat, g.initializer('fc', Float32Array.from([1, -1, 0.5, 0.5, -2, 1]), [3, 2]), g.initializer('fb', Float32Array.from([0, 0.1, 0.2]), [3]), { transB: true }, 'logits');
  g.output(opts.softmax ? g.softmax(logits, -1, 'probs') : logits, [null, 3]);
  return g.encode();
}
