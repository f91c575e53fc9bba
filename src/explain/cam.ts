// The work of the `cam` stage for one batch of images (stages/cam.ts wires it to ctx.map): model calls, the CAM
// algorithms of src/algo/cam (pytorch-grad-cam 1.5.5 semantics), overlays, and the rows of the `cams` table.
// Model calls per batch:
// - one forward giving the activations of every target layer and the logits, when a non-gradient method needs the
//   activations or the target is the predicted class (top-1); skipped when only gradient methods run on given targets,
//   and for top-1 targets when the runtime has Model.gradientsTop1 (ONNX: the argmax inside the gradient graph);
// - one Model.gradients call per target layer, shared by all gradient methods (its logits give score/probability);
// - Ablation-CAM: ceil(C / ablation batch) Model.forwardFrom calls per image and layer (C ablated rows);
// - Score-CAM: ceil(C / score batch) Model.predict calls per image and layer (C masked inputs).
import { Bool, Field, Float32, Int32, Schema, Utf8, type Table } from 'apache-arrow';
import { tensorField } from '../arrow/conventions.ts';
import {
  ablationCamWeights, aggregateLayers, argmaxTargets, eigenCam, eigenProjection, gradientCam, oneHotWeights, postprocessCam,
  scoreCamWeights, showCamOnImage, usesGradients, weightedActivations, weightedSum, type GradientCamMethod,
} from '../algo/cam/index.ts';
import { ConfigError } from '../engine/errors.ts';
import { encodePng, normalizationLut, normalize } from '../image/io.ts';
import type { LoadOptions, RgbImage } from '../image/io.ts';
import { loadItemMask, loadItemRgb, type DatasetItem } from '../data/index.ts';
import type { Model, ModelInfo, Tensor } from '../model/types.ts';
import type { CamParams, Method } from '../../stages/cam.ts'; // the stage's params type (type-only)

export function camSchema(height: number, width: number): Schema {
  return new Schema([
    new Field('image', new Utf8(), false),
    new Field('index', new Int32(), false),
    new Field('method', new Utf8(), false),
    new Field('layer', new Utf8(), false),
    new Field('target', new Int32(), false),
    new Field('target_name', new Utf8(), false),
    new Field('score', new Float32(), false),
    new Field('probability', new Float32(), false),
    new Field('label', new Utf8(), true),
    new Field('height', new Int32(), false),
    new Field('width', new Int32(), false),
    tensorField('cam', new Float32(), [height, width], ['height', 'width']),
    new Field('peak_x', new Int32(), false),
    new Field('peak_y', new Int32(), false),
    new Field('in_mask', new Bool(), true),
    new Field('overlay', new Utf8(), true),
  ]);
}

/** Target per image: a class index, or 'top1' (the argmax of that image's logits). */
export type ImageTarget = number | 'top1';

/** Class index of a class name among the model's labels: exact, case-insensitive, or an ImageNet-style label's first name / synset. */
export function classIndex(name: string, labels: readonly string[]): number | undefined {
  const exact = labels.indexOf(name);
  if (exact >= 0) return exact;
  const low = name.trim().toLowerCase();
  const forms = (l: string): string[] => {
    const s = l.trim().toLowerCase();
    const out = [s];
    const syn = /^(n\d{8})[\s,:_]+(.*)$/.exec(s);
    if (syn) out.push(syn[1], syn[2], syn[2].split(',')[0].trim());
    out.push(s.split(',')[0].trim(), s.replace(/_/g, ' '));
    return out;
  };
  for (let i = 0; i < labels.length; i++) if (forms(labels[i]).includes(low) || forms(labels[i]).includes(low.replace(/_/g, ' '))) return i;
  return undefined;
}

/** Resolves params.target / params.targets into one target per item (ConfigError for unknown classes or images). */
export function resolveTargetSpec(p: CamParams, info: ModelInfo, items: readonly DatasetItem[], classNames: readonly string[], stageId: string): ImageTarget[] {
  const at = (f: string) => `stages.${stageId}.params.${f}`;
  const k = info.numClasses;
  const fromValue = (v: number | string, path: string): number => {
    if (typeof v === 'number') {
      if (!(Number.isInteger(v) && v >= 0 && v < k)) throw new ConfigError(`class index ${v} is outside 0..${k - 1} (model '${info.id}' has ${k} classes)`, { path });
      return v;
    }
    const i = classIndex(v, info.labels);
    if (i === undefined) {
      throw new ConfigError(`model '${info.id}' has no class named '${v}'`, { path, suggestion: `labels start: ${info.labels.slice(0, 5).join(', ')}, …` });
    }
    return i;
  };
  const t = p.target;
  let base: (item: DatasetItem) => ImageTarget;
  if (t === 'top1' || t === 'top-1') base = () => 'top1';
  else if (t === 'label') {
    // The dataset label mapped to the model's classes by name (index when the dataset's class list equals the labels).
    const sameList = classNames.length === info.labels.length && classNames.every((c, i) => c === info.labels[i]);
    base = (item) => {
      if (item.label === undefined && !item.labelName) throw new ConfigError(`image '${item.id}' has no dataset label (target: label)`, { path: at('target') });
      if (sameList && item.label !== undefined) return item.label;
      for (const n of [item.synset, item.labelName, item.label !== undefined ? classNames[item.label] : undefined]) {
        if (!n) continue;
        const i = classIndex(n, info.labels);
        if (i !== undefined) return i;
      }
      throw new ConfigError(`image '${item.id}': its label '${item.labelName ?? item.label}' is not a class of model '${info.id}' (target: label)`, { path: at('target') });
    };
  } else {
    const c = fromValue(t, at('target'));
    base = () => c;
  }
  const overrides = new Map<string, number>();
  if (p.targets) {
    const ids = new Set(items.map((it) => it.id));
    for (const [id, v] of Object.entries(p.targets)) {
      if (!ids.has(id)) throw new ConfigError(`targets: no image '${id}' among the ${items.length} images`, { path: at(`targets.${id}`) });
      overrides.set(id, fromValue(v, at(`targets.${id}`)));
    }
  }
  return items.map((it) => overrides.get(it.id) ?? base(it));
}

export interface ComputeArgs {
  model: Model;
  items: readonly DatasetItem[];
  /** Dataset indices of the items. */
  indices: number[];
  methods: Method[];
  /** Target-layer sets: each gives one cam per method (several layers → mean of normalised cams). */
  layerSets: string[][];
  /** Target per dataset index. */
  targets: readonly ImageTarget[];
  eigenSmooth: boolean;
  ablation: { batchSize: number; value: 'library' | 'min-1e7' | 'zero' | number };
  scoreBatchSize: number;
  overlay: { enabled: boolean; imageWeight: number };
  loadOpts: LoadOptions;
  /** The items' RGB pixels at the model input size, when the caller has them already (skips decoding). */
  pixels?: RgbImage[];
  writeFile(rel: string, data: Uint8Array): Promise<void>;
  /** Accumulated wall ms per phase / method (mutated). */
  timing: Record<string, number>;
  /** Accumulated model-call counts (mutated). */
  counts: { forwards: number; gradientCalls: number; headRows: number; maskedForwards: number };
}

/** Path-safe form of a layer key / image id (keeps '/' in ids as folders). */
function safe(s: string, keepSlash = false): string {
  const parts = (keepSlash ? s.split('/') : [s]).map((x) => x.replace(/[^A-Za-z0-9._+=-]+/g, '_').replace(/^[._]+/, '') || '_');
  return parts.join('/');
}

const logitsLayerCache = new WeakMap<Model, string | null>();

/** The layer whose activations are the logits (to fetch them in the same forward as the target layers), or null. */
async function logitsLayer(model: Model, batch: Tensor): Promise<string | null> {
  if (logitsLayerCache.has(model)) return logitsLayerCache.get(model)!;
  const k = model.info.numClasses;
  const cands = model.info.layers.filter((l) => l.shape.length === 2 && l.shape[1] === k).reverse();
  let found: string | null = null;
  if (cands.length) {
    // Checked once against predict(): the candidate must give exactly the model's logits.
    const one: Tensor = { data: batch.data.subarray(0, batch.data.length / batch.shape[0]), shape: [1, ...batch.shape.slice(1)] };
    const ref = (await model.predict(one)).logits.data;
    for (const c of cands) {
      try {
        const got = (await model.activations(one, [c.name]))[c.name].data;
        if (got.length === ref.length && got.every((v, i) => Math.abs(v - ref[i]) <= 1e-5 * (1 + Math.abs(ref[i])))) {
          found = c.name;
          break;
        }
      } catch {
        /* not fetchable: try the next */
      }
    }
  }
  logitsLayerCache.set(model, found);
  return found;
}

function softmaxRow(logits: Float32Array, row: number, k: number): Float64Array {
  let mx = -Infinity;
  for (let c = 0; c < k; c++) mx = Math.max(mx, logits[row * k + c]);
  const out = new Float64Array(k);
  let s = 0;
  for (let c = 0; c < k; c++) s += out[c] = Math.exp(logits[row * k + c] - mx);
  for (let c = 0; c < k; c++) out[c] /= s;
  return out;
}

function sliceOne(t: Tensor, b: number): Tensor {
  const per = t.data.length / t.shape[0];
  return { data: t.data.subarray(b * per, (b + 1) * per), shape: [1, ...t.shape.slice(1)] };
}

/** Computes the rows of a batch of items (one array of rows per item). */
export async function computeCams(a: ComputeArgs): Promise<Record<string, unknown>[][]> {
  const { model, items, methods } = a;
  const info = model.info;
  const { height: H, width: W } = info.input;
  const n = items.length;
  const K = info.numClasses;
  const t = a.timing;
  const tick = (key: string, t0: number) => (t[key] = (t[key] ?? 0) + performance.now() - t0);

  let t0 = performance.now();
  // Each image decoded once: its RGB pixels (for the overlay) normalised into the batch, as loadImages does.
  if (a.pixels && a.pixels.length !== n) throw new RangeError(`computeCams: ${a.pixels.length} pixel arrays for ${n} items`);
  const rgbs = a.pixels ?? (await Promise.all(items.map((it) => loadItemRgb(it, H, W, a.loadOpts))));
  const per = 3 * H * W;
  const batch: Tensor = { data: new Float32Array(n * per), shape: [n, 3, H, W] };
  const luts = normalizationLut(info.input);
  rgbs.forEach((rgb, b) => normalize(rgb, info.input, 'NCHW', batch.data, b * per, luts));
  const masks = await Promise.all(items.map((it) => loadItemMask(it, H, W, a.loadOpts)));
  tick('load', t0);

  const layers = [...new Set(a.layerSets.flat())];
  const gradMethods = methods.filter((m) => usesGradients(m as never)) as GradientCamMethod[];
  const others = methods.filter((m) => !usesGradients(m as never));
  const itemTargets = a.indices.map((i) => a.targets[i]);
  const needTop1 = itemTargets.some((x) => x === 'top1');

  // 1. Forward: the logits, when a target is the predicted class (top-1), and the activations of the target layers
  //    when no gradient call will give them (only non-gradient methods); both from one forward when possible.
  t0 = performance.now();
  const acts: Record<string, Tensor> = {};
  let logits: Tensor | undefined;
  const needActs = others.length > 0 && gradMethods.length === 0;
  if (needActs) {
    const ll = await logitsLayer(model, batch);
    if (ll) {
      const r = await model.activations(batch, [...layers, ll]);
      for (const l of layers) acts[l] = r[l];
      logits = r[ll];
    } else {
      Object.assign(acts, await model.activations(batch, layers));
      logits = (await model.predict(batch)).logits;
      a.counts.forwards++;
    }
    a.counts.forwards++;
  } else if (needTop1 && !(model.gradientsTop1 && itemTargets.every((x) => x === 'top1'))) {
    logits = (await model.predict(batch)).logits;
    a.counts.forwards++;
  }
  tick('forward', t0);
  const grads: Record<string, Tensor> = {};
  if (!logits && needTop1) {
    // Every target is top-1 and the runtime finds it inside the gradient pass (ONNX): no separate forward.
    t0 = performance.now();
    const g = await model.gradientsTop1!(batch, layers[0]);
    a.counts.gradientCalls++;
    grads[layers[0]] = g.gradients;
    acts[layers[0]] = g.activations;
    logits = g.logits;
    tick('gradients', t0);
  }
  const targets = itemTargets.map((x, b) => {
    if (x !== 'top1') return x;
    return argmaxTargets(sliceOne(logits!, b))[0];
  });

  // 2. Gradients: one call per layer, shared by every gradient method.
  if (gradMethods.length) {
    t0 = performance.now();
    const w = oneHotWeights(targets, K);
    for (const l of layers) {
      if (grads[l]) continue;
      const g = await model.gradients(batch, l, w);
      a.counts.gradientCalls++;
      grads[l] = g.gradients;
      acts[l] ??= g.activations;
      logits ??= g.logits;
    }
    tick('gradients', t0);
  }
  if (!logits) throw new Error('internal: no logits');

  // 3. Per method and layer: raw cam → ReLU, min-max, resize (postprocessCam); per layer set: aggregateLayers.
  const camsBy = new Map<string, Float32Array>(); // `${method}\u0000${setIndex}` → [n·H·W]
  for (const m of methods) {
    t0 = performance.now();
    const perLayer = new Map<string, Float32Array>();
    for (const l of layers) {
      const A = acts[l];
      const [, c, h, w] = A.shape;
      let raw: Float32Array;
      if (usesGradients(m as never)) raw = gradientCam(m as GradientCamMethod, A, grads[l], { eigenSmooth: a.eigenSmooth });
      else if (m === 'eigencam') raw = eigenCam(A);
      else {
        let weights: Float32Array;
        if (m === 'ablationcam') {
          const scores = targets.map((cls, b) => logits!.data[b * K + cls]);
          const r = await ablationCamWeights({
            activations: A,
            targets,
            scores,
            forwardFrom: (x) => model.forwardFrom(l, x),
            batchSize: a.ablation.batchSize,
            ablation: a.ablation.value,
          });
          a.counts.headRows += n * c;
          weights = r.weights;
        } else {
          const r = await scoreCamWeights({ input: batch, activations: A, targets, forward: async (x) => (await model.predict(x)).logits, batchSize: a.scoreBatchSize });
          a.counts.maskedForwards += n * c;
          weights = r.weights;
        }
        raw = a.eigenSmooth ? eigenProjection(weightedActivations(A, weights)) : weightedSum(A, weights);
      }
      perLayer.set(l, postprocessCam(raw, n, h, w, H, W));
    }
    a.layerSets.forEach((set, si) => camsBy.set(`${m}\u0000${si}`, aggregateLayers(set.map((l) => perLayer.get(l)!), n, H, W)));
    tick(m, t0);
  }

  // 4. Rows and overlays.
  t0 = performance.now();
  const HW = H * W;
  const out: Record<string, unknown>[][] = [];
  for (let b = 0; b < n; b++) {
    const item = items[b];
    const cls = targets[b];
    const probs = softmaxRow(logits.data, b, K);
    const rows: Record<string, unknown>[] = [];
    for (const m of methods) {
      for (const [si, set] of a.layerSets.entries()) {
        const all = camsBy.get(`${m}\u0000${si}`)!;
        const cam = all.slice(b * HW, (b + 1) * HW);
        let peak = 0;
        for (let i = 1; i < HW; i++) if (cam[i] > cam[peak]) peak = i; // first maximum, row-major (np.argmax)
        const mask = masks[b];
        const layerKey = set.join('+');
        let overlay: string | null = null;
        if (a.overlay.enabled) {
          overlay = `overlays/${safe(m)}/${safe(layerKey)}/${safe(item.id.replace(/\.[A-Za-z0-9]+$/, ''), true)}.png`;
          await a.writeFile(overlay, encodePng(showCamOnImage(rgbs[b].data, H, W, cam, a.overlay.imageWeight), W, H, 3));
        }
        rows.push({
          image: item.id,
          index: a.indices[b],
          method: m,
          layer: layerKey,
          target: cls,
          target_name: info.labels[cls] ?? String(cls),
          score: logits.data[b * K + cls],
          probability: probs[cls],
          label: item.labelName ?? (item.label !== undefined ? String(item.label) : null),
          height: H,
          width: W,
          cam,
          peak_x: peak % W,
          peak_y: Math.floor(peak / W),
          in_mask: mask ? mask[peak] !== 0 : null,
          overlay,
        });
      }
    }
    out.push(rows);
  }
  tick('rows', t0);
  return out;
}

export interface PointingStats {
  hits: number;
  total: number;
  rate: number;
}

/** Pointing game per `method@layer` over the rows with a ground-truth mask: is the cam's maximum inside the mask? */
export function pointingSummary(table: Table): Record<string, PointingStats> {
  const out: Record<string, PointingStats> = {};
  const method = table.getChild('method');
  const layer = table.getChild('layer');
  const inMask = table.getChild('in_mask');
  if (!method || !layer || !inMask) return out;
  for (let i = 0; i < table.numRows; i++) {
    const hit = inMask.get(i) as boolean | null;
    if (hit === null) continue;
    const k = `${method.get(i)}@${layer.get(i)}`;
    const s = (out[k] ??= { hits: 0, total: 0, rate: 0 });
    s.total++;
    if (hit) s.hits++;
  }
  for (const s of Object.values(out)) s.rate = s.total ? s.hits / s.total : 0;
  return out;
}
