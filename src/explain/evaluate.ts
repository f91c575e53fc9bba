// The work of the `evaluate` stage (stages/evaluate.ts wires it to ctx.map): how faithful explanations are to the
// model. Per image, every explanation (a CAM of a cam stage, a LIME map of a lime stage) is scored by
// - deletion / insertion (Petsiuk et al. 2018; src/algo/evaluate/curves.ts): the target class's softmax probability
//   at steps + 1 points, AUC by the trapezoid rule;
// - ROAD (pytorch-grad-cam's ROADMostRelevantFirstAverage / ROADLeastRelevantFirstAverage / ROADCombined;
//   src/algo/evaluate/road.ts): per percentile, the target score after imputation minus the original score, averaged;
//   combined = (LeRF − MoRF) / 2.
// Model calls: all perturbed inputs of one image (every explanation, every metric) go through Model.predict in
// batches of batch_size; the unperturbed image is predicted once and shared (deletion's first and insertion's last
// point are that image). docs/evaluate.md is the user documentation.
import { Field, Float32, Float64, Int32, Schema, Utf8, type Table } from 'apache-arrow';
import { summaryStatFields, tensorField } from '../arrow/conventions.ts';
import {
  BASELINES, ROAD_NOISE, ROAD_PERCENTILES, baselineImage, curveImages, noisyLinearImpute, roadKeepMasks, saliencyOrder, stepCounts, trapezoidAuc,
  type Baseline,
} from '../algo/evaluate/index.ts';
import { summaryColumns } from '../algo/compare/index.ts';
import { Rng } from '../algo/lime/rng.ts';
import { imageSeed } from './lime.ts';
import { canonicalMethod } from '../algo/cam/methods.ts';
import { ConfigError } from '../engine/errors.ts';
import type { Model } from '../model/types.ts';

export const EVAL_METRICS = ['deletion', 'insertion', 'road'] as const;
export type EvalMetric = (typeof EVAL_METRICS)[number];
export { BASELINES };

/** The `evaluate` stage's params (stages/evaluate.ts holds their schema). */
export interface EvaluateParams {
  metrics: EvalMetric[];
  steps: number;
  baseline: Baseline;
  road: { percentiles?: number[]; noise?: number; seed?: number; score?: 'logit' | 'softmax' };
  methods?: string[];
  layers?: string[];
  batch_size: number;
  limit?: number;
}

/** One saliency map to score: a CAM (`method@layer`) or a LIME map (`lime`), at the model input size. */
export interface Explanation {
  name: string;
  image: string;
  target: number;
  targetName: string | null;
  map: Float32Array;
}

export function perImageSchema(steps: number, percentiles: number): Schema {
  const curve = (name: string, n: number, dim: string) => tensorField(name, new Float32(), [n], [dim], { nullable: true });
  return new Schema([
    new Field('image', new Utf8(), false),
    new Field('index', new Int32(), false),
    new Field('explanation', new Utf8(), false),
    new Field('target', new Int32(), false),
    new Field('target_name', new Utf8(), true),
    new Field('probability', new Float64(), false),
    new Field('deletion_auc', new Float64(), true),
    new Field('insertion_auc', new Float64(), true),
    curve('deletion_curve', steps + 1, 'step'),
    curve('insertion_curve', steps + 1, 'step'),
    new Field('road_morf', new Float64(), true),
    new Field('road_lerf', new Float64(), true),
    new Field('road_combined', new Float64(), true),
    curve('road_morf_curve', percentiles, 'percentile'),
    curve('road_lerf_curve', percentiles, 'percentile'),
  ]);
}

export const summarySchema = new Schema([
  new Field('explanation', new Utf8(), false),
  new Field('metric', new Utf8(), false),
  ...summaryStatFields(),
]);

/** Columns of per_image that the summary (and the scoreboard) summarise. */
export const SCORE_COLUMNS = ['deletion_auc', 'insertion_auc', 'road_morf', 'road_lerf', 'road_combined'] as const;

/** One row per explanation × metric: n, mean, median, std, min, max over the images (nulls left out). */
export function summaryRows(perImage: Table): Record<string, unknown>[] {
  const expl = perImage.getChild('explanation')!;
  const names = [...new Set(Array.from({ length: perImage.numRows }, (_, r) => expl.get(r) as string))];
  const rows: Record<string, unknown>[] = [];
  for (const name of names) {
    for (const metric of SCORE_COLUMNS) {
      const col = perImage.getChild(metric)!;
      const v: number[] = [];
      for (let r = 0; r < perImage.numRows; r++) {
        const x = col.get(r) as number | null;
        if (expl.get(r) === name && x !== null) v.push(x);
      }
      if (v.length === 0) continue;
      rows.push({ explanation: name, metric, ...summaryColumns(v) });
    }
  }
  return rows;
}

/** LIME's saliency map: each pixel carries the surrogate weight of its superpixel (0 for a superpixel without one). */
export function limeMap(segments: Int32Array, segIds: ArrayLike<number>, weights: ArrayLike<number>): Float32Array {
  const w = new Map<number, number>();
  for (let i = 0; i < segIds.length; i++) w.set(segIds[i], weights[i]);
  return Float32Array.from(segments, (s) => w.get(s) ?? 0);
}

export interface EvalCounts {
  forwards: number;
  predictCalls: number;
}

/** A perturbed input: `fill` writes it (C·H·W) into the batch; its logits and probabilities come back in order. */
interface Job {
  fill(dst: Float32Array): void;
}

/** Runs the jobs through Model.predict in batches; returns each job's [target logit, target probability]. */
async function predictJobs(model: Model, jobs: Job[], targets: number[], batchSize: number, counts: EvalCounts, phase: (name: string, ms: number) => void): Promise<[number, number][]> {
  const { height: H, width: W, channels: C } = model.info.input;
  const per = C * H * W;
  const K = model.info.numClasses;
  const out: [number, number][] = [];
  for (let s = 0; s < jobs.length; s += batchSize) {
    const n = Math.min(batchSize, jobs.length - s);
    const data = new Float32Array(n * per);
    let t0 = performance.now();
    for (let b = 0; b < n; b++) jobs[s + b].fill(data.subarray(b * per, (b + 1) * per));
    phase('perturb', performance.now() - t0);
    t0 = performance.now();
    const { logits, probs } = await model.predict({ data, shape: [n, C, H, W] });
    phase('forward', performance.now() - t0);
    counts.forwards += n;
    counts.predictCalls++;
    for (let b = 0; b < n; b++) {
      const t = targets[s + b];
      out.push([logits.data[b * K + t], probs.data[b * K + t]]);
    }
  }
  return out;
}

/**
 * Scores every explanation of one image (its model input `input`, CHW normalised). Returns one row per explanation
 * (columns of perImageSchema less image/index).
 */
export async function evaluateImage(
  model: Model,
  input: Float32Array,
  explanations: readonly Explanation[],
  p: EvaluateParams,
  counts: EvalCounts,
  phase: (name: string, ms: number) => void,
): Promise<Record<string, unknown>[]> {
  const { height: H, width: W, channels: C } = model.info.input;
  const n = H * W;
  const per = C * n;
  const steps = p.steps;
  const want = new Set(p.metrics);
  const percentiles = p.road.percentiles ?? ROAD_PERCENTILES;
  const noise = p.road.noise ?? ROAD_NOISE;
  const counts01 = stepCounts(n, steps);
  const jobs: Job[] = [];
  const targets: number[] = [];
  const add = (target: number, fill: (dst: Float32Array) => void) => {
    jobs.push({ fill });
    targets.push(target);
    return jobs.length - 1;
  };
  // The unperturbed image, once per distinct target.
  const original = new Map<number, number>();
  for (const e of explanations) if (!original.has(e.target)) original.set(e.target, add(e.target, (d) => d.set(input)));
  let t0 = performance.now();
  const deletionBase = want.has('deletion') ? baselineImage(p.baseline, input, C, H, W) : null;
  const blurred = want.has('insertion') ? baselineImage('blurred', input, C, H, W) : null;
  phase('perturb', performance.now() - t0);
  const plan = explanations.map((e) => {
    if (e.map.length !== n) throw new RangeError(`explanation ${e.name} of ${e.image}: ${e.map.length} pixels, the model input has ${H}×${W}`);
    const order = saliencyOrder(e.map);
    const curve = (mode: 'deletion' | 'insertion', base: Float32Array) => {
      const t = performance.now();
      const imgs = curveImages(mode, input, base, order, counts01, C, new Float32Array((steps + 1) * per));
      phase('perturb', performance.now() - t);
      // deletion's first and insertion's last image are the unperturbed one
      return counts01.map((_, k) =>
        (mode === 'deletion' ? k === 0 : k === steps) ? original.get(e.target)! : add(e.target, (d) => d.set(imgs.subarray(k * per, (k + 1) * per))),
      );
    };
    const del = deletionBase ? curve('deletion', deletionBase) : null;
    const ins = blurred ? curve('insertion', blurred) : null;
    let road: { morf: number[]; lerf: number[] } | null = null;
    if (want.has('road')) {
      // one noise stream per image × explanation, consumed MoRF then LeRF, percentile by percentile
      const rng = new Rng(imageSeed(p.road.seed ?? 0, `${e.image}/${e.name}`));
      const normal = () => rng.normal();
      const jobs = (order: 'morf' | 'lerf') =>
        roadKeepMasks(e.map, percentiles, order).map((keep) => add(e.target, (d) => d.set(noisyLinearImpute(input, C, H, W, keep, { noise, normal }))));
      road = { morf: jobs('morf'), lerf: jobs('lerf') };
    }
    return { e, del, ins, road };
  });
  const scores = await predictJobs(model, jobs, targets, p.batch_size, counts, phase);
  const byScore = (p.road.score ?? 'logit') === 'softmax' ? 1 : 0;
  return plan.map(({ e, del, ins, road }) => {
    const o = scores[original.get(e.target)!];
    const curveOf = (ids: number[] | null) => (ids ? Float32Array.from(ids, (j) => scores[j][1]) : null);
    const dc = curveOf(del), ic = curveOf(ins);
    let rm: Float32Array | null = null, rl: Float32Array | null = null;
    let morf: number | null = null, lerf: number | null = null;
    if (road) {
      // the library: np.float32 scores, their difference averaged in float32 (we keep the mean in float64)
      rm = Float32Array.from(road.morf, (j) => Math.fround(scores[j][byScore]) - Math.fround(o[byScore]));
      rl = Float32Array.from(road.lerf, (j) => Math.fround(scores[j][byScore]) - Math.fround(o[byScore]));
      morf = rm.reduce((s, v) => s + v, 0) / rm.length;
      lerf = rl.reduce((s, v) => s + v, 0) / rl.length;
    }
    return {
      explanation: e.name,
      target: e.target,
      target_name: e.targetName,
      probability: o[1],
      deletion_auc: dc ? trapezoidAuc(dc) : null,
      insertion_auc: ic ? trapezoidAuc(ic) : null,
      deletion_curve: dc,
      insertion_curve: ic,
      road_morf: morf,
      road_lerf: lerf,
      road_combined: morf !== null && lerf !== null ? (lerf - morf) / 2 : null,
      road_morf_curve: rm,
      road_lerf_curve: rl,
    };
  });
}

type Column = { get(r: number): unknown };
function columns(t: Table, names: string[], where: string): Record<string, Column> {
  return Object.fromEntries(names.map((n) => {
    const c = t.getChild(n);
    if (!c) throw new ConfigError(`${where} has no column '${n}'`);
    return [n, c as Column];
  }));
}
const arr = <T>(v: unknown) => (v as { toArray(): T }).toArray();

/** The CAMs of a cams table (filtered by method / layer names; a null filter keeps all), named `method@layer`. */
export function camExplanations(t: Table, stageId: string, methods?: string[], layers?: string[]): Explanation[] {
  const c = columns(t, ['image', 'method', 'layer', 'target', 'target_name', 'cam'], `stage '${stageId}': table cams`);
  const norm = (x: string) => canonicalMethod(x) ?? x.toLowerCase();
  const want = (list: string[] | undefined, v: string) => !list || list.some((x) => norm(x) === norm(v) || x === v);
  const out: Explanation[] = [];
  for (let r = 0; r < t.numRows; r++) {
    const method = c.method.get(r) as string, layer = c.layer.get(r) as string;
    if (!want(methods, method) || !want(layers, layer)) continue;
    out.push({
      name: `${method}@${layer}`,
      image: c.image.get(r) as string,
      target: c.target.get(r) as number,
      targetName: (c.target_name.get(r) as string | null) ?? null,
      map: Float32Array.from(arr<Float32Array>(c.cam.get(r))),
    });
  }
  return out;
}

/** The LIME maps of a lime stage: the top label's (rank 0) superpixel weights spread over the pixels. */
export function limeExplanations(ex: Table, sg: Table, stageId: string): Explanation[] {
  const s = columns(sg, ['id', 'segments'], `stage '${stageId}': table segments`);
  const segments = new Map<string, Int32Array>();
  for (let r = 0; r < sg.numRows; r++) segments.set(s.id.get(r) as string, arr<Int32Array>(s.segments.get(r)));
  const c = columns(ex, ['id', 'label', 'label_name', 'rank', 'local_exp_segments', 'local_exp_weights'], `stage '${stageId}': table explanations`);
  const out: Explanation[] = [];
  for (let r = 0; r < ex.numRows; r++) {
    if (c.rank.get(r) !== 0) continue;
    const id = c.id.get(r) as string;
    const seg = segments.get(id);
    if (!seg) continue;
    out.push({
      name: 'lime',
      image: id,
      target: c.label.get(r) as number,
      targetName: (c.label_name.get(r) as string | null) ?? null,
      map: limeMap(seg, arr<Int32Array>(c.local_exp_segments.get(r)), arr<Float64Array>(c.local_exp_weights.get(r))),
    });
  }
  return out;
}
