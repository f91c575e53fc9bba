// Superpixel algorithms for LIME and a dispatcher over lime's SegmentationAlgorithm names.
import type { RgbImage } from '../image.ts';
import { type Segmentation } from './common.ts';
import { type QuickshiftParams, quickshift } from './quickshift.ts';
import { type SlicParams, slic } from './slic.ts';
import { type FelzenszwalbParams, felzenszwalb } from './felzenszwalb.ts';

export { quickshift, slic, felzenszwalb };
export type { QuickshiftParams, SlicParams, FelzenszwalbParams, Segmentation };
export { relabelSequential, checkSegments } from './common.ts';
export { regularGrid, enforceConnectivity } from './slic.ts';

/** lime's `SegmentationAlgorithm(algo_type, **params)`: the algorithm name plus its scikit-image parameters. */
export type SegmentationSpec =
  | ({ type: 'quickshift' } & QuickshiftParams)
  | ({ type: 'slic' } & SlicParams)
  | ({ type: 'felzenszwalb' } & FelzenszwalbParams);

/** Parameter names each algorithm accepts (scikit-image's keyword names). */
export const SEGMENTATION_PARAMS: Record<SegmentationSpec['type'], readonly string[]> = {
  quickshift: ['ratio', 'kernel_size', 'max_dist', 'sigma', 'convert2lab', 'random_seed'],
  slic: ['n_segments', 'compactness', 'max_num_iter', 'max_iter', 'start_label', 'sigma', 'convert2lab', 'enforce_connectivity', 'min_size_factor', 'max_size_factor'],
  felzenszwalb: ['scale', 'sigma', 'min_size'],
};

/** Run the named algorithm; unknown parameter names are an error (as lime's `_check_params`). */
export function segment(image: RgbImage, spec: SegmentationSpec, opts: { rng?: QuickshiftParams['rng'] } = {}): Segmentation {
  const { type, ...params } = spec as { type: string } & Record<string, unknown>;
  const known = SEGMENTATION_PARAMS[type as SegmentationSpec['type']];
  if (!known) throw new RangeError(`segmentation: unknown algorithm '${type}' (expected quickshift, slic or felzenszwalb)`);
  for (const k of Object.keys(params))
    if (!known.includes(k)) throw new RangeError(`segmentation ${type}: '${k}' is not a valid parameter (known: ${known.join(', ')})`);
  if (type === 'quickshift') return quickshift(image, { ...(params as QuickshiftParams), rng: opts.rng });
  if (type === 'slic') return slic(image, params as SlicParams);
  return felzenszwalb(image, params as FelzenszwalbParams);
}
