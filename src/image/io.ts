// Image I/O on sharp: decode (JPEG/PNG/WebP/…), EXIF orientation, grey/alpha handling, resize + centre crop,
// conversion to normalised float32 tensors, PNG encoding, raw RGB in/out.
//
// Conventions (stated once, followed everywhere):
// - EXIF orientation is applied (sharp `.rotate()` without an angle), as PIL's ImageOps.exif_transpose.
// - Grey images become RGB by copying the grey value into R, G and B, as lime's `gray2rgb` (skimage.color.gray2rgb).
// - Alpha: by default the alpha channel is dropped and the stored colour kept, as PIL's `Image.convert('RGB')` that
//   torchvision's default loader applies; `alpha: 'white' | 'black'` composites on that colour instead.
// - Resize: bilinear by default, with Pillow's Image.resize semantics (what torchvision's Resize does on PIL images):
//   half-pixel centres, antialiased when shrinking (support × scale), edge taps dropped and renormalised, two 8-bit
//   passes (horizontal first), 22-bit fixed-point weights — implemented in src/image/resize.ts, not with sharp's
//   resize (libvips clamps edges when shrinking and shifts by a quarter pixel when enlarging). sharp only decodes.
// - 'center-crop' follows torchvision Resize(R) + CenterCrop(H, W): shorter side → R, longer side → int(R·long/short)
//   (truncated), crop offset = round((size − crop)/2) with Python's round-half-to-even.
// - Values: 8-bit per channel; 16-bit inputs are reduced to 8 bits. CMYK (and other colour spaces) → sRGB.
// - Sizes: images below MIN_IMAGE_SIDE (4) pixels on a side are refused; below SMALL_IMAGE_SIDE (32) they are upscaled
//   and noted; above LARGE_IMAGE_PIXELS they are decoded and downscaled, and noted (`imageNotes`, the dataset's
//   `note` column, one summary warning per stage).
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { InputSpec, Tensor } from '../model/types.ts';
import { encodePngSync } from './png.ts';
import { resample } from './resize.ts';

type SharpFn = (typeof import('sharp'))['default'];
let sharpMod: SharpFn | undefined;
/** sharp, loaded on first use (stage modules must not import it at top level). */
export async function getSharp(): Promise<SharpFn> {
  if (!sharpMod) {
    const m = await import('sharp');
    sharpMod = ((m as unknown as { default?: SharpFn }).default ?? m) as SharpFn;
    // One libvips thread per image; parallelism comes from several images in flight on libuv's pool.
    sharpMod.concurrency(1);
    sharpMod.cache(false);
  }
  return sharpMod;
}

/** Interleaved 8-bit RGB pixels, row-major. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type AlphaMode = 'drop' | 'white' | 'black';
/** Resampling filter (Pillow semantics, src/image/resize.ts): BILINEAR, BICUBIC, LANCZOS, NEAREST. */
export type ResizeKernel = 'linear' | 'cubic' | 'nearest' | 'lanczos3';

export interface LoadOptions {
  /**
   * How the image reaches the target size: 'stretch' resizes to exactly H×W (aspect ratio not kept);
   * 'center-crop' resizes the shorter side to `resize` (default max(H, W)) then crops the centre H×W.
   */
  fit?: 'stretch' | 'center-crop';
  /** Shorter-side size before the centre crop (torchvision Resize(256) + CenterCrop(224) → 256). */
  resize?: number;
  /** Resampling filter (default 'linear' = PIL BILINEAR, see the header). */
  kernel?: ResizeKernel;
  alpha?: AlphaMode;
}

export type ImageInput = string | Uint8Array;

function describe(input: ImageInput): string {
  return typeof input === 'string' ? input : `<buffer ${input.length} bytes>`;
}

/** An image that cannot be read or decoded; the message names the file. */
export class ImageReadError extends Error {
  readonly file: string;
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(`${file}: ${reason}`, options);
    this.name = 'ImageReadError';
    this.file = file;
  }
}

async function toBuffer(input: ImageInput): Promise<Uint8Array> {
  if (typeof input !== 'string') return input;
  try {
    return await readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageReadError(input, code === 'ENOENT' ? 'image file not found' : `cannot read image (${code ?? (e as Error).message})`, { cause: e });
  }
}

/**
 * Smallest accepted image side, in pixels: smaller images are refused (a 1×1 or 3×3 image stretched to a model input
 * carries nothing to explain). 4 keeps tiny test models with 4×4 inputs usable.
 */
export const MIN_IMAGE_SIDE = 4;
/** Images with a side below this are noted as upscaled. */
export const SMALL_IMAGE_SIDE = 32;
/** Images above this many pixels (16 megapixels) are noted as large (decoded whole, then downscaled). */
export const LARGE_IMAGE_PIXELS = 4096 * 4096;

/** What an image's header says (no pixels decoded). */
export interface ImageHeader {
  width: number;
  height: number;
  /** Colour bands without alpha (1 grey, 3 RGB, 4 CMYK). */
  bands: number;
  alpha: boolean;
  bits: number;
  space: string;
  /** EXIF orientation 1..8 (1 = as stored). */
  orientation: number;
  format: string;
}

/** Reads an image's header; an unreadable or non-image file is an ImageReadError naming it. */
export async function readImageHeader(file: string): Promise<ImageHeader> {
  const sharp = await getSharp();
  let m: import('sharp').Metadata;
  try {
    m = await sharp(file).metadata();
  } catch (e) {
    await toBuffer(file); // names a missing / unreadable file precisely
    throw new ImageReadError(file, `not a readable image (${(e as Error).message.split('\n')[0]})`, { cause: e });
  }
  const rotated = (m.orientation ?? 1) >= 5; // 5..8 swap width and height
  const bits = m.depth === 'ushort' || m.depth === 'short' ? 16 : m.depth === 'uint' || m.depth === 'int' || m.depth === 'float' ? 32 : m.depth === 'double' ? 64 : 8;
  return {
    width: (rotated ? m.height : m.width) ?? 0,
    height: (rotated ? m.width : m.height) ?? 0,
    bands: (m.channels ?? 3) - (m.hasAlpha ? 1 : 0),
    alpha: !!m.hasAlpha,
    bits,
    space: m.space ?? 'srgb',
    orientation: m.orientation ?? 1,
    format: m.format ?? 'unknown',
  };
}

/** The kinds of adjustment `imageNotes` reports, with the phrase of the summary warning. */
export const NOTE_KINDS = {
  small: `smaller than ${SMALL_IMAGE_SIDE}×${SMALL_IMAGE_SIDE} (upscaled)`,
  large: `above ${LARGE_IMAGE_PIXELS / 2 ** 20} megapixels (downscaled)`,
  grey: 'in grey (value copied to R, G, B)',
  alpha: 'with an alpha channel (dropped, colour kept)',
  bits: 'with more than 8 bits per channel (reduced to 8)',
  cmyk: 'in CMYK (converted to sRGB)',
  exif: 'EXIF-rotated (orientation applied)',
} as const;
export type NoteKind = keyof typeof NOTE_KINDS;

/**
 * What loading does to an image beyond resizing to the model (the conventions in the header): a `; `-joined note
 * (null when nothing) and its kinds. Refuses (ImageReadError) an image below MIN_IMAGE_SIDE.
 */
export function imageNotes(h: ImageHeader, file: string): { note: string | null; kinds: NoteKind[] } {
  if (h.width < MIN_IMAGE_SIDE || h.height < MIN_IMAGE_SIDE) {
    throw new ImageReadError(file, `image is ${h.width}×${h.height}, below the minimum ${MIN_IMAGE_SIDE}×${MIN_IMAGE_SIDE} pixels`);
  }
  const parts: string[] = [];
  const kinds: NoteKind[] = [];
  const add = (k: NoteKind, text: string) => {
    kinds.push(k);
    parts.push(text);
  };
  if (h.width < SMALL_IMAGE_SIDE || h.height < SMALL_IMAGE_SIDE) add('small', `small ${h.width}×${h.height}: upscaled`);
  if (h.width * h.height > LARGE_IMAGE_PIXELS) add('large', `large ${h.width}×${h.height}: downscaled`);
  if (h.space === 'cmyk') add('cmyk', 'CMYK → sRGB');
  else if (h.bands === 1) add('grey', 'grey → RGB');
  if (h.alpha) add('alpha', 'alpha dropped');
  if (h.bits > 8) add('bits', `${h.bits}-bit → 8-bit`);
  if (h.orientation > 1) add('exif', `EXIF orientation ${h.orientation} applied`);
  return { note: parts.length ? parts.join('; ') : null, kinds };
}

/** One line summing up the notes of a stage's images (undefined when none): counts per kind, biggest first. */
export function notesSummary(counts: Partial<Record<NoteKind, number>>, table: string): string | undefined {
  const parts = (Object.keys(NOTE_KINDS) as NoteKind[]).filter((k) => counts[k]).map((k) => `${counts[k]} ${counts[k] === 1 ? 'image' : 'images'} ${NOTE_KINDS[k]}`);
  return parts.length ? `${parts.join(', ')}: see the note column of ${table}` : undefined;
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Size after torchvision Resize(size) (shorter side → size, longer side truncated) and the centre-crop box. */
export function centerCropBox(
  srcW: number,
  srcH: number,
  cropW: number,
  cropH: number,
  resize: number,
): { width: number; height: number; left: number; top: number } {
  let width: number;
  let height: number;
  if (srcW <= srcH) {
    width = resize;
    height = Math.floor((resize * srcH) / srcW);
  } else {
    height = resize;
    width = Math.floor((resize * srcW) / srcH);
  }
  if (cropW > width || cropH > height) {
    throw new Error(`centre crop ${cropW}×${cropH} is larger than the resized image ${width}×${height} (resize ${resize})`);
  }
  return { width, height, left: roundHalfEven((width - cropW) / 2), top: roundHalfEven((height - cropH) / 2) };
}

/**
 * Decodes an image to 8-bit RGB at its own size (EXIF orientation applied, grey → RGB, alpha per `alpha`).
 */
export async function decodeImage(input: ImageInput, opts: { alpha?: AlphaMode } = {}): Promise<RgbImage> {
  const sharp = await getSharp();
  try {
    // a path goes to libvips directly (no JS buffer, one thread-pool hop less)
    const img = finishRgb(sharp(input, { failOn: 'error' }).rotate(), opts.alpha ?? 'drop');
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return checkRgb(data, info, input);
  } catch (e) {
    if (e instanceof ImageReadError) throw e;
    if (typeof input === 'string') await toBuffer(input); // names a missing / unreadable file precisely
    throw new ImageReadError(describe(input), `cannot decode image (${(e as Error).message})`, { cause: e });
  }
}

function finishRgb(img: import('sharp').Sharp, alpha: AlphaMode): import('sharp').Sharp {
  if (alpha === 'drop') img = img.removeAlpha();
  else img = img.flatten({ background: alpha === 'white' ? { r: 255, g: 255, b: 255 } : { r: 0, g: 0, b: 0 } });
  // b-w → sRGB copies the grey band into R, G, B (gray2rgb); other spaces (CMYK, Lab, 16-bit) convert to 8-bit sRGB.
  return img.toColourspace('srgb');
}

function checkRgb(data: Buffer, info: import('sharp').OutputInfo, input: ImageInput): RgbImage {
  if (info.channels !== 3) throw new ImageReadError(describe(input), `decoded to ${info.channels} channels, expected 3`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/**
 * Decodes an image and brings it to `height`×`width` RGB (see LoadOptions and the conventions in the header).
 */
export async function loadRgb(input: ImageInput, height: number, width: number, opts: LoadOptions = {}): Promise<RgbImage> {
  const src = await decodeImage(input, { alpha: opts.alpha });
  try {
    return { data: fitPixels(src.data, src.width, src.height, 3, height, width, opts, opts.kernel ?? 'linear'), width, height };
  } catch (e) {
    throw new ImageReadError(describe(input), (e as Error).message, { cause: e });
  }
}

/** Resizes (stretch) or resizes + centre-crops (center-crop) interleaved pixels to height×width. */
export function fitPixels(
  data: Uint8Array,
  w: number,
  h: number,
  channels: number,
  height: number,
  width: number,
  opts: LoadOptions,
  kernel: ResizeKernel,
): Uint8Array {
  if (w === width && h === height && (opts.fit !== 'center-crop' || (opts.resize ?? Math.max(width, height)) === Math.min(w, h))) {
    return data; // already the target size: no resampling (as PIL's resize to the same size)
  }
  if ((opts.fit ?? 'stretch') === 'center-crop') {
    const box = centerCropBox(w, h, width, height, opts.resize ?? Math.max(width, height));
    return resample(data, w, h, channels, box.width, box.height, kernel, { left: box.left, top: box.top, width, height });
  }
  return resample(data, w, h, channels, width, height, kernel);
}

/**
 * Loads a ground-truth mask with the same geometry as `loadRgb` (orientation, resize/crop per `opts`) but
 * nearest-neighbour sampling (PIL NEAREST); returns height×width of 0/1 (1 where any colour channel is non-zero;
 * an alpha channel does not count).
 */
export async function loadMask(input: ImageInput, height: number, width: number, opts: LoadOptions = {}): Promise<Uint8Array> {
  const sharp = await getSharp();
  let raw: { data: Buffer; info: import('sharp').OutputInfo };
  try {
    raw = await sharp(input, { failOn: 'error' }).rotate().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    if (typeof input === 'string') await toBuffer(input); // names a missing / unreadable file precisely
    throw new ImageReadError(describe(input), `cannot decode mask (${(e as Error).message})`, { cause: e });
  }
  const { data, info } = raw;
  const n = info.width * info.height;
  const ch = info.channels;
  const bands = ch === 2 || ch === 4 ? ch - 1 : ch;
  const bin = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += ch) {
    let v = 0;
    for (let b = 0; b < bands; b++) v |= data[j + b];
    bin[i] = v ? 1 : 0;
  }
  try {
    return fitPixels(bin, info.width, info.height, 1, height, width, opts, 'nearest');
  } catch (e) {
    throw new ImageReadError(describe(input), (e as Error).message, { cause: e });
  }
}

/** Per-channel lookup tables: lut[c][v] = (v·scale − mean[c]) / std[c], c in the spec's channel order. */
export function normalizationLut(spec: Pick<InputSpec, 'scale' | 'mean' | 'std'>): Float32Array[] {
  const luts: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = (v * spec.scale - spec.mean[c]) / spec.std[c];
    luts.push(lut);
  }
  return luts;
}

/**
 * Converts RGB pixels to the model's normalised float32 values, `(pixel·scale − mean) / std` per channel in
 * `spec.channelOrder`, laid out CHW (default, the Model interface's NCHW) or HWC. Writes into `out` at `offset`
 * when given (to fill a batch without copies).
 */
export function normalize(
  rgb: RgbImage,
  spec: Pick<InputSpec, 'scale' | 'mean' | 'std' | 'channelOrder'>,
  layout: 'NCHW' | 'NHWC' = 'NCHW',
  out?: Float32Array,
  offset = 0,
  luts: Float32Array[] = normalizationLut(spec),
): Float32Array {
  const n = rgb.width * rgb.height;
  const res = out ?? new Float32Array(n * 3);
  if (res.length < offset + n * 3) throw new Error(`normalize: output too small (${res.length} < ${offset + n * 3})`);
  const src = rgb.data;
  // source channel for output channel c
  const srcCh = spec.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  if (layout === 'NCHW') {
    // one pass over the source, three output planes; lut k serves output channel k
    const [s0, s1, s2] = srcCh;
    const l0 = luts[0], l1 = luts[1], l2 = luts[2];
    const o1 = offset + n, o2 = offset + 2 * n;
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      res[offset + i] = l0[src[j + s0]];
      res[o1 + i] = l1[src[j + s1]];
      res[o2 + i] = l2[src[j + s2]];
    }
  } else {
    const l0 = luts[0], l1 = luts[1], l2 = luts[2];
    const [s0, s1, s2] = srcCh;
    for (let i = 0, j = 0, o = offset; i < n; i++, j += 3, o += 3) {
      res[o] = l0[src[j + s0]];
      res[o + 1] = l1[src[j + s1]];
      res[o + 2] = l2[src[j + s2]];
    }
  }
  return res;
}

/** Inverse of `normalize` (CHW input) back to 8-bit RGB, rounding and clamping; for overlays and reports. */
export function denormalize(
  chw: Float32Array,
  width: number,
  height: number,
  spec: Pick<InputSpec, 'scale' | 'mean' | 'std' | 'channelOrder'>,
  offset = 0,
): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  const dst = spec.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  for (let c = 0; c < 3; c++) {
    const m = spec.mean[c], s = spec.std[c], k = spec.scale, d = dst[c];
    for (let i = 0; i < n; i++) {
      const v = Math.round((chw[offset + c * n + i] * s + m) / k);
      data[i * 3 + d] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { data, width, height };
}

/** Decode + resize/crop + normalise one image into a CHW float32 array of the spec's size. */
export async function loadTensor(input: ImageInput, spec: InputSpec, opts: LoadOptions = {}): Promise<Float32Array> {
  const rgb = await loadRgb(input, spec.height, spec.width, opts);
  return normalize(rgb, spec, 'NCHW');
}

/**
 * Loads several images into one NCHW batch, `concurrency` decodes in flight (default 4, the libuv pool size).
 * Throws the first failure (an ImageReadError naming the file).
 */
export async function loadBatch(
  inputs: readonly ImageInput[],
  spec: InputSpec,
  opts: LoadOptions & { concurrency?: number } = {},
): Promise<Tensor> {
  const n = inputs.length;
  const per = spec.height * spec.width * 3;
  const data = new Float32Array(n * per);
  const luts = normalizationLut(spec);
  await forEachLimit(inputs, opts.concurrency ?? 4, async (input, i) => {
    const rgb = await loadRgb(input, spec.height, spec.width, opts);
    normalize(rgb, spec, 'NCHW', data, i * per, luts);
  });
  return { data, shape: [n, 3, spec.height, spec.width] };
}

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first error after all settle. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  let failed = false;
  async function worker(): Promise<void> {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        if (!failed) {
          failed = true;
          firstError = e;
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw firstError;
}

/** Encodes 8-bit pixels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA channels) as PNG (deterministic). */
export function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3): Uint8Array {
  return encodePngSync(data, width, height, channels);
}

/** Writes an RGB image (or other channel count) as PNG, creating the directory. */
export async function writePng(path: string, data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, encodePngSync(data, width, height, channels));
}

/** Encodes RGB pixels as JPEG (quality 0–100) through sharp; for tests and benches. */
export async function encodeJpeg(rgb: RgbImage, quality = 90): Promise<Uint8Array> {
  const sharp = await getSharp();
  const buf = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Reads raw interleaved 8-bit RGB (no header) of a known size. */
export async function readRawRgb(path: string, width: number, height: number): Promise<RgbImage> {
  const buf = await readFile(path);
  if (buf.length !== width * height * 3) throw new ImageReadError(path, `raw RGB file has ${buf.length} bytes, expected ${width}×${height}×3 = ${width * height * 3}`);
  return { data: new Uint8Array(buf.buffer, buf.byteOffset, buf.length), width, height };
}

/** Writes raw interleaved 8-bit RGB (no header). */
export async function writeRawRgb(path: string, rgb: RgbImage): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, rgb.data);
}

/** Decoded 8-bit pixels with their channel count, without any colour conversion (for label masks). */
export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * Decodes an image's stored channels as 8-bit values without orientation or colour conversion (palette expanded to
 * RGB; grey and grey+alpha give one band, the grey value).
 */
export async function decodeRawPixels(input: ImageInput): Promise<RawPixels> {
  const sharp = await getSharp();
  try {
    let img = sharp(input, { failOn: 'error' });
    const meta = await img.metadata();
    // sharp would expand grey to 3 bands on output; keep one band (an alpha band is dropped)
    if (meta.channels !== undefined && meta.channels <= 2) img = img.toColourspace('b-w');
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels };
  } catch (e) {
    if (typeof input === 'string') await toBuffer(input); // names a missing / unreadable file precisely
    throw new ImageReadError(describe(input), `cannot decode image (${(e as Error).message})`, { cause: e });
  }
}
