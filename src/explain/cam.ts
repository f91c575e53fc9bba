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
  aggregateLayers, camMethod, rawCamParts, reluCam, scaleCam, showCamOnImage, softmaxRow, targetGradientWeights, targetValue, topKTargets,
  type AblationValue, type CamMethod, type TargetKind,
} from '../algo/cam/index.ts';
import { ConfigError } from '../engine/errors.ts';
import { normalizationLut, normalize } from '../image/io.ts';
import { encodePng } from '../image/png.ts';
import type { LoadOptions, RgbImage } from '../image/io.ts';
import { loadItemMask, loadItemRgb, type DatasetItem } from '../data/index.ts';
import type { Model, ModelInfo, Tensor } from '../model/types.ts';
import { classIndex } from '../model/common.ts';

/** A target layer's shape at one image: channels and map size (ModelInfo.layers' shape without the batch). */
export interface CamLayerShape {
  layer: string;
  channels: number;
  height: number;
  width: number;
}

/**
 * The per-layer tensor columns of the `cams` table, one pair per distinct target layer (in the order given):
 * `cam_raw_<layer>` and `weights_<layer>` (the layer name with characters outside A–Z a–z 0–9 _ replaced by `_`;
 * `_<i>` appended on a clash).
 */
export function camLayerColumns(layers: readonly string[]): Map<string, { raw: string; weights: string }> {
  const out = new Map<string, { raw: string; weights: string }>();
  const used = new Set<string>();
  layers.forEach((l, i) => {
    if (out.has(l)) return;
    let key = l.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'layer';
    if (used.has(key)) key = `${key}_${i}`;
    used.add(key);
    out.set(l, { raw: `cam_raw_${key}`, weights: `weights_${key}` });
  });
  return out;
}

/** The `cams` table's schema: the map at input size, and per target layer its raw low-res map and channel weights. */
export function camSchema(height: number, width: number, layers: readonly CamLayerShape[] = []): Schema {
  const cols = camLayerColumns(layers.map((l) => l.layer));
  const perLayer = layers.flatMap((l) => {
    const c = cols.get(l.layer)!;
    return [
      tensorField(c.raw, new Float32(), [l.height, l.width], ['height', 'width'], {
        nullable: true,
        description:
          `the map at layer '${l.layer}' before normalisation and upsampling: pytorch-grad-cam's cam = np.maximum(get_cam_image(…), 0), ` +
          `what compute_cam_per_layer hands to scale_cam_image [${l.height}×${l.width}]; null in rows whose layer set lacks the layer`,
      }),
      tensorField(c.weights, new Float32(), [l.channels], ['channel'], {
        nullable: true,
        description:
          `channel weights w_k at layer '${l.layer}' (get_cam_weights: cam = Σ_k w_k A_k) [${l.channels}]; null for methods without channel ` +
          'weights (hirescam, layercam, eigencam, eigengradcam: element-wise maps) and in rows whose layer set lacks the layer',
      }),
    ];
  });
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
    ...perLayer,
  ]);
}

/** A class given by index or by name (one of the model's labels). */
export type ClassSpec = number | string;

/** The `target` param: a class spec, 'top1' / 'label', or the object form (class or top_k, and the score). */
export type TargetParam = ClassSpec | { class?: ClassSpec; top_k?: number; score?: TargetKind };

/** The `cam` stage's params (stages/cam.ts holds their schema). */
export interface CamParams {
  methods: string[];
  layers?: string[];
  combine: 'mean' | 'separate';
  target: TargetParam;
  targets?: Record<string, ClassSpec>;
  batch_size: number;
  eigen_smooth: boolean;
  ablation: { batch_size?: number; value?: AblationValue };
  score: { batch_size?: number };
  overlay: { enabled?: boolean; image_weight?: number };
  image: { fit?: 'stretch' | 'center-crop'; resize?: number };
  limit?: number;
}

/** Target per image: a class index, 'top1' (the argmax of its outputs), or its k highest classes (one map each). */
export type ImageTarget = number | 'top1' | { top: number };

/** The target's score kind: params.target.score (default the raw logit, the library's ClassifierOutputTarget). */
export function targetKindOf(p: Pick<CamParams, 'target'>): TargetKind {
  return typeof p.target === 'object' && p.target !== null ? (p.target.score ?? 'logit') : 'logit';
}

/** Class index of a class name among the model's labels (src/model/common.ts; also used by load-model's checks). */
export { classIndex };

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
  const obj = typeof p.target === 'object' && p.target !== null ? p.target : null;
  const t: ClassSpec = obj ? (obj.class ?? 'top1') : (p.target as ClassSpec);
  const tPath = obj ? at(obj.class !== undefined ? 'target.class' : 'target') : at('target');
  let base: (item: DatasetItem) => ImageTarget;
  if (obj?.top_k !== undefined) {
    if (obj.class !== undefined) throw new ConfigError('target: give either class or top_k, not both', { path: at('target') });
    const top = Math.min(obj.top_k, k);
    base = () => (top === 1 ? 'top1' : { top });
  } else if (t === 'top1' || t === 'top-1') base = () => 'top1';
  else if (t === 'label') {
    // The dataset label mapped to the model's classes by name (index when the dataset's class list equals the labels).
    const sameList = classNames.length === info.labels.length && classNames.every((c, i) => c === info.labels[i]);
    base = (item) => {
      if (item.label === undefined && !item.labelName) throw new ConfigError(`image '${item.id}' has no dataset label (target: label)`, { path: tPath });
      if (sameList && item.label !== undefined) return item.label;
      for (const n of [item.synset, item.labelName, item.label !== undefined ? classNames[item.label] : undefined]) {
        if (!n) continue;
        const i = classIndex(n, info.labels);
        if (i !== undefined) return i;
      }
      throw new ConfigError(`image '${item.id}': its label '${item.labelName ?? item.label}' is not a class of model '${info.id}' (target: label)`, { path: tPath });
    };
  } else {
    const c = fromValue(t, tPath);
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
  methods: CamMethod[];
  /** Target-layer sets: each gives one cam per method (several layers → mean of normalised cams). */
  layerSets: string[][];
  /** Target per dataset index. */
  targets: readonly ImageTarget[];
  /** Score of the target class: the raw output (default) or its softmax (see targetKindOf). */
  target?: TargetKind;
  eigenSmooth: boolean;
  ablation: { batchSize: number; value: AblationValue };
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

/**
 * Overlay file of an item: `<image id>.png` with the id's extension kept (a.png and a.jpg give a.png.png and
 * a.jpg.png); an id that needs sanitising gets `~<dataset index>` (ids are unique, `~` never survives sanitising, so
 * names are unique per item); `~class<k>` when the image has several targets (top_k).
 */
export function overlayName(method: string, layerKey: string, id: string, index: number, cls?: number): string {
  const s = safe(id, true);
  return `overlays/${safe(method)}/${safe(layerKey)}/${s}${s === id ? '' : `~${index}`}${cls === undefined ? '' : `~class${cls}`}.png`;
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

/** Index of the first maximum (np.argmax). */
function argmax(x: Float32Array): number {
  let peak = 0;
  let best = x[0];
  for (let i = 1; i < x.length; i++) if (x[i] > best) (best = x[i]), (peak = i);
  return peak;
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
  // A model that already outputs probabilities: its output is the score of the softmax target as is.
  const probabilities = info.output === 'probabilities';
  const kind: TargetKind = probabilities ? 'logit' : (a.target ?? 'logit');

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
  const gradMethods = methods.filter((m) => camMethod(m).needs === 'gradients');
  const itemTargets = a.indices.map((i) => a.targets[i]);
  const ranked = itemTargets.some((x) => typeof x !== 'number');
  // The ONNX runtime finds each image's top-1 class inside its gradient pass: no separate forward is needed when
  // every target is top-1 on the raw output and a gradient method will run.
  const top1InGradients = !!model.gradientsTop1 && kind === 'logit' && gradMethods.length > 0 && itemTargets.every((x) => x === 'top1');

  // 1. Forward: the outputs, when targets are ranked classes or the softmax target needs them, and the activations of
  //    the target layers when no gradient call will give them (only non-gradient methods); one forward when possible.
  t0 = performance.now();
  const acts: Record<string, Tensor> = {};
  let logits: Tensor | undefined;
  if (gradMethods.length === 0) {
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
  } else if ((ranked && !top1InGradients) || kind === 'softmax') {
    logits = (await model.predict(batch)).logits;
    a.counts.forwards++;
  }
  tick('forward', t0);
  const grads: Record<string, Tensor> = {};
  if (!logits && top1InGradients) {
    t0 = performance.now();
    const g = await model.gradientsTop1!(batch, layers[0]);
    a.counts.gradientCalls++;
    grads[layers[0]] = g.gradients;
    acts[layers[0]] = g.activations;
    logits = g.logits;
    tick('gradients', t0);
  }
  // Each image's target classes (best first for ranked targets).
  const lists = itemTargets.map((x, b) => {
    if (typeof x === 'number') return [x];
    return topKTargets(sliceOne(logits!, b), x === 'top1' ? 1 : x.top)[0];
  });
  const ranks = Math.max(...lists.map((l) => l.length));

  const HW = H * W;
  const columns = camLayerColumns(layers);
  const out: Record<string, unknown>[][] = items.map(() => []);
  for (let r = 0; r < ranks; r++) {
    const targets = lists.map((l) => l[Math.min(r, l.length - 1)]);
    // 2. Gradients: one call per layer, shared by every gradient method (rank 0 reuses a top-1 pass).
    if (gradMethods.length) {
      t0 = performance.now();
      const w = targetGradientWeights(targets, K, kind, logits);
      for (const l of layers) {
        if (grads[l] && r === 0) continue;
        const g = await model.gradients(batch, l, w);
        a.counts.gradientCalls++;
        grads[l] = g.gradients;
        acts[l] ??= g.activations;
        logits ??= g.logits;
      }
      tick('gradients', t0);
    }
    if (!logits) throw new Error('internal: no logits');
    const outputs = logits;
    const scores = targets.map((cls, b) => targetValue(outputs, b, cls, kind));

    // 3. Per method and layer: raw cam and weights (the registry) → ReLU (kept: the cam_raw_<layer> column), min-max,
    //    resize (scaleCam); per set: aggregateLayers.
    const camsBy = new Map<string, Float32Array>(); // `${method}\u0000${setIndex}` → [n·H·W]
    const partsBy = new Map<string, { relu: Float32Array; weights: Float32Array | null; hw: number; c: number }>(); // `${method}\u0000${layer}`
    for (const m of methods) {
      t0 = performance.now();
      const perLayer = new Map<string, Float32Array>();
      for (const l of layers) {
        const A = acts[l];
        const [, c, h, w] = A.shape;
        const { cam: raw, weights } = await rawCamParts(m, {
          acts: A,
          grads: grads[l],
          targets,
          target: kind,
          eigenSmooth: a.eigenSmooth,
          scores,
          forwardFrom: (x) => model.forwardFrom(l, x),
          ablation: a.ablation,
          input: batch,
          forward: async (x) => (await model.predict(x)).logits,
          scoreBatchSize: a.scoreBatchSize,
        });
        const needs = camMethod(m).needs;
        if (needs === 'ablation') a.counts.headRows += n * c;
        if (needs === 'score') a.counts.maskedForwards += n * c;
        const relu = reluCam(raw);
        partsBy.set(`${m}\u0000${l}`, { relu, weights, hw: h * w, c });
        perLayer.set(l, scaleCam(relu, n, h, w, H, W));
      }
      a.layerSets.forEach((set, si) => camsBy.set(`${m}\u0000${si}`, aggregateLayers(set.map((l) => perLayer.get(l)!), n, H, W)));
      tick(m, t0);
    }

    // 4. Rows and overlays (rows: typed-array copies; overlays: lookup-table blend, PNG at zlib level 1, compressed on
    // libuv's thread pool while the rows are built).
    t0 = performance.now();
    const overlays: { name: string; png: Promise<Uint8Array> }[] = [];
    for (let b = 0; b < n; b++) {
      if (r >= lists[b].length) continue;
      const item = items[b];
      const cls = targets[b];
      const probs = probabilities ? outputs.data.subarray(b * K, (b + 1) * K) : softmaxRow(outputs.data, b, K);
      for (const m of methods) {
        for (const [si, set] of a.layerSets.entries()) {
          const cam = camsBy.get(`${m}\u0000${si}`)!.slice(b * HW, (b + 1) * HW);
          const peak = argmax(cam); // first maximum, row-major (np.argmax)
          const mask = masks[b];
          const layerKey = set.join('+');
          let overlay: string | null = null;
          if (a.overlay.enabled) {
            overlay = overlayName(m, layerKey, item.id, a.indices[b], lists[b].length > 1 ? cls : undefined);
            const png = encodePng(showCamOnImage(rgbs[b].data, H, W, cam, a.overlay.imageWeight), W, H, 3, { level: 1, filter: 'paeth', strategy: 'rle' });
            png.catch(() => {}); // awaited below, in order; a failure is not "unhandled" meanwhile
            overlays.push({ name: overlay, png });
          }
          const row: Record<string, unknown> = {
            image: item.id,
            index: a.indices[b],
            method: m,
            layer: layerKey,
            target: cls,
            target_name: info.labels[cls] ?? String(cls),
            score: outputs.data[b * K + cls],
            probability: probs[cls],
            label: item.labelName ?? (item.label !== undefined ? String(item.label) : null),
            height: H,
            width: W,
            cam,
            peak_x: peak % W,
            peak_y: Math.floor(peak / W),
            in_mask: mask ? mask[peak] !== 0 : null,
            overlay,
          };
          for (const l of set) {
            const p = partsBy.get(`${m}\u0000${l}`)!;
            const col = columns.get(l)!;
            row[col.raw] = p.relu.slice(b * p.hw, (b + 1) * p.hw);
            row[col.weights] = p.weights ? p.weights.slice(b * p.c, (b + 1) * p.c) : null;
          }
          out[b].push(row);
        }
      }
    }
    for (const o of overlays) await a.writeFile(o.name, await o.png); // in order: the files do not depend on timing
    tick('rows', t0);
  }
  return out;
}

export interface PointingStats {
  hits: number;
  total: number;
  rate: number;
}

/** Adds the pointing game's counts of `rows` (cams rows) to `sums`: `pointing.<method>@<layer>.total` and `.hits`, over the rows with a ground-truth mask (is the cam's maximum inside it?). */
export function addPointing(rows: readonly Record<string, unknown>[], sums: Record<string, number>): void {
  for (const r of rows) {
    if (r.in_mask === null || r.in_mask === undefined) continue;
    const k = `pointing.${r.method}@${r.layer}`;
    sums[`${k}.total`] = (sums[`${k}.total`] ?? 0) + 1;
    sums[`${k}.hits`] = (sums[`${k}.hits`] ?? 0) + (r.in_mask ? 1 : 0);
  }
}

/** The pointing game per method@layer from the stage's summed counts (addPointing's keys). */
export function pointingFromSums(sums: Record<string, number>): Record<string, PointingStats> {
  const out: Record<string, PointingStats> = {};
  for (const [key, total] of Object.entries(sums)) {
    const m = /^pointing\.(.+)\.total$/.exec(key);
    if (!m) continue;
    const hits = sums[`pointing.${m[1]}.hits`] ?? 0;
    out[m[1]] = { hits, total, rate: total ? hits / total : 0 };
  }
  return out;
}
