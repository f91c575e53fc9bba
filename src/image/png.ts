// A small, synchronous, deterministic PNG encoder (8-bit grey / grey+alpha / RGB / RGBA) on node:zlib.
// Used for masks and generated images: no libuv round trip per file, and the same pixels always give the same
// bytes (fixed deflate settings, per-row filter chosen by libpng's minimum-sum-of-absolute-differences heuristic
// over None/Sub/Up/Paeth). Decoding goes through sharp (src/image/io.ts).
import zlib from 'node:zlib';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

let crcTable: Uint32Array | undefined;
function crc32(data: Uint8Array, start = 0): number {
  if (typeof (zlib as { crc32?: unknown }).crc32 === 'function') {
    return (zlib as unknown as { crc32(d: Uint8Array): number }).crc32(data) >>> 0;
  }
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~start;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

export interface PngEncodeOptions {
  /** zlib level 0–9 (default 6). */
  level?: number;
  /**
   * zlib strategy: 'default', or 'rle' (matches of distance one only: on filtered image rows about half the time of
   * level 1's default at the same or a smaller size; zlib documents it as designed for PNG image data).
   */
  strategy?: 'default' | 'rle';
  /**
   * Row filter: 'adaptive' (default; per row the filter among None/Sub/Up/Paeth with the smallest sum of absolute
   * values, libpng's heuristic), 'paeth' (every row Paeth: a third of adaptive's cost, within ~1 % of its size on
   * photos and CAM overlays) or 'none' (fastest, and smallest for flat synthetic images).
   */
  filter?: 'adaptive' | 'paeth' | 'none';
}

/**
 * Encodes interleaved 8-bit pixels (`channels` = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) as PNG.
 * Deterministic: identical input → identical bytes (for a given zlib build).
 */
export function encodePngSync(
  data: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  opts: PngEncodeOptions = {},
): Uint8Array {
  const raw = filtered(data, width, height, channels, opts);
  return assemble(width, height, channels, zlib.deflateSync(raw, deflateOptions(opts)));
}

/**
 * encodePngSync with the compression on libuv's thread pool (zlib.deflate): the same bytes, while the calling thread
 * goes on (a CAM batch's overlays compress while its rows are built).
 */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, opts: PngEncodeOptions = {}): Promise<Uint8Array> {
  const raw = filtered(data, width, height, channels, opts);
  const idat = await new Promise<Uint8Array>((resolve, reject) => zlib.deflate(raw, deflateOptions(opts), (e, b) => (e ? reject(e) : resolve(b))));
  return assemble(width, height, channels, idat);
}

const deflateOptions = (o: PngEncodeOptions): zlib.ZlibOptions => ({
  level: o.level ?? 6,
  memLevel: 9,
  strategy: o.strategy === 'rle' ? zlib.constants.Z_RLE : zlib.constants.Z_DEFAULT_STRATEGY,
});

/** The scanlines with their filter bytes (what IDAT compresses). */
function filtered(data: Uint8Array, width: number, height: number, channels: number, opts: PngEncodeOptions): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`encodePng: bad size ${width}×${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new Error(`encodePng: ${data.length} bytes for ${width}×${height}×${channels} (expected ${width * height * channels})`);
  }
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  if (opts.filter === 'none') {
    for (let y = 0; y < height; y++) raw.set(data.subarray(y * stride, y * stride + stride), y * (stride + 1) + 1);
    return raw;
  }
  const bpp = channels;
  if (opts.filter === 'paeth') {
    // every row Paeth (PNG filter 4). Row 0 has no row above (b = c = 0: Paeth picks a, as Sub); each row's first
    // pixel has no left neighbour (a = c = 0: Paeth picks b, as Up).
    for (let y = 0; y < height; y++) {
      const o = y * (stride + 1) + 1;
      raw[o - 1] = 4;
      const r = y * stride;
      if (y === 0) {
        for (let i = 0; i < stride; i++) raw[o + i] = data[r + i] - (i >= bpp ? data[r + i - bpp] : 0);
        continue;
      }
      const u = r - stride;
      for (let i = 0; i < bpp; i++) raw[o + i] = data[r + i] - data[u + i];
      for (let i = bpp; i < stride; i++) {
        const a = data[r + i - bpp], b = data[u + i], c = data[u + i - bpp];
        const pa = b > c ? b - c : c - b; // |p − a| with p = a + b − c
        const pb = a > c ? a - c : c - a; // |p − b|
        const pc = a + b > 2 * c ? a + b - 2 * c : 2 * c - a - b; // |p − c|
        raw[o + i] = data[r + i] - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
    }
    return raw;
  }
  const cand = new Uint8Array(stride * 4);
  const zero = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const cur = data.subarray(y * stride, y * stride + stride);
    const up = y > 0 ? data.subarray((y - 1) * stride, y * stride) : zero;
    // 0 none, 1 sub, 2 up, 3 → PNG filter 4 (paeth); the average filter is not tried
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < stride; i++) {
      const x = cur[i];
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = up[i];
      const c = i >= bpp ? up[i - bpp] : 0;
      const v0 = x;
      const v1 = (x - a) & 0xff;
      const v2 = (x - b) & 0xff;
      const p = a + b - c;
      const pa = p > a ? p - a : a - p;
      const pb = p > b ? p - b : b - p;
      const pc = p > c ? p - c : c - p;
      const v3 = (x - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      cand[i] = v0;
      cand[stride + i] = v1;
      cand[2 * stride + i] = v2;
      cand[3 * stride + i] = v3;
      s0 += v0 < 128 ? v0 : 256 - v0;
      s1 += v1 < 128 ? v1 : 256 - v1;
      s2 += v2 < 128 ? v2 : 256 - v2;
      s3 += v3 < 128 ? v3 : 256 - v3;
    }
    const sums = [s0, s1, s2, s3];
    let best = 0;
    for (let f = 1; f < 4; f++) if (sums[f] < sums[best]) best = f;
    const o = y * (stride + 1);
    raw[o] = best === 3 ? 4 : best;
    raw.set(cand.subarray(best * stride, best * stride + stride), o + 1);
  }
  return raw;
}

function assemble(width: number, height: number, channels: number, idat: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = COLOR_TYPE[channels];
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Packs a label map (values 0…65535) into an RGB mask image with label = R + 256·G (B = 0), Broden's encoding. */
export function labelsToRgb(labels: ArrayLike<number>): Uint8Array {
  const n = labels.length;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (v < 0 || v > 65535 || !Number.isInteger(v)) throw new Error(`label ${v} at pixel ${i} cannot be encoded as R + 256·G`);
    out[i * 3] = v & 0xff;
    out[i * 3 + 1] = v >>> 8;
  }
  return out;
}
