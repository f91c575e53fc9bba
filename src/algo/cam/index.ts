// CAM family (pytorch-grad-cam 1.5.5 semantics). Pure functions: the model enters only as callbacks.
// Typical flow for one target layer:
//   raw = gradientCam('gradcam', acts, grads)                       // or eigenCam(acts), or
//   raw = weightedSum(acts, (await ablationCamWeights({...})).weights) / scoreCamWeights(...)
//   cam = postprocessCam(raw, N, h, w, inputH, inputW)               // ReLU, min-max, cv2-style resize
//   several layers: aggregateLayers([cam1, cam2], N, inputH, inputW)
//   overlay = showCamOnImage(rgb, H, W, cam.subarray(i·H·W, (i+1)·H·W))
export * from './gradient.ts';
export * from './eigen.ts';
export * from './ablation.ts';
export * from './score.ts';
export * from './postprocess.ts';
export * from './colormap.ts';

export type CamMethod = 'gradcam' | 'gradcam++' | 'xgradcam' | 'hirescam' | 'layercam' | 'eigencam' | 'ablationcam' | 'scorecam';
export const CAM_METHODS: readonly CamMethod[] = [
  'gradcam', 'gradcam++', 'xgradcam', 'hirescam', 'layercam', 'eigencam', 'ablationcam', 'scorecam',
];
/** Whether a method needs gradients of the target score w.r.t. the layer. */
export function usesGradients(m: CamMethod): boolean {
  return m === 'gradcam' || m === 'gradcam++' || m === 'xgradcam' || m === 'hirescam' || m === 'layercam';
}

/** Default targets as pytorch-grad-cam: argmax of each logits row (the first maximum on ties, as np.argmax). */
export function argmaxTargets(logits: { data: Float32Array; shape: number[] }): number[] {
  if (logits.shape.length !== 2) throw new RangeError(`argmaxTargets: expected logits [N, classes], got [${logits.shape.join(', ')}]`);
  const [n, k] = logits.shape;
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits.data[b * k + c] > logits.data[b * k + best]) best = c;
    out.push(best);
  }
  return out;
}

/** One-hot [N × classes] weights for Model.gradients (target score = the raw class logit, summed over the batch). */
export function oneHotWeights(targets: ArrayLike<number>, numClasses: number): Float32Array {
  const w = new Float32Array(targets.length * numClasses);
  for (let b = 0; b < targets.length; b++) {
    const t = targets[b];
    if (!(Number.isInteger(t) && t >= 0 && t < numClasses)) throw new RangeError(`target class ${t} of image ${b} outside 0..${numClasses - 1}`);
    w[b * numClasses + t] = 1;
  }
  return w;
}
