// Synthetic concept dataset "shapes": coloured geometric objects on textured backgrounds, with exact ground truth,
// written in Broden format (categories color, object, scene, texture) plus a classification label and a
// ground-truth mask of the main object.
//
// Each image (S×S RGB PNG):
// - background: a scene (a named two-colour palette: desert, ocean, forest, city, candy) drawn with a texture
//   (plain, striped, dotted, chequered, gradient) — scene and texture are image-level labels, as in Broden;
// - 1–3 objects, each a shape class (circle, square, triangle, star, ring, cross) in a named colour (red, green,
//   blue, yellow, orange, purple, white, black; colour drawn independently of the shape, re-drawn only when too
//   close to the scene's colours), with random position, size and rotation;
// - the MAIN object is the largest and frontmost: drawn last, radius 0.22–0.36·S and fully inside the image;
//   the 0–2 distractors are smaller (radius 0.09–0.16·S), drawn first, may be partly hidden by the main object,
//   by each other or by the image border. The classification label is the main object's shape.
// Rasterisation samples shapes exactly at pixel centres (no antialiasing): at full resolution for the image and the
// ground-truth mask, and at the Broden mask resolution (half the image, rounded, as broden1_224's 112 for 224) for
// the color/object masks, so every mask is exact for its own grid.
// Randomness: xoshiro128** (src/data/prng.ts) seeded per image by (seed, index) — the same seed gives byte-identical
// files whatever the order or parallelism of generation.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { encodePngSync, labelsToRgb } from '../../image/png.ts';
import { BrodenWriter, type BrodenConceptDef } from '../broden.ts';
import { formatCsv } from '../csv.ts';
import { Rng } from '../prng.ts';
import type { BrodenDatasetRef } from '../types.ts';

export const GENERATOR_VERSION = '1';

export const SHAPE_CLASSES = ['circle', 'square', 'triangle', 'star', 'ring', 'cross'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

type RGB = readonly [number, number, number];

/** Object colours (named, saturated). */
export const OBJECT_COLORS: Record<string, RGB> = {
  red: [220, 40, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  yellow: [240, 220, 40],
  orange: [245, 140, 20],
  purple: [140, 50, 180],
  white: [245, 245, 245],
  black: [20, 20, 20],
};

/** Background colours (named, muted), used by the scene palettes. */
export const BACKGROUND_COLORS: Record<string, RGB> = {
  beige: [225, 200, 160],
  brown: [150, 100, 60],
  teal: [40, 140, 140],
  navy: [30, 50, 100],
  olive: [100, 115, 45],
  grey: [120, 120, 120],
  silver: [185, 185, 185],
  pink: [240, 170, 200],
  lavender: [185, 165, 230],
};

/** Scenes: a named palette of two background colours. */
export const SCENES: Record<string, readonly [string, string]> = {
  desert: ['beige', 'brown'],
  ocean: ['teal', 'navy'],
  forest: ['olive', 'brown'],
  city: ['grey', 'silver'],
  candy: ['pink', 'lavender'],
};

export const TEXTURES = ['plain', 'striped', 'dotted', 'chequered', 'gradient'] as const;
export type Texture = (typeof TEXTURES)[number];

export const CATEGORIES = ['color', 'object', 'scene', 'texture'] as const;

/** The concept vocabulary in label-number order (numbers 1…). */
export function shapesConcepts(): BrodenConceptDef[] {
  return [
    ...Object.keys(OBJECT_COLORS).map((name) => ({ name, category: 'color' })),
    ...Object.keys(BACKGROUND_COLORS).map((name) => ({ name, category: 'color' })),
    ...SHAPE_CLASSES.map((name) => ({ name, category: 'object' })),
    ...Object.keys(SCENES).map((name) => ({ name, category: 'scene' })),
    ...TEXTURES.map((name) => ({ name, category: 'texture' })),
  ];
}

/** Flat synthetic images compress best unfiltered (and it is the fastest). */
const PNG_OPTS = { filter: 'none', level: 6 } as const;

const MIN_CONTRAST = 90; // minimum RGB distance between an object colour and each scene colour
const COLOR_JITTER = 12; // ± per channel, per object

// ───────────────────────────── geometry ─────────────────────────────

/** A shape as horizontal spans: for a row at height y (image coordinates, pixel k covers [k, k+1)), the covered
 *  x intervals [x0, x1). */
interface Shape {
  spans(y: number, out: number[]): void;
  /** Bounding rows (continuous). */
  y0: number;
  y1: number;
}

function discShape(cx: number, cy: number, r: number, inner: number): Shape {
  return {
    y0: cy - r,
    y1: cy + r,
    spans(y, out) {
      const dy = y - cy;
      const d2 = r * r - dy * dy;
      if (d2 < 0) return;
      const h = Math.sqrt(d2);
      const i2 = inner * inner - dy * dy;
      if (inner > 0 && i2 > 0) {
        const hi = Math.sqrt(i2);
        out.push(cx - h, cx - hi, cx + hi, cx + h);
      } else out.push(cx - h, cx + h);
    },
  };
}

/** Polygon (even-odd rule), vertices as [x0, y0, x1, y1, …]. */
function polygonShape(v: number[]): Shape {
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 1; i < v.length; i += 2) {
    y0 = Math.min(y0, v[i]);
    y1 = Math.max(y1, v[i]);
  }
  const n = v.length / 2;
  const xs: number[] = [];
  return {
    y0,
    y1,
    spans(y, out) {
      xs.length = 0;
      for (let i = 0, j = n - 1; i < n; j = i++) {
        const xi = v[2 * i], yi = v[2 * i + 1], xj = v[2 * j], yj = v[2 * j + 1];
        if (yi <= y !== yj <= y) xs.push(xi + ((y - yi) * (xj - xi)) / (yj - yi));
      }
      xs.sort((a, b) => a - b);
      for (let k = 0; k + 1 < xs.length; k += 2) out.push(xs[k], xs[k + 1]);
    },
  };
}

function transformed(pts: [number, number][], cx: number, cy: number, angle: number): number[] {
  const c = Math.cos(angle), s = Math.sin(angle);
  const v: number[] = [];
  for (const [x, y] of pts) v.push(cx + x * c - y * s, cy + x * s + y * c);
  return v;
}

function regular(n: number, r: number, phase: number): [number, number][] {
  return Array.from({ length: n }, (_, k) => {
    const a = phase + (2 * Math.PI * k) / n;
    return [r * Math.cos(a), r * Math.sin(a)] as [number, number];
  });
}

/** Builds a shape of class `cls` with "radius" r (about the circumscribed size), centre and rotation. */
export function makeShape(cls: ShapeClass, cx: number, cy: number, r: number, angle: number, ringInner = 0.55): Shape {
  switch (cls) {
    case 'circle':
      return discShape(cx, cy, r, 0);
    case 'ring':
      return discShape(cx, cy, r, r * ringInner);
    case 'square': {
      const h = 0.8 * r;
      return polygonShape(transformed([[-h, -h], [h, -h], [h, h], [-h, h]], cx, cy, angle));
    }
    case 'triangle':
      return polygonShape(transformed(regular(3, 1.1 * r, -Math.PI / 2), cx, cy, angle));
    case 'star': {
      const outer = 1.1 * r;
      const inner = 0.45 * outer;
      const pts: [number, number][] = [];
      for (let k = 0; k < 10; k++) {
        const a = -Math.PI / 2 + (Math.PI * k) / 5;
        const rr = k % 2 === 0 ? outer : inner;
        pts.push([rr * Math.cos(a), rr * Math.sin(a)]);
      }
      return polygonShape(transformed(pts, cx, cy, angle));
    }
    case 'cross': {
      const L = 1.0 * r;
      const w = 0.32 * r;
      return polygonShape(
        transformed(
          [[-w, -L], [w, -L], [w, -w], [L, -w], [L, w], [w, w], [w, L], [-w, L], [-w, w], [-L, w], [-L, -w], [-w, -w]],
          cx,
          cy,
          angle,
        ),
      );
    }
  }
}

/**
 * Rasterises a shape into `map` (W×H grid whose pixel (c, r) has its centre at ((c+0.5)·scale, (r+0.5)·scale) in
 * image coordinates), writing `value` where the centre is inside.
 */
function fillShape(shape: Shape, map: Uint8Array, W: number, H: number, scale: number, value: number, spans: number[]): void {
  const r0 = Math.max(0, Math.floor(shape.y0 / scale - 0.5));
  const r1 = Math.min(H - 1, Math.ceil(shape.y1 / scale - 0.5));
  for (let r = r0; r <= r1; r++) {
    spans.length = 0;
    shape.spans((r + 0.5) * scale, spans);
    const row = r * W;
    for (let k = 0; k + 1 < spans.length; k += 2) {
      const c0 = Math.max(0, Math.ceil(spans[k] / scale - 0.5));
      const c1 = Math.min(W, Math.ceil(spans[k + 1] / scale - 0.5));
      for (let c = c0; c < c1; c++) map[row + c] = value;
    }
  }
}

// ───────────────────────────── backgrounds ─────────────────────────────

/** Background pattern: t(x, y) in [0, 1] — 0 = the palette's first colour, 1 = the second. */
type Pattern = (x: number, y: number) => number;

function makePattern(texture: Texture, rng: Rng, S: number): Pattern {
  const unit = S / 128;
  switch (texture) {
    case 'plain':
      return () => 0;
    case 'striped': {
      const period = rng.uniform(8, 20) * unit;
      const a = rng.pick([0, 45, 90, 135]) * (Math.PI / 180) + rng.uniform(-0.15, 0.15);
      const c = Math.cos(a), s = Math.sin(a);
      const phase = rng.uniform(0, period);
      return (x, y) => (((x * c + y * s + phase) % period) + period) % period < period / 2 ? 0 : 1;
    }
    case 'dotted': {
      const period = rng.uniform(10, 18) * unit;
      const rad = rng.uniform(0.22, 0.32) * period;
      const ox = rng.uniform(0, period), oy = rng.uniform(0, period);
      const r2 = rad * rad;
      return (x, y) => {
        const dx = ((((x + ox) % period) + period) % period) - period / 2;
        const dy = ((((y + oy) % period) + period) % period) - period / 2;
        return dx * dx + dy * dy <= r2 ? 1 : 0;
      };
    }
    case 'chequered': {
      const cell = rng.uniform(8, 18) * unit;
      const ox = rng.uniform(0, cell), oy = rng.uniform(0, cell);
      return (x, y) => ((Math.floor((x + ox) / cell) + Math.floor((y + oy) / cell)) & 1 ? 1 : 0);
    }
    case 'gradient': {
      const a = rng.uniform(0, 2 * Math.PI);
      const c = Math.cos(a), s = Math.sin(a);
      // project the image corners to normalise t to [0, 1]
      const proj = [0, S].flatMap((x) => [0, S].map((y) => x * c + y * s));
      const lo = Math.min(...proj), hi = Math.max(...proj);
      return (x, y) => (x * c + y * s - lo) / (hi - lo);
    }
  }
}

// ───────────────────────────── one image ─────────────────────────────

export interface ShapesObject {
  cls: ShapeClass;
  color: string;
  rgb: [number, number, number];
  cx: number;
  cy: number;
  r: number;
  angle: number;
  main: boolean;
}

export interface ShapesItem {
  size: number;
  maskSize: number;
  scene: string;
  texture: Texture;
  /** Draw order (the main object last). */
  objects: ShapesObject[];
  /** Index of the main object in `objects`. */
  main: number;
  /** RGB pixels, size×size×3. */
  rgb: Uint8Array;
  /** Full-resolution visible-object map: objects index + 1, 0 = background. */
  objectMap: Uint8Array;
  /** Mask-resolution maps: visible-object index + 1 (0 background) and background colour (0 first, 1 second). */
  objectMapSmall: Uint8Array;
  backgroundSmall: Uint8Array;
}

function dist(a: RGB, b: RGB): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

const OBJECT_COLOR_NAMES = Object.keys(OBJECT_COLORS);
const SCENE_NAMES = Object.keys(SCENES);

/** Renders image `index` of the dataset with `seed` at `size`×`size` (pure; deterministic). */
export function renderShapes(seed: number, index: number, size: number, maxObjects = 3): ShapesItem {
  const S = size;
  const M = Math.max(1, Math.round(S / 2));
  const rng = new Rng(seed, index);
  const scene = rng.pick(SCENE_NAMES);
  const texture = rng.pick(TEXTURES);
  const [bgA, bgB] = SCENES[scene].map((n) => BACKGROUND_COLORS[n]);
  const pattern = makePattern(texture, rng, S);

  const allowed = OBJECT_COLOR_NAMES.filter((n) => dist(OBJECT_COLORS[n], bgA) >= MIN_CONTRAST && dist(OBJECT_COLORS[n], bgB) >= MIN_CONTRAST);
  const jitter = (c: RGB): [number, number, number] =>
    c.map((v) => Math.max(0, Math.min(255, Math.round(v + rng.uniform(-COLOR_JITTER, COLOR_JITTER))))) as [number, number, number];

  const nObjects = 1 + rng.int(Math.max(1, Math.min(3, maxObjects)));
  const objects: ShapesObject[] = [];
  for (let k = 0; k < nObjects - 1; k++) {
    const r = rng.uniform(0.09, 0.16) * S;
    const color = rng.pick(allowed);
    objects.push({
      cls: rng.pick(SHAPE_CLASSES),
      color,
      rgb: jitter(OBJECT_COLORS[color]),
      cx: rng.uniform(0, S),
      cy: rng.uniform(0, S),
      r,
      angle: rng.uniform(0, 2 * Math.PI),
      main: false,
    });
  }
  {
    const r = rng.uniform(0.22, 0.36) * S;
    const m = 1.15 * r; // the farthest any shape reaches from its centre (square corners 0.8·√2·r ≈ 1.13·r)
    const color = rng.pick(allowed);
    objects.push({
      cls: rng.pick(SHAPE_CLASSES),
      color,
      rgb: jitter(OBJECT_COLORS[color]),
      cx: rng.uniform(m, S - m),
      cy: rng.uniform(m, S - m),
      r,
      angle: rng.uniform(0, 2 * Math.PI),
      main: true,
    });
  }
  const ringInner = objects.map(() => rng.uniform(0.45, 0.6));
  const shapes = objects.map((o, k) => makeShape(o.cls, o.cx, o.cy, o.r, o.angle, ringInner[k]));

  const spans: number[] = [];
  const objectMap = new Uint8Array(S * S);
  const objectMapSmall = new Uint8Array(M * M);
  shapes.forEach((sh, k) => {
    fillShape(sh, objectMap, S, S, 1, k + 1, spans);
    fillShape(sh, objectMapSmall, M, M, S / M, k + 1, spans);
  });

  const rgb = new Uint8Array(S * S * 3);
  for (let y = 0, i = 0; y < S; y++) {
    const yc = y + 0.5;
    for (let x = 0; x < S; x++, i++) {
      const o = objectMap[i];
      const j = i * 3;
      if (o) {
        const c = objects[o - 1].rgb;
        rgb[j] = c[0];
        rgb[j + 1] = c[1];
        rgb[j + 2] = c[2];
      } else {
        const t = pattern(x + 0.5, yc);
        if (t === 0 || t === 1) {
          const c = t === 0 ? bgA : bgB;
          rgb[j] = c[0];
          rgb[j + 1] = c[1];
          rgb[j + 2] = c[2];
        } else {
          rgb[j] = Math.round(bgA[0] + (bgB[0] - bgA[0]) * t);
          rgb[j + 1] = Math.round(bgA[1] + (bgB[1] - bgA[1]) * t);
          rgb[j + 2] = Math.round(bgA[2] + (bgB[2] - bgA[2]) * t);
        }
      }
    }
  }
  const backgroundSmall = new Uint8Array(M * M);
  const sc = S / M;
  for (let y = 0, i = 0; y < M; y++) {
    for (let x = 0; x < M; x++, i++) backgroundSmall[i] = pattern((x + 0.5) * sc, (y + 0.5) * sc) < 0.5 ? 0 : 1;
  }
  return { size: S, maskSize: M, scene, texture, objects, main: objects.length - 1, rgb, objectMap, objectMapSmall, backgroundSmall };
}

// ───────────────────────────── one encoded item ─────────────────────────────

/** Label number of each concept (label.csv `number`): its position in shapesConcepts() + 1. */
const CONCEPT_NUMBER = new Map(shapesConcepts().map((c, i) => [`${c.category}/${c.name}`, i + 1]));
function num(category: string, name: string): number {
  return CONCEPT_NUMBER.get(`${category}/${name}`)!;
}

/** One item rendered and encoded (what a generation worker sends back; transferable buffers). */
export interface EncodedShapesItem {
  index: number;
  size: number;
  maskSize: number;
  imagePng: Uint8Array;
  gtPng: Uint8Array;
  colorMap: Uint16Array;
  objectMap: Uint16Array;
  colorPng: Uint8Array;
  objectPng: Uint8Array;
  scene: string;
  texture: string;
  mainClass: ShapeClass;
}

/** Renders item `index` and encodes its image, ground truth and Broden masks (pure; deterministic). */
export function encodeShapesItem(seed: number, index: number, size: number, maxObjects = 3): EncodedShapesItem {
  const it = renderShapes(seed, index, size, maxObjects);
  const S = it.size;
  const M = it.maskSize;
  const bgNum = SCENES[it.scene].map((n) => num('color', n));
  const objColorNum = it.objects.map((o) => num('color', o.color));
  const objShapeNum = it.objects.map((o) => num('object', o.cls));
  const colorMap = new Uint16Array(M * M);
  const objectMap = new Uint16Array(M * M);
  for (let p = 0; p < M * M; p++) {
    const o = it.objectMapSmall[p];
    if (o) {
      colorMap[p] = objColorNum[o - 1];
      objectMap[p] = objShapeNum[o - 1];
    } else colorMap[p] = bgNum[it.backgroundSmall[p]];
  }
  const gt = new Uint8Array(S * S);
  const mainVal = it.main + 1;
  for (let p = 0; p < S * S; p++) gt[p] = it.objectMap[p] === mainVal ? 255 : 0;
  return {
    index,
    size: S,
    maskSize: M,
    imagePng: encodePngSync(it.rgb, S, S, 3, PNG_OPTS),
    gtPng: encodePngSync(gt, S, S, 1, PNG_OPTS),
    colorMap,
    objectMap,
    colorPng: encodePngSync(labelsToRgb(colorMap), M, M, 3, PNG_OPTS),
    objectPng: encodePngSync(labelsToRgb(objectMap), M, M, 3, PNG_OPTS),
    scene: it.scene,
    texture: it.texture,
    mainClass: it.objects[it.main].cls,
  };
}

// ───────────────────────────── the dataset ─────────────────────────────

export interface ShapesOptions {
  count: number;
  size: number;
  seed: number;
  /** Fraction of items (the last ones) in split 'val' (default 0.1). */
  valFraction?: number;
  /** At most this many objects per image, 1–3 (default 3). */
  maxObjects?: number;
  /**
   * Worker threads rendering/encoding in parallel (output identical for any number). Default: 1 below 2000 images,
   * else min(available cores, 8).
   */
  workers?: number;
  /** Items per work unit sent to a worker (default 200). */
  chunkSize?: number;
  /** Remove an existing dataset in `outDir` first (otherwise a non-empty outDir is refused). */
  force?: boolean;
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

export interface ShapesResult {
  ref: BrodenDatasetRef;
  count: number;
  classes: string[];
  classCounts: Record<string, number>;
  seconds: number;
}

/**
 * Writes the dataset into `outDir` (layout in docs: index.csv, label.csv, category.csv, c_*.csv, classes.txt,
 * labels.csv, dataset.json, images/shapes/NNNNNN{.png,_color.png,_object.png,_gt.png}).
 */
export async function generateShapes(outDir: string, opts: ShapesOptions): Promise<ShapesResult> {
  const t0 = performance.now();
  const { count, size, seed } = opts;
  if (!Number.isInteger(count) || count < 1) throw new Error(`count must be an integer >= 1, got ${count}`);
  if (!Number.isInteger(size) || size < 16 || size > 4096) throw new Error(`size must be an integer in [16, 4096], got ${size}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const valFraction = opts.valFraction ?? 0.1;
  if (opts.workers !== undefined && !(Number.isInteger(opts.workers) && opts.workers >= 1)) throw new Error(`workers must be an integer >= 1, got ${opts.workers}`);
  if (!(valFraction >= 0 && valFraction <= 1)) throw new Error(`valFraction must be in [0, 1], got ${valFraction}`);
  if (existsSync(outDir) && readdirSync(outDir).length > 0) {
    if (!opts.force) throw new Error(`output directory ${outDir} is not empty (use --force to replace it)`);
    for (const f of readdirSync(outDir)) rmSync(join(outDir, f), { recursive: true, force: true });
  }
  mkdirSync(outDir, { recursive: true });

  const writer = new BrodenWriter(outDir, CATEGORIES, shapesConcepts(), { extraColumns: ['label', 'label_name', 'gt_mask'] });
  for (const c of shapesConcepts()) {
    if (writer.labelNumber(c.category, c.name) !== num(c.category, c.name)) throw new Error('shapes: label numbering mismatch');
  }
  const nVal = Math.round(count * valFraction);
  const digits = Math.max(6, String(count - 1).length);
  const classCounts: Record<string, number> = Object.fromEntries(SHAPE_CLASSES.map((c) => [c, 0]));
  const labelRows: (string | number)[][] = [['image', 'split', 'label', 'label_name', 'gt_mask']];
  const maxObjects = opts.maxObjects ?? 3;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const chunk = opts.chunkSize ?? CHUNK;
  const workers = Math.max(1, Math.min(opts.workers ?? (count >= 2000 ? Math.min(cores, 8) : 1), Math.ceil(count / chunk)));

  const add = (e: EncodedShapesItem) => {
    const i = e.index;
    const name = String(i).padStart(digits, '0');
    const image = `shapes/${name}.png`;
    const gtRel = `shapes/${name}_gt.png`;
    const cls = SHAPE_CLASSES.indexOf(e.mainClass);
    classCounts[e.mainClass]++;
    const split = i >= count - nVal ? 'val' : 'train';
    writer.add({
      image,
      imageBytes: e.imagePng,
      split,
      ih: e.size,
      iw: e.size,
      sh: e.maskSize,
      sw: e.maskSize,
      masks: { color: [e.colorMap], object: [e.objectMap] },
      encodedMasks: { color: [e.colorPng], object: [e.objectPng] },
      imageLabels: { scene: [num('scene', e.scene)], texture: [num('texture', e.texture)] },
      extra: { label: cls, label_name: e.mainClass, gt_mask: gtRel },
      files: [{ path: gtRel, bytes: e.gtPng }],
    });
    labelRows.push([`images/${image}`, split, cls, e.mainClass, `images/${gtRel}`]);
  };

  if (workers <= 1) {
    let lastYield = performance.now();
    for (let i = 0; i < count; i++) {
      add(encodeShapesItem(seed, i, size, maxObjects));
      if (performance.now() - lastYield > 200) {
        opts.onProgress?.(i + 1, count);
        await new Promise((r) => setImmediate(r));
        lastYield = performance.now();
        if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      }
    }
  } else {
    await generateParallel({ seed, size, maxObjects, count, workers, chunk, add, onProgress: opts.onProgress, signal: opts.signal });
  }
  writer.finish();
  writeFileSync(join(outDir, 'classes.txt'), SHAPE_CLASSES.join('\n') + '\n');
  writeFileSync(join(outDir, 'labels.csv'), formatCsv(labelRows));
  const info = {
    generator: 'xai-pipeline shapes',
    version: GENERATOR_VERSION,
    count,
    size,
    seed,
    valFraction,
    maxObjects: opts.maxObjects ?? 3,
    maskSize: Math.max(1, Math.round(size / 2)),
    classes: [...SHAPE_CLASSES],
    classCounts,
    categories: [...CATEGORIES],
    colors: { object: OBJECT_COLORS, background: BACKGROUND_COLORS },
    scenes: SCENES,
    textures: [...TEXTURES],
    prng: 'xoshiro128** seeded by splitmix32 from (seed, image index)',
  };
  writeFileSync(join(outDir, 'dataset.json'), JSON.stringify(info, null, 2) + '\n');
  opts.onProgress?.(count, count);
  return {
    ref: { kind: 'broden', root: outDir, name: 'shapes' },
    count,
    classes: [...SHAPE_CLASSES],
    classCounts,
    seconds: (performance.now() - t0) / 1000,
  };
}

// ───────────────────────────── parallel generation ─────────────────────────────

/** Items per work unit sent to a worker. */
const CHUNK = 200;

/**
 * Renders/encodes chunks on worker threads (src/data/synth/worker.mjs) and hands the items to `add` in index order
 * on this thread (which writes the files and the index). At most 2 chunks per worker are outstanding.
 */
async function generateParallel(o: {
  seed: number;
  size: number;
  maxObjects: number;
  count: number;
  workers: number;
  chunk: number;
  add(e: EncodedShapesItem): void;
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}): Promise<void> {
  const { Worker } = await import('node:worker_threads');
  const CH = o.chunk;
  const nChunks = Math.ceil(o.count / CH);
  const done = new Map<number, EncodedShapesItem[]>();
  let nextChunk = 0;
  let nextToWrite = 0;
  let written = 0;
  const pool: import('node:worker_threads').Worker[] = [];
  let failure: unknown;
  await new Promise<void>((resolvePromise, reject) => {
    const fail = (e: unknown) => {
      if (failure === undefined) failure = e;
      reject(e);
    };
    const dispatch = (w: import('node:worker_threads').Worker) => {
      if (failure !== undefined || nextChunk >= nChunks) return false;
      if (nextChunk - nextToWrite >= 2 * o.workers) return false;
      const c = nextChunk++;
      w.postMessage({ chunk: c, seed: o.seed, size: o.size, maxObjects: o.maxObjects, start: c * CH, end: Math.min(o.count, (c + 1) * CH) });
      return true;
    };
    const idle: import('node:worker_threads').Worker[] = [];
    const flush = () => {
      try {
        while (done.has(nextToWrite)) {
          const items = done.get(nextToWrite)!;
          done.delete(nextToWrite);
          for (const e of items) o.add(e);
          written += items.length;
          nextToWrite++;
        }
      } catch (e) {
        fail(e);
        return;
      }
      o.onProgress?.(written, o.count);
      if (o.signal?.aborted) return fail(o.signal.reason ?? new Error('aborted'));
      while (idle.length && dispatch(idle[idle.length - 1])) idle.pop();
      if (written === o.count) resolvePromise();
    };
    for (let k = 0; k < o.workers; k++) {
      const w = new Worker(new URL('./worker.mjs', import.meta.url));
      pool.push(w);
      w.on('message', (m: { chunk: number; items?: EncodedShapesItem[]; error?: string }) => {
        if (m.error) return fail(new Error(`shapes worker: ${m.error}`));
        done.set(m.chunk, m.items!);
        if (!dispatch(w)) idle.push(w);
        flush();
      });
      w.on('error', fail);
      w.on('exit', (code) => {
        if (code !== 0 && written < o.count) fail(new Error(`shapes worker exited with code ${code}`));
      });
      if (!dispatch(w)) idle.push(w);
    }
  }).finally(async () => {
    await Promise.all(pool.map((w) => w.terminate()));
  });
}
