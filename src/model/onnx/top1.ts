// Top-1 gradient graphs (for OnnxModel.gradientsTop1, used by the CAM stage): the generated gradient graph with its
// `weights` input replaced by the one-hot of each row's argmax of the logits (ONNX ArgMax keeps the first maximum,
// as numpy's argmax), so the target class and its gradient come from one forward + backward.
import { attribute, tensorProto, type OnnxModelProto } from './builder.ts';

export function top1WeightsGraph(model: OnnxModelProto, weights: string, logits: string, numClasses: number): OnnxModelProto {
  const g = model.graph;
  if (!g) throw new Error('top1WeightsGraph: the model has no graph');
  const nodes = g.node ?? [];
  const at = nodes.findIndex((n) => (n.output ?? []).includes(logits));
  if (at < 0) throw new Error(`top1WeightsGraph: no node produces the logits '${logits}'`);
  if (!(g.input ?? []).some((i) => i.name === weights)) throw new Error(`top1WeightsGraph: the graph has no input '${weights}'`);
  const idx = `${weights}__top1_index`;
  const depth = `${weights}__top1_depth`;
  const values = `${weights}__top1_values`;
  const added = [
    { opType: 'ArgMax', input: [logits], output: [idx], attribute: [attribute('axis', 1), attribute('keepdims', 0)], name: `${weights}__top1_argmax` },
    { opType: 'OneHot', input: [idx, depth, values], output: [weights], attribute: [attribute('axis', -1)], name: `${weights}__top1_onehot` },
  ];
  return {
    ...model,
    graph: {
      ...g,
      input: (g.input ?? []).filter((i) => i.name !== weights),
      node: [...nodes.slice(0, at + 1), ...added, ...nodes.slice(at + 1)],
      initializer: [...(g.initializer ?? []), tensorProto(depth, BigInt64Array.from([BigInt(numClasses)]), [1]), tensorProto(values, new Float32Array([0, 1]), [2])],
    },
  };
}
