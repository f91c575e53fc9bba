// Label maps of a Broden dataset for label-units: the fast mask reader and the IouTally's view of an item's labels.
// No Arrow import: the label-reading worker thread loads it.
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import type { BrodenDataset, BrodenItem, ItemLabels } from '../../data/types.ts';
import type { ImageAnnotations } from '../../algo/dissect/index.ts';

/** An item's labels as the IouTally wants them: every pixel map of every category, and the image-level labels. */
export function annotations(l: ItemLabels, categories: readonly string[]): ImageAnnotations {
  const maps: Uint16Array[] = [];
  const scalars: number[] = [];
  for (const c of categories) {
    for (const m of l.pixel[c] ?? []) maps.push(m);
    for (const s of l.image[c] ?? []) scalars.push(s);
  }
  return { height: l.height, width: l.width, maps, scalars };
}

// ───────────────────────────── fast label maps ─────────────────────────────

/**
 * Decodes a plain PNG (8-bit grey, grey+alpha, RGB or RGBA, not interlaced — what Broden's and the synthetic
 * dataset's masks are) with node:zlib; undefined for anything else (the caller falls back to the dataset reader).
 * About 20× cheaper than a sharp round trip for a 112×112 mask, which matters at one decode per mask per image.
 */
export function decodeSimplePng(buf: Uint8Array): { width: number; height: number; channels: number; data: Uint8Array } | undefined {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (buf.length < 33 || sig.some((b, i) => buf[i] !== b)) return undefined;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 8;
  let width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  while (pos + 8 <= buf.length) {
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = dv.getUint32(pos + 8);
      height = dv.getUint32(pos + 12);
      const depth = buf[pos + 16], colour = buf[pos + 17], interlace = buf[pos + 20];
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colour] ?? 0;
      if (depth !== 8 || interlace !== 0 || channels === 0) return undefined;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  if (!width || !height || idat.length === 0) return undefined;
  const raw = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) return undefined;
  const out = new Uint8Array(height * stride);
  const bpp = channels;
  // PNG unfiltering, one loop per filter type (byte arithmetic mod 256 via the Uint8Array store)
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const o = y * stride;
    const p = o - stride;
    if (f === 0) out.set(raw.subarray(src, src + stride), o);
    else if (f === 1) {
      for (let x = 0; x < bpp; x++) out[o + x] = raw[src + x];
      for (let x = bpp; x < stride; x++) out[o + x] = raw[src + x] + out[o + x - bpp];
    } else if (f === 2) {
      if (y > 0) for (let x = 0; x < stride; x++) out[o + x] = raw[src + x] + out[p + x];
      else out.set(raw.subarray(src, src + stride), o);
    } else if (f === 3) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[o + x - bpp] : 0;
        const b = y > 0 ? out[p + x] : 0;
        out[o + x] = raw[src + x] + ((a + b) >> 1);
      }
    } else if (f === 4) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[o + x - bpp] : 0;
        const b = y > 0 ? out[p + x] : 0;
        const c = x >= bpp && y > 0 ? out[p + x - bpp] : 0;
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        out[o + x] = raw[src + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
    } else return undefined;
  }
  return { width, height, channels, data: out };
}

/**
 * An item's labels as `ds.readLabels(item, categories)` gives them (label = R + 256·G for 3+ channels, the grey value
 * otherwise; sizes and label numbers checked), decoding the mask PNGs with decodeSimplePng; any mask it cannot decode
 * or any problem → the dataset reader (which names the file in its error).
 */
export async function readLabelsFast(ds: BrodenDataset, item: BrodenItem, categories: readonly string[], known: Uint8Array): Promise<ItemLabels> {
  const pixel: Record<string, Uint16Array[]> = {};
  const image: Record<string, number[]> = {};
  const n = item.sh * item.sw;
  for (const cat of categories) {
    if (item.imageLabels[cat]) image[cat] = item.imageLabels[cat].slice();
    const files = item.masks[cat];
    if (!files) continue;
    const maps: Uint16Array[] = [];
    for (const file of files) {
      let png;
      try {
        // a sync read: an async readFile's open/stat/read/close round trips cost more than the read of a small mask
        png = decodeSimplePng(readFileSync(file));
      } catch {
        png = undefined;
      }
      if (!png || png.width !== item.sw || png.height !== item.sh) return ds.readLabels(item, categories);
      const map = new Uint16Array(n);
      const d = png.data;
      const ch = png.channels;
      let bad = false;
      if (ch >= 3) {
        for (let i = 0, j = 0; i < n; i++, j += ch) {
          const v = d[j] + 256 * d[j + 1];
          map[i] = v;
          if (v !== 0 && !known[v]) bad = true;
        }
      } else {
        for (let i = 0, j = 0; i < n; i++, j += ch) {
          const v = d[j];
          map[i] = v;
          if (v !== 0 && !known[v]) bad = true;
        }
      }
      if (bad) return ds.readLabels(item, categories);
      maps.push(map);
    }
    pixel[cat] = maps;
  }
  return { item, height: item.sh, width: item.sw, pixel, image };
}

/** known[label] = 1 for every label number of the dataset's label.csv. */
export function knownLabels(ds: BrodenDataset): Uint8Array {
  const k = new Uint8Array(65536);
  for (let id = 1; id < 65536; id++) if (ds.concept(id)) k[id] = 1;
  return k;
}
