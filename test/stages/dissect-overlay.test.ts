// The report overlay of a unit (NetDissect-Lite report.py): PIL-bilinear upsample to the image size, `> T`, and
// (mask·0.8 + 0.2)·image — hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { highlightRegion, unitMask } from '../../src/algo/dissect/index.ts';

test('unitMask: 2×2 → 4×4 PIL bilinear (columns 0, .25, .75, 1), strict threshold', () => {
  const map = [0, 1, 0, 1]; // rows [0, 1], [0, 1]
  assert.deepEqual(Array.from(unitMask(map, 2, 2, 4, 4, 0.5)), [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
  // threshold exactly at an upsampled value (0.75) is not activated (strict >)
  assert.deepEqual(Array.from(unitMask(map, 2, 2, 4, 4, 0.75)), [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(unitMask(map, 2, 2, 4, 4, 0.2)), [0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1]);
});

test('highlightRegion: activated pixels kept, the rest × 0.2', () => {
  const rgb = new Uint8Array(2 * 3).fill(100);
  rgb[3] = 201;
  assert.deepEqual(Array.from(highlightRegion(rgb, 1, 2, [1, 0])), [100, 100, 100, 40, 20, 20]);
});

test('decodeSimplePng equals sharp on label masks (all row filters, 1–4 channels); unsupported → undefined', async () => {
  const { decodeSimplePng } = await import('../../src/explain/dissect/store.ts');
  const { encodePngSync } = await import('../../src/image/png.ts');
  const { decodeRawPixels } = await import('../../src/image/io.ts');
  const sharp = (await import('sharp')).default;
  let s = 7;
  const r = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  for (const ch of [1, 2, 3, 4] as const) {
    const w = 37, h = 23;
    const data = new Uint8Array(w * h * ch);
    // blocky label-like content plus noise rows, so that adaptive filtering picks Sub / Up / Paeth rows too
    for (let i = 0; i < data.length; i++) data[i] = (Math.floor(i / (ch * 5)) % 7) * 30 + (r() < 0.2 ? Math.floor(r() * 40) : 0);
    if (ch === 2 || ch === 4) for (let i = ch - 1; i < data.length; i += ch) data[i] = 255; // opaque alpha
    for (const filter of ['adaptive', 'none'] as const) {
      const png = encodePngSync(data, w, h, ch, { filter });
      const got = decodeSimplePng(png)!;
      assert.deepEqual([got.width, got.height, got.channels], [w, h, ch]);
      assert.deepEqual(Buffer.from(got.data), Buffer.from(data), `channels ${ch} filter ${filter}`);
    }
    // libpng's own encoder (sharp), adaptive filters
    const png2 = await sharp(Buffer.from(data), { raw: { width: w, height: h, channels: ch } }).png({ adaptiveFiltering: true, compressionLevel: 9 }).toBuffer();
    const got2 = decodeSimplePng(png2);
    if (ch === 1 || ch === 3) {
      assert.ok(got2, `sharp's ${ch}-channel PNG decoded`);
      const ref = await decodeRawPixels(png2);
      assert.deepEqual(Buffer.from(got2.data), Buffer.from(ref.data), `sharp-encoded, channels ${ch}`);
    }
  }
  // palette PNGs are not decoded (the caller falls back to the dataset reader)
  const pal = await sharp(Buffer.alloc(4 * 4 * 3, 9), { raw: { width: 4, height: 4, channels: 3 } }).png({ palette: true }).toBuffer();
  assert.equal(decodeSimplePng(pal), undefined);
});
