import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  centerCropBox,
  decodeImage,
  decodeRawPixels,
  denormalize,
  encodeJpeg,
  encodePng,
  ImageReadError,
  loadBatch,
  loadMask,
  loadRgb,
  loadTensor,
  normalize,
  readRawRgb,
  roundHalfEven,
  writeRawRgb,
} from '../../src/image/io.ts';
import { resample } from '../../src/image/resize.ts';
import { encodePngSync, labelsToRgb } from '../../src/image/png.ts';
import type { InputSpec } from '../../src/model/types.ts';

const tmp = () => mkdtempSync(join(os.tmpdir(), 'xai-image-'));
const reds = (d: Uint8Array) => Array.from(d.filter((_, i) => i % 3 === 0));

const SPEC: InputSpec = {
  height: 2,
  width: 2,
  channels: 3,
  layout: 'NCHW',
  channelOrder: 'RGB',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

test('PNG encoder round-trips through sharp for 1–4 channels, adaptive, Paeth (zlib default and RLE) and unfiltered', async () => {
  for (const ch of [1, 2, 3, 4] as const) {
    const w = 13, h = 7;
    const data = new Uint8Array(w * h * ch).map((_, i) => (i * 37 + (i >> 3) * 11) % 256);
    for (const [filter, strategy] of [['adaptive', 'default'], ['paeth', 'default'], ['paeth', 'rle'], ['none', 'default']] as const) {
      const png = encodePngSync(data, w, h, ch, { filter, strategy });
      const meta = await sharp(Buffer.from(png)).metadata();
      assert.equal(meta.channels, ch);
      // sharp outputs grey as 3 equal bands (+ alpha): compare the grey band and the alpha
      const { data: back, info } = await sharp(Buffer.from(png)).raw().toBuffer({ resolveWithObject: true });
      const got = new Uint8Array(w * h * ch);
      for (let i = 0; i < w * h; i++) {
        if (ch <= 2) {
          got[i * ch] = back[i * info.channels];
          if (ch === 2) got[i * ch + 1] = back[i * info.channels + 3];
        } else got.set(back.subarray(i * ch, i * ch + ch), i * ch);
      }
      assert.deepEqual(got, data, `channels ${ch} filter ${filter} strategy ${strategy}`);
      assert.deepEqual(encodePngSync(data, w, h, ch, { filter, strategy }), png, 'deterministic bytes');
    }
  }
  assert.throws(() => encodePngSync(new Uint8Array(5), 2, 2, 1), /expected 4/);
});

test('grey images become RGB by copying the grey value (gray2rgb); grey+alpha too', async () => {
  const grey = new Uint8Array([10, 100, 200, 255, 0, 50]);
  const rgb = await decodeImage(encodePng(grey, 3, 2, 1));
  assert.equal(rgb.width, 3);
  assert.equal(rgb.height, 2);
  for (let i = 0; i < 6; i++) assert.deepEqual(Array.from(rgb.data.subarray(i * 3, i * 3 + 3)), [grey[i], grey[i], grey[i]]);
  const ga = await decodeImage(encodePng(new Uint8Array([10, 255, 100, 0, 200, 128]), 3, 1, 2));
  assert.deepEqual(Array.from(ga.data), [10, 10, 10, 100, 100, 100, 200, 200, 200]);
  // 16-bit grey PNG through sharp → 8-bit RGB
  const g16 = await sharp(Buffer.from(encodePng(grey, 3, 2, 1))).toColourspace('grey16').png().toBuffer();
  const r16 = await decodeImage(g16);
  assert.deepEqual(reds(r16.data), Array.from(grey));
});

test('alpha: dropped by default (PIL convert RGB), or composited on white / black', async () => {
  const rgba = new Uint8Array([200, 100, 0, 0, 200, 100, 0, 128, 200, 100, 0, 255]);
  const png = encodePng(rgba, 3, 1, 4);
  assert.deepEqual(Array.from((await decodeImage(png)).data), [200, 100, 0, 200, 100, 0, 200, 100, 0]);
  const white = await decodeImage(png, { alpha: 'white' });
  assert.deepEqual(Array.from(white.data.subarray(0, 3)), [255, 255, 255]);
  assert.deepEqual(Array.from(white.data.subarray(6, 9)), [200, 100, 0]);
  // 128/255 of the colour over white
  assert.ok(Math.abs(white.data[3] - Math.round(200 * (128 / 255) + 255 * (127 / 255))) <= 1);
  const black = await decodeImage(png, { alpha: 'black' });
  assert.deepEqual(Array.from(black.data.subarray(0, 3)), [0, 0, 0]);
  assert.ok(Math.abs(black.data[3] - Math.round(200 * (128 / 255))) <= 1);
});

test('EXIF orientation is applied (orientation 6 = rotate 90° clockwise)', async () => {
  const rgb = new Uint8Array(4 * 2 * 3);
  rgb.set([255, 0, 0], 0); // top-left red in a 4×2 image
  const jpg = await sharp(Buffer.from(rgb), { raw: { width: 4, height: 2, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
  const d = await decodeImage(jpg);
  assert.equal(d.width, 2);
  assert.equal(d.height, 4);
  // after a clockwise quarter turn the top-left pixel is at the top-right
  assert.deepEqual(Array.from(d.data.subarray(3, 6)), [255, 0, 0]);
  assert.deepEqual(Array.from(d.data.subarray(0, 3)), [0, 0, 0]);
});

test('JPEG and WebP decode', async () => {
  const flat = { data: new Uint8Array(16 * 16 * 3).fill(0).map((_, i) => [200, 50, 100][i % 3]), width: 16, height: 16 };
  const jpg = await encodeJpeg(flat, 95);
  const d = await decodeImage(jpg);
  assert.equal(d.width, 16);
  assert.ok(Math.abs(d.data[0] - 200) <= 4 && Math.abs(d.data[1] - 50) <= 4 && Math.abs(d.data[2] - 100) <= 4);
  const webp = await sharp(Buffer.from(flat.data), { raw: { width: 16, height: 16, channels: 3 } }).webp({ lossless: true }).toBuffer();
  assert.deepEqual((await decodeImage(webp)).data, flat.data);
});

test('resize follows Pillow BILINEAR: half-pixel centres, antialiased shrink, renormalised edges', () => {
  // enlarge [0, 255] ×2: centres 0.25, 0.75, 1.25, 1.75 → 0, 63.75, 191.25, 255
  assert.deepEqual(reds(resample(new Uint8Array([0, 0, 0, 255, 255, 255]), 2, 1, 3, 4, 1)), [0, 64, 191, 255]);
  // shrink [0,100,200,255] ×½: triangle of half-width 2, taps beyond the edge dropped: (0·.75+100·.75+200·.25)/1.75
  const src = new Uint8Array([0, 100, 200, 255].flatMap((v) => [v, v, v]));
  assert.deepEqual(reds(resample(src, 4, 1, 3, 2, 1)), [71, 209]);
  // same size: identity; nearest: floor((x + 0.5)·scale)
  assert.deepEqual(resample(src, 4, 1, 3, 4, 1), src);
  assert.deepEqual(reds(resample(src, 4, 1, 3, 2, 1, 'nearest')), [100, 255]);
  // vertical axis behaves the same (1-channel column)
  assert.deepEqual(Array.from(resample(new Uint8Array([0, 255]), 1, 2, 1, 1, 4)), [0, 64, 191, 255]);
  // a crop window of the resized image equals cropping the full resize
  const big = new Uint8Array(37 * 23 * 3).map((_, i) => (i * 31) % 251);
  const full = resample(big, 37, 23, 3, 20, 15, 'cubic');
  const win = resample(big, 37, 23, 3, 20, 15, 'cubic', { left: 3, top: 2, width: 10, height: 9 });
  for (let y = 0; y < 9; y++) assert.deepEqual(win.subarray(y * 30, y * 30 + 30), full.subarray(((y + 2) * 20 + 3) * 3, ((y + 2) * 20 + 13) * 3));
});

test('centre crop follows torchvision Resize + CenterCrop (truncated long side, round-half-even offset)', async () => {
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.5), 2);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(-0.5), -0);
  // 500×375 → Resize(256): 341×256 (int(256·500/375) = 341); crop 224: left round(58.5) = 58, top 16
  assert.deepEqual(centerCropBox(500, 375, 224, 224, 256), { width: 341, height: 256, left: 58, top: 16 });
  assert.deepEqual(centerCropBox(375, 500, 224, 224, 256), { width: 256, height: 341, left: 16, top: 58 });
  // a 6×4 image with distinct columns: resize shorter side to 4 (no change), crop 4×4 from the centre → columns 1..4
  const w = 6, h = 4;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x * 40, 0, 0], (y * w + x) * 3);
  const r = await loadRgb(encodePng(data, w, h, 3), 4, 4, { fit: 'center-crop', resize: 4 });
  assert.deepEqual(reds(r.data.subarray(0, 12)), [40, 80, 120, 160]);
  const s = await loadRgb(encodePng(data, w, h, 3), 4, 3, { fit: 'stretch', kernel: 'nearest' });
  assert.equal(s.width, 3);
  // nearest: source column floor((x + 0.5)·2) = 1, 3, 5
  assert.deepEqual(reds(s.data.subarray(0, 9)), [40, 120, 200]);
});

test('normalise: (pixel·scale − mean)/std per channel, NCHW and NHWC, RGB and BGR; denormalize inverts', () => {
  const rgb = { data: new Uint8Array([255, 0, 128, 10, 20, 30]), width: 2, height: 1 };
  const chw = normalize(rgb, SPEC, 'NCHW');
  const f = (v: number, c: number) => (v / 255 - SPEC.mean[c]) / SPEC.std[c];
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);
  close(chw[0], f(255, 0));
  close(chw[1], f(10, 0));
  close(chw[2], f(0, 1));
  close(chw[3], f(20, 1));
  close(chw[4], f(128, 2));
  close(chw[5], f(30, 2));
  const hwc = normalize(rgb, SPEC, 'NHWC');
  close(hwc[0], f(255, 0));
  close(hwc[1], f(0, 1));
  close(hwc[2], f(128, 2));
  close(hwc[3], f(10, 0));
  const caffe = { scale: 1, mean: [103.939, 116.779, 123.68] as [number, number, number], std: [1, 1, 1] as [number, number, number], channelOrder: 'BGR' as const };
  const bgr = normalize(rgb, caffe, 'NCHW');
  close(bgr[0], 128 - 103.939); // B first
  close(bgr[2], 0 - 116.779);
  close(bgr[4], 255 - 123.68);
  assert.deepEqual(denormalize(chw, 2, 1, SPEC).data, rgb.data);
  assert.deepEqual(denormalize(bgr, 2, 1, caffe).data, rgb.data);
});

test('loadTensor / loadBatch fill NCHW batches in order', async () => {
  const dir = tmp();
  try {
    const files: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = join(dir, `${i}.png`);
      writeFileSync(f, encodePng(new Uint8Array(12).fill(i * 50), 2, 2, 3));
      files.push(f);
    }
    const batch = await loadBatch(files, SPEC, { concurrency: 3 });
    assert.deepEqual(batch.shape, [5, 3, 2, 2]);
    for (let i = 0; i < 5; i++) {
      const one = await loadTensor(files[i], SPEC);
      assert.deepEqual(batch.data.subarray(i * 12, i * 12 + 12), one);
      assert.ok(Math.abs(one[0] - ((i * 50) / 255 - 0.485) / 0.229) < 1e-5);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('masks: nearest geometry, any non-zero colour channel counts; R + 256·G packing', async () => {
  const m = new Uint8Array([0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const mask = await loadMask(encodePng(m, 4, 4, 1), 2, 2, { kernel: 'linear' });
  // nearest from 4×4 to 2×2 samples source (1,1), (3,1), (1,3), (3,3): pixel 5 is (1,1)
  assert.deepEqual(Array.from(mask), [1, 0, 0, 0]);
  const packed = labelsToRgb([0, 1, 255, 256, 258, 65535]);
  assert.deepEqual(Array.from(packed), [0, 0, 0, 1, 0, 0, 255, 0, 0, 0, 1, 0, 2, 1, 0, 255, 255, 0]);
  const raw = await decodeRawPixels(encodePng(packed, 6, 1, 3));
  const labels = [];
  for (let i = 0; i < 6; i++) labels.push(raw.data[i * 3] + 256 * raw.data[i * 3 + 1]);
  assert.deepEqual(labels, [0, 1, 255, 256, 258, 65535]);
  assert.throws(() => labelsToRgb([65536]), /cannot be encoded/);
  // a 1-channel mask decodes to one band (its value is the label)
  const g = await decodeRawPixels(encodePng(new Uint8Array([0, 7, 200]), 3, 1, 1));
  assert.equal(g.channels, 1);
  assert.deepEqual(Array.from(g.data), [0, 7, 200]);
});

test('raw RGB in/out', async () => {
  const dir = tmp();
  try {
    const img = { data: new Uint8Array([1, 2, 3, 4, 5, 6]), width: 2, height: 1 };
    await writeRawRgb(join(dir, 'a.rgb'), img);
    assert.deepEqual(await readRawRgb(join(dir, 'a.rgb'), 2, 1), img);
    await assert.rejects(readRawRgb(join(dir, 'a.rgb'), 3, 1), /expected 3×1×3 = 9/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing and undecodable images throw ImageReadError naming the file', async () => {
  const dir = tmp();
  try {
    const missing = join(dir, 'nope.jpg');
    await assert.rejects(decodeImage(missing), (e: unknown) => e instanceof ImageReadError && e.message.includes(missing) && /not found/.test(e.message));
    const bad = join(dir, 'bad.jpg');
    writeFileSync(bad, 'this is not a JPEG');
    await assert.rejects(loadRgb(bad, 4, 4), (e: unknown) => e instanceof ImageReadError && e.message.includes(bad) && /cannot decode/.test(e.message));
    // a truncated JPEG
    const jpg = await encodeJpeg({ data: new Uint8Array(32 * 32 * 3).fill(90), width: 32, height: 32 });
    const trunc = join(dir, 'trunc.jpg');
    writeFileSync(trunc, jpg.subarray(0, Math.floor(jpg.length / 2)));
    await assert.rejects(loadTensor(trunc, SPEC), (e: unknown) => e instanceof ImageReadError && e.message.includes(trunc));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
