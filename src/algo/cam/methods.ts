// The one CAM method registry (pytorch-grad-cam 1.5.5 BaseCAM style): each method is one entry with its weights
// function (`get_cam_weights`: cam = Σ_k w_k A_k, or the first principal component of w_k A_k with eigen_smooth) or
// its per-channel map (`get_cam_image` overrides: HiResCAM, LayerCAM, EigenCAM, EigenGradCAM). The stage schema,
// src/explain/cam.ts and docs/cam.md's method table all read this list.
import type { Tensor } from '../../model/types.ts';
import { ablationCamWeights, type AblationValue } from './ablation.ts';
import { eigenProjection } from './eigen.ts';
import { channelSum, elementwise, gradCamPlusPlusWeights, gradCamWeights, sameShape, weightedActivations, weightedSum, xGradCamWeights } from './gradient.ts';
import { scoreCamWeights } from './score.ts';
import type { TargetKind } from './targets.ts';

/** What a method needs from the model beyond the target layer's activations. */
export type CamNeeds = 'activations' | 'gradients' | 'ablation' | 'score';

/** Everything a method may use for one batch and one target layer. */
export interface CamInputs {
  /** Target-layer activations, NCHW. */
  acts: Tensor;
  /** Gradients of the target scores w.r.t. the activations (needs 'gradients'). */
  grads?: Tensor;
  /** Target class per image. */
  targets: number[];
  target: TargetKind;
  eigenSmooth: boolean;
  /** Unablated target scores per image (Ablation-CAM). */
  scores?: ArrayLike<number>;
  /** Head of the network after the target layer (Ablation-CAM). */
  forwardFrom?: (acts: Tensor) => Promise<Tensor>;
  ablation?: { batchSize: number; value: AblationValue };
  /** The normalised input batch and the whole model (Score-CAM). */
  input?: Tensor;
  forward?: (batch: Tensor) => Promise<Tensor>;
  scoreBatchSize?: number;
}

export interface CamMethodSpec {
  /** Canonical name: the `--method` name of pytorch-grad-cam's cam.py (eigengradcam: its class name, lower-cased). */
  name: string;
  /** The library's class name (also accepted as a spelling). */
  className: string;
  needs: CamNeeds;
  /** Formula, for docs/cam.md's table. */
  formula: string;
  /** get_cam_weights: [N·C] channel weights. */
  weights?: (x: CamInputs) => Float32Array | Promise<Float32Array>;
  /** get_cam_image override: the per-channel map (NCHW) summed over channels, or projected when `project`. */
  perChannel?: (x: CamInputs) => Tensor;
  /** The map is always the 2-D projection of perChannel (EigenCAM family), whatever eigen_smooth says. */
  project?: boolean;
}

const grads = (x: CamInputs): Tensor => {
  if (!x.grads) throw new RangeError('internal: a gradient method without gradients');
  sameShape(x.acts, x.grads);
  return x.grads;
};

export const CAM_METHOD_SPECS = [
  { name: 'gradcam', className: 'GradCAM', needs: 'gradients', formula: 'w_k = mean over H, W of ∂y/∂A_k', weights: (x) => gradCamWeights(grads(x)) },
  {
    name: 'gradcam++',
    className: 'GradCAMPlusPlus',
    needs: 'gradients',
    formula: 'w_k = Σ_ij α·ReLU(g), α = g² / (2g² + Σ_ij A·g³ + 1e-6)',
    weights: (x) => gradCamPlusPlusWeights(x.acts, grads(x)),
  },
  { name: 'xgradcam', className: 'XGradCAM', needs: 'gradients', formula: 'w_k = Σ_ij g·A / (Σ_ij A + 1e-7)', weights: (x) => xGradCamWeights(x.acts, grads(x)) },
  { name: 'hirescam', className: 'HiResCAM', needs: 'gradients', formula: 'Σ_k g ⊙ A_k (elementwise)', perChannel: (x) => elementwise(x.acts, grads(x), false) },
  { name: 'layercam', className: 'LayerCAM', needs: 'gradients', formula: 'Σ_k ReLU(g) ⊙ A_k', perChannel: (x) => elementwise(x.acts, grads(x), true) },
  {
    name: 'eigencam',
    className: 'EigenCAM',
    needs: 'activations',
    formula: 'projection of the centred (H·W × C) activations on their first right singular vector; no gradients',
    perChannel: (x) => x.acts,
    project: true,
  },
  {
    name: 'eigengradcam',
    className: 'EigenGradCAM',
    needs: 'gradients',
    formula: 'projection of the centred (H·W × C) matrix g ⊙ A on its first right singular vector',
    perChannel: (x) => elementwise(x.acts, grads(x), false),
    project: true,
  },
  {
    name: 'ablationcam',
    className: 'AblationCAM',
    needs: 'ablation',
    formula: 'w_k = (y − y with channel k ablated) / y',
    weights: async (x) => {
      if (!x.forwardFrom || !x.ablation) throw new RangeError('internal: Ablation-CAM without forwardFrom');
      return (
        await ablationCamWeights({
          activations: x.acts,
          targets: x.targets,
          scores: x.scores,
          forwardFrom: x.forwardFrom,
          batchSize: x.ablation.batchSize,
          ablation: x.ablation.value,
          target: x.target,
        })
      ).weights;
    },
  },
  {
    name: 'scorecam',
    className: 'ScoreCAM',
    needs: 'score',
    formula: 'w = softmax over k of y(input ⊙ normalised upsampled A_k)',
    weights: async (x) => {
      if (!x.input || !x.forward) throw new RangeError('internal: Score-CAM without the input and the model');
      return (await scoreCamWeights({ input: x.input, activations: x.acts, targets: x.targets, forward: x.forward, batchSize: x.scoreBatchSize, target: x.target })).weights;
    },
  },
] as const satisfies readonly CamMethodSpec[];

export type CamMethod = (typeof CAM_METHOD_SPECS)[number]['name'];
export const CAM_METHODS: readonly CamMethod[] = CAM_METHOD_SPECS.map((m) => m.name);

const BY_NAME = new Map<string, CamMethodSpec>(CAM_METHOD_SPECS.map((m) => [m.name, m]));

/** The spec of a canonical method name. */
export function camMethod(name: CamMethod): CamMethodSpec {
  return BY_NAME.get(name)!;
}

const squash = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');
const ALIASES = new Map<string, CamMethod>();
for (const m of CAM_METHOD_SPECS) {
  ALIASES.set(squash(m.name), m.name);
  ALIASES.set(squash(m.className), m.name);
}
ALIASES.set('gradcampp', 'gradcam++');

/** Canonical method name of a user spelling (case, '-', '_' and spaces ignored; the library's class names accepted). */
export function canonicalMethod(name: string): CamMethod | undefined {
  return ALIASES.get(squash(name));
}

/** Whether a method needs gradients of the target score w.r.t. the layer. */
export function usesGradients(m: CamMethod): boolean {
  return camMethod(m).needs === 'gradients';
}

/** The map from the weights (weighted sum, or its projection with eigen_smooth) or from the per-channel map. */
function camImage(spec: CamMethodSpec, x: CamInputs, w: Float32Array | null): Float32Array {
  if (w) return x.eigenSmooth ? eigenProjection(weightedActivations(x.acts, w)) : weightedSum(x.acts, w);
  const t = spec.perChannel!(x);
  return spec.project || x.eigenSmooth ? eigenProjection(t) : channelSum(t);
}

/** BaseCAM.get_cam_image: the raw cam [N·H·W] of one method at one layer (apply postprocessCam afterwards). */
export async function rawCam(m: CamMethod, x: CamInputs): Promise<Float32Array> {
  return (await rawCamParts(m, x)).cam;
}

/**
 * The raw cam [N·H·W] (get_cam_image) with the channel weights it was made from: get_cam_weights' output [N·C], or
 * null for the methods without channel weights (HiResCAM, LayerCAM, EigenCAM, EigenGradCAM: per-element maps).
 */
export async function rawCamParts(m: CamMethod, x: CamInputs): Promise<{ cam: Float32Array; weights: Float32Array | null }> {
  const spec = camMethod(m);
  const weights = spec.weights ? await spec.weights(x) : null;
  return { cam: camImage(spec, x, weights), weights };
}

export type GradientCamMethod = 'gradcam' | 'gradcam++' | 'xgradcam' | 'hirescam' | 'layercam' | 'eigengradcam';

/** Raw cam [N·H·W] of a gradient method (synchronous: these need no model call). */
export function gradientCam(method: GradientCamMethod, acts: Tensor, g: Tensor, opts: { eigenSmooth?: boolean } = {}): Float32Array {
  const spec = BY_NAME.get(method);
  if (!spec || spec.needs !== 'gradients') throw new RangeError(`unknown gradient CAM method '${String(method)}'`);
  const x: CamInputs = { acts, grads: g, targets: [], target: 'logit', eigenSmooth: !!opts.eigenSmooth };
  return camImage(spec, x, spec.weights ? (spec.weights(x) as Float32Array) : null);
}
