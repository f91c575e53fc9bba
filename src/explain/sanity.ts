// The work of the `sanity-check` stage (stages/sanity-check.ts): the model-parameter randomisation test of Adebayo
// et al. 2018 ("Sanity Checks for Saliency Maps"), cascading from the logits down. At step k the k weighted layers
// nearest the logits are re-initialised (src/model/onnx/randomise.ts: N(0, σ²) with σ the std of each original
// tensor, one seeded stream per layer), the CAMs of a cam stage are recomputed with the cam stage's own code
// (src/explain/cam.ts computeCams, same methods, layers, targets and image fit) and compared with the original maps:
// Spearman's ρ of the absolute and of the signed maps and SSIM (src/algo/evaluate/stats.ts). A method whose maps
// depend on the model keeps falling in similarity as more layers are randomised. ONNX and TF.js models
// (src/model/tfjs/randomise.ts): each step's randomised model is written to a temporary directory outside the project
// (the user's model files are never written) and opened as a fresh Model, one step at a time.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import os from 'node:os';
import { Field, Float64, Int32, Schema, Utf8, type Table } from 'apache-arrow';
import { summaryStatFields } from '../arrow/conventions.ts';
import { spearman, ssim } from '../algo/evaluate/stats.ts';
import { summaryColumns } from '../algo/compare/index.ts';
import { Rng } from '../algo/lime/rng.ts';
import { imageSeed } from './lime.ts';
import { computeCams, type ComputeArgs } from './cam.ts';
import { canonicalMethod } from '../algo/cam/methods.ts';
import { parseOnnx } from '../model/onnx/graph.ts';
import { randomisedModel, weightedLayers, type WeightedLayer } from '../model/onnx/randomise.ts';
import { readTfjsWeights, tfjsWeightedLayers, writeRandomisedTfjs } from '../model/tfjs/randomise.ts';
import { inferFormat, openModel, type ModelConfig } from '../model/index.ts';
import { modelFilePath, portablePath } from '../model/config.ts';
import type { DatasetItem } from '../data/index.ts';
import type { RgbImage } from '../image/io.ts';

export const perImageSchema = new Schema([
  new Field('image', new Utf8(), false),
  new Field('index', new Int32(), false),
  new Field('explanation', new Utf8(), false),
  new Field('target', new Int32(), false),
  new Field('step', new Int32(), false),
  new Field('randomised', new Utf8(), false),
  new Field('spearman_abs', new Float64(), true),
  new Field('spearman', new Float64(), true),
  new Field('ssim', new Float64(), true),
]);

export const summarySchema = new Schema([
  new Field('explanation', new Utf8(), false),
  new Field('step', new Int32(), false),
  new Field('randomised', new Utf8(), false),
  new Field('metric', new Utf8(), false),
  ...summaryStatFields(),
]);

export const SANITY_METRICS = ['spearman_abs', 'spearman', 'ssim'] as const;

/** One original map: image, `method@layer`, its target and the map (H·W). */
export interface OriginalMap {
  image: string;
  method: string;
  layer: string;
  target: number;
  map: Float32Array;
}

/** The similarity of a randomised map to the original: Spearman ρ of |maps| and of the maps, SSIM (data range 1: CAMs are min-max normalised). NaN (a constant map) → null. */
export function similarity(orig: Float32Array, rand: Float32Array, H: number, W: number): { spearman_abs: number | null; spearman: number | null; ssim: number | null } {
  const nn = (x: number) => (Number.isFinite(x) ? x : null);
  const abs = (v: Float32Array) => v.map(Math.abs);
  return {
    spearman_abs: nn(spearman(abs(orig), abs(rand))),
    spearman: nn(spearman(orig, rand)),
    ssim: H >= 7 && W >= 7 ? nn(ssim(orig, rand, H, W, 1)) : null,
  };
}

/** The CAMs of a cams table (filtered by method — any of the cam stage's spellings — and layer key; per image only its first target), as the originals. */
export function originalMaps(t: Table, methods?: string[], layers?: string[]): OriginalMap[] {
  const col = (n: string) => t.getChild(n)!;
  const firstTarget = new Map<string, number>();
  const out: OriginalMap[] = [];
  for (let r = 0; r < t.numRows; r++) {
    const image = col('image').get(r) as string, method = col('method').get(r) as string, layer = col('layer').get(r) as string;
    const target = col('target').get(r) as number;
    if (!firstTarget.has(image)) firstTarget.set(image, target);
    if (firstTarget.get(image) !== target) continue;
    if (methods && !methods.some((m) => m === method || canonicalMethod(m) === method)) continue;
    if (layers && !layers.includes(layer)) continue;
    out.push({ image, method, layer, target, map: Float32Array.from((col('cam').get(r) as { toArray(): Float32Array }).toArray()) });
  }
  return out;
}

export interface CascadeArgs {
  config: ModelConfig;
  root: string;
  /** At most this many steps (layers), from the logits down; default all weighted layers. */
  maxSteps?: number;
  seed: number;
  items: readonly DatasetItem[];
  /** Dataset index of each item. */
  indices: number[];
  originals: readonly OriginalMap[];
  /** The items' RGB pixels at the model input size, when the caller has them (else decoded with cam.loadOpts). */
  pixels?: RgbImage[];
  /** The cam stage's settings: methods, layer sets, target kind, eigen-smooth, ablation, score batch, image fit. */
  cam: Pick<ComputeArgs, 'methods' | 'layerSets' | 'target' | 'eigenSmooth' | 'ablation' | 'scoreBatchSize' | 'loadOpts'>;
  batchSize: number;
  /** Wall ms of each step (model bytes, open, CAMs, comparisons). */
  onStep?(step: number, layer: string, ms: number): void;
}

/** A model's weighted layers (nearest the logits first) and a writer of its randomised copies. */
interface Randomiser {
  file: string;
  layers: WeightedLayer[];
  /** Writes the model with `layers` randomised into `dir`; returns the path to open. */
  write(layers: readonly WeightedLayer[], normal: (layer: string) => () => number, dir: string): string;
}

function randomiser(config: ModelConfig, root: string): Randomiser {
  const abs = modelFilePath(config, root);
  const file = portablePath(abs, root);
  if (inferFormat(config, root) === 'onnx') {
    const proto = parseOnnx(readFileSync(abs), file);
    return {
      file,
      layers: weightedLayers(proto),
      write(layers, normal, dir) {
        const path = join(dir, 'model.onnx');
        writeFileSync(path, randomisedModel(proto, layers, normal, file));
        return path;
      },
    };
  }
  const w = readTfjsWeights(abs, file);
  return { file, layers: tfjsWeightedLayers(w), write: (layers, normal, dir) => writeRandomisedTfjs(w, layers, normal, dir) };
}

/** The weighted layers of an ONNX or TF.js model, nearest the logits first. */
export function cascadeLayers(config: ModelConfig, root: string): { layers: WeightedLayer[]; file: string } {
  const { layers, file } = randomiser(config, root);
  return { layers, file };
}

/** Runs the cascade; one row per step × original map. */
export async function cascade(a: CascadeArgs): Promise<Record<string, unknown>[]> {
  const abs = modelFilePath(a.config, a.root);
  const rz = randomiser(a.config, a.root);
  const layers = rz.layers.slice(0, a.maxSteps ?? Infinity);
  const name = a.config.name ?? (/\.onnx$/i.test(abs) ? basename(abs).replace(/\.onnx$/i, '') : basename(dirname(abs)));
  const byImage = new Map<string, OriginalMap[]>();
  for (const o of a.originals) byImage.set(o.image, [...(byImage.get(o.image) ?? []), o]);
  const targets: number[] = [];
  a.items.forEach((it, k) => (targets[a.indices[k]] = byImage.get(it.id)![0].target));
  const dir = mkdtempSync(join(os.tmpdir(), 'xai-sanity-'));
  const rows: Record<string, unknown>[] = [];
  try {
    for (let s = 1; s <= layers.length; s++) {
      const t0 = performance.now();
      const tmp = join(dir, `step${s}`);
      mkdirSync(tmp);
      const path = rz.write(layers.slice(0, s), (layer) => {
        const rng = new Rng(imageSeed(a.seed, layer));
        return () => rng.normal();
      }, tmp);
      const model = await openModel({ ...a.config, name, path }, { root: a.root, fresh: true });
      try {
        const { height: H, width: W } = model.info.input;
        for (let b = 0; b < a.items.length; b += a.batchSize) {
          const items = a.items.slice(b, b + a.batchSize);
          const res = await computeCams({
            ...a.cam, model, items, indices: a.indices.slice(b, b + a.batchSize), targets, pixels: a.pixels?.slice(b, b + a.batchSize), overlay: { enabled: false, imageWeight: 0.5 },
            writeFile: async () => {}, timing: {}, counts: { forwards: 0, gradientCalls: 0, headRows: 0, maskedForwards: 0 },
          });
          res.forEach((camRows, k) => {
            const it = items[k];
            for (const o of byImage.get(it.id)!) {
              const r = camRows.find((x) => x.method === o.method && x.layer === o.layer && x.target === o.target);
              if (!r) continue;
              rows.push({
                image: it.id, index: a.indices[b + k], explanation: `${o.method}@${o.layer}`, target: o.target, step: s, randomised: layers[s - 1].name,
                ...similarity(o.map, r.cam as Float32Array, H, W),
              });
            }
          });
        }
      } finally {
        await model.dispose();
        rmSync(tmp, { recursive: true, force: true });
      }
      a.onStep?.(s, layers[s - 1].name, performance.now() - t0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** One row per explanation × step × metric: n, mean, median, std, min, max over the images (nulls left out). */
export function summaryRows(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const r of rows) {
    const k = `${r.explanation}\u0000${r.step}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: Record<string, unknown>[] = [];
  for (const g of groups.values()) {
    for (const metric of SANITY_METRICS) {
      const v = g.map((r) => r[metric] as number | null).filter((x): x is number => x !== null);
      out.push({ explanation: g[0].explanation, step: g[0].step, randomised: g[0].randomised, metric, ...summaryColumns(v) });
    }
  }
  return out;
}
