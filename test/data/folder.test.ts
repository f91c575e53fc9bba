import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, ItemError } from '../../src/engine/errors.ts';
import { loadImage, loadImages, loadImagesSettled, loadItemMask, openDataset, parseClassFolder, parseClassList } from '../../src/data/index.ts';
import { maskPathFor } from '../../src/data/folder.ts';
import { encodeJpeg, encodePng } from '../../src/image/io.ts';
import type { InputSpec } from '../../src/model/types.ts';

const SPEC: InputSpec = { height: 8, width: 8, channels: 3, layout: 'NCHW', channelOrder: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };

function put(root: string, rel: string, bytes: Uint8Array | string) {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), bytes);
}

async function imagenetLike(): Promise<string> {
  const root = mkdtempSync(join(os.tmpdir(), 'xai-folder-'));
  const jpg = async (v: number) => encodeJpeg({ data: new Uint8Array(16 * 16 * 3).fill(v), width: 16, height: 16 }, 95);
  put(root, 'n02018207_American_coot/b.JPEG', await jpg(100));
  put(root, 'n02018207_American_coot/a.JPEG', await jpg(110));
  put(root, 'n01440764_tench/z.JPEG', await jpg(120));
  put(root, 'n01440764_tench/notes.txt', 'not an image');
  put(root, 'n01530575_brambling/c.png', encodePng(new Uint8Array(16 * 16 * 3).fill(130), 16, 16, 3));
  // a ground-truth mask next to one image
  const m = new Uint8Array(16 * 16);
  m.fill(255, 0, 8 * 16);
  put(root, 'n01530575_brambling/c_mask.png', encodePng(m, 16, 16, 1));
  return root;
}

test('synset folder names: synset id + label text, sorted order, ImageFolder-style class indices', async () => {
  assert.deepEqual(parseClassFolder('n02018207_American_coot'), { key: 'n02018207', synset: 'n02018207', text: 'American coot' });
  assert.deepEqual(parseClassFolder('n01440764'), { key: 'n01440764', synset: 'n01440764', text: 'n01440764' });
  assert.deepEqual(parseClassFolder('golden_retriever'), { key: 'golden_retriever', text: 'golden retriever' });
  const root = await imagenetLike();
  try {
    const ds = await openDataset({ kind: 'folder', root, masks: { pattern: '{dir}/{name}_mask.png' } });
    assert.deepEqual(ds.items.map((i) => i.id), [
      'n01440764_tench/z.JPEG',
      'n01530575_brambling/c.png',
      'n02018207_American_coot/a.JPEG',
      'n02018207_American_coot/b.JPEG',
    ]);
    assert.deepEqual(ds.classNames, ['tench', 'brambling', 'American coot']);
    const coot = ds.items[2];
    assert.deepEqual([coot.label, coot.labelName, coot.synset], [2, 'American coot', 'n02018207']);
    assert.equal(coot.path, join(root, 'n02018207_American_coot/a.JPEG'));
    // the mask file is not an image item; its image has maskPath
    assert.equal(ds.items[1].maskPath, join(root, 'n01530575_brambling/c_mask.png'));
    assert.equal(ds.items[0].maskPath, undefined);
    const mask = await loadItemMask(ds.items[1], 4, 4);
    assert.deepEqual(Array.from(mask!), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    // images load normalised, in a batch, in order
    const t = await loadImage(ds.items[1], SPEC);
    assert.ok(Math.abs(t[0] - 130 / 255) < 1e-6);
    const batch = await loadImages(ds.items, SPEC);
    assert.deepEqual(batch.shape, [4, 3, 8, 8]);
    assert.ok(Math.abs(batch.data[3 * 64 * 3] - 100 / 255) < 0.03);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a class list fixes the class indices (model output order); unknown classes are a ConfigError', async () => {
  assert.deepEqual(parseClassList('# comment\nn01440764 tench, Tinca tinca\nn01530575\ngoldfish\n'), [
    { synset: 'n01440764', name: 'tench' },
    { synset: 'n01530575', name: 'n01530575' },
    { name: 'goldfish' },
  ]);
  const root = await imagenetLike();
  try {
    put(root, 'classes.txt', 'n02018207 American coot\nn09999999 other\nn01440764 tench, Tinca tinca\nn01530575 brambling\n');
    const ds = await openDataset({ kind: 'folder', root, classes: 'classes.txt', images: '**/*.{JPEG,png}' });
    assert.deepEqual(ds.classNames, ['American coot', 'other', 'tench', 'brambling']);
    const byId = Object.fromEntries(ds.items.map((i) => [i.id, i.label]));
    assert.equal(byId['n02018207_American_coot/a.JPEG'], 0);
    assert.equal(byId['n01440764_tench/z.JPEG'], 2);
    assert.equal(byId['n01530575_brambling/c.png'], 3);
    put(root, 'classes2.txt', 'n02018207 American coot\n');
    await assert.rejects(
      openDataset({ kind: 'folder', root, classes: 'classes2.txt' }),
      (e: unknown) => e instanceof ConfigError && /class 'n01440764'/.test(e.message) && /classes2\.txt/.test(e.message),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('labels from a CSV (class names or indices); the CSV may define the item list', async () => {
  const root = mkdtempSync(join(os.tmpdir(), 'xai-folder-'));
  try {
    for (const n of ['x1.png', 'x2.png', 'x3.png']) put(root, `imgs/${n}`, encodePng(new Uint8Array(12).fill(7), 2, 2, 3));
    put(root, 'labels.csv', 'file,cls\nimgs/x2.png,dog\nimgs/x1.png,cat\nimgs/x3.png,"dog"\n');
    const ds = await openDataset({ kind: 'folder', root, labels: { from: 'csv', csv: 'labels.csv', imageColumn: 'file', labelColumn: 'cls' } });
    assert.deepEqual(ds.items.map((i) => [i.id, i.label, i.labelName]), [
      ['imgs/x1.png', 0, 'cat'],
      ['imgs/x2.png', 1, 'dog'],
      ['imgs/x3.png', 1, 'dog'],
    ]);
    put(root, 'idx.csv', 'image,label\nimgs/x1.png,3\nimgs/x2.png,0\nimgs/missing.png,1\n');
    const ds2 = await openDataset({ kind: 'folder', root, labels: { from: 'csv', csv: 'idx.csv' } });
    assert.deepEqual(ds2.items.map((i) => [i.id, i.label]), [
      ['imgs/missing.png', 1],
      ['imgs/x1.png', 3],
      ['imgs/x2.png', 0],
    ]);
    // the missing image is an item-level error naming the item and the file
    await assert.rejects(loadImage(ds2.items[0], SPEC), (e: unknown) => e instanceof ItemError && e.item === 'imgs/missing.png' && e.message.includes(join(root, 'imgs/missing.png')) && /not found/.test(e.message));
    // an undecodable image too
    put(root, 'imgs/broken.png', 'garbage');
    put(root, 'idx2.csv', 'image,label\nimgs/broken.png,0\n');
    const ds3 = await openDataset({ kind: 'folder', root, labels: { from: 'csv', csv: 'idx2.csv' } });
    await assert.rejects(loadImages(ds3.items, SPEC), (e: unknown) => e instanceof ItemError && e.item === 'imgs/broken.png' && /cannot decode/.test(e.message));
    // settled form: good items load, bad ones are reported one by one
    const settled = await loadImagesSettled([...ds2.items, ...ds3.items], SPEC);
    assert.equal(settled.ok, 2);
    assert.deepEqual(settled.errors.map((e) => e?.item), ['imgs/missing.png', undefined, undefined, 'imgs/broken.png']);
    assert.ok(Math.abs(settled.batch.data[64 * 3] - 7 / 255) < 1e-6);
    // a CSV row with the wrong column count
    put(root, 'bad.csv', 'image,label\nimgs/x1.png,1,extra\n');
    await assert.rejects(
      openDataset({ kind: 'folder', root, labels: { from: 'csv', csv: 'bad.csv' } }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`${join(root, 'bad.csv')}:2`) && /3 fields, expected 2/.test(e.message),
    );
    // an image without a CSV row
    await assert.rejects(
      openDataset({ kind: 'folder', root, images: 'imgs/x*.png', labels: { from: 'csv', csv: 'idx2.csv' } }),
      (e: unknown) => e instanceof ConfigError && /imgs\/x1\.png' has no row/.test(e.message),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('subset: first N and a seeded sample (deterministic, dataset order kept)', async () => {
  const root = mkdtempSync(join(os.tmpdir(), 'xai-folder-'));
  try {
    for (let i = 0; i < 30; i++) put(root, `c${i % 3}/img${String(i).padStart(2, '0')}.png`, encodePng(new Uint8Array(3), 1, 1, 3));
    const all = await openDataset({ kind: 'folder', root });
    assert.equal(all.items.length, 30);
    const first = await openDataset({ kind: 'folder', root, subset: { first: 5 } });
    assert.deepEqual(first.items, all.items.slice(0, 5));
    const s1 = await openDataset({ kind: 'folder', root, subset: { sample: 7, seed: 1 } });
    const s1b = await openDataset({ kind: 'folder', root, subset: { sample: 7, seed: 1 } });
    const s2 = await openDataset({ kind: 'folder', root, subset: { sample: 7, seed: 2 } });
    assert.equal(s1.items.length, 7);
    assert.deepEqual(s1.items, s1b.items);
    assert.notDeepEqual(s1.items.map((i) => i.id), s2.items.map((i) => i.id));
    const pos = s1.items.map((it) => all.items.findIndex((a) => a.id === it.id));
    assert.deepEqual(pos, [...pos].sort((a, b) => a - b));
    await assert.rejects(openDataset({ kind: 'folder', root, subset: { first: 0 } }), ConfigError);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('bad folder configs: glob matching nothing, missing root, image outside a class folder, required mask missing, unknown kind', async () => {
  const root = mkdtempSync(join(os.tmpdir(), 'xai-folder-'));
  try {
    put(root, 'a/1.png', encodePng(new Uint8Array(3), 1, 1, 3));
    await assert.rejects(
      openDataset({ kind: 'folder', root, images: '**/*.jpg' }, { where: 'configs/datasets/x.yaml' }),
      (e: unknown) => e instanceof ConfigError && /no files match '\*\*\/\*\.jpg'/.test(e.message) && e.message.includes(root) && e.message.startsWith('configs/datasets/x.yaml'),
    );
    await assert.rejects(openDataset({ kind: 'folder', root: join(root, 'nope') }), (e: unknown) => e instanceof ConfigError && /not a directory/.test(e.message));
    put(root, 'top.png', encodePng(new Uint8Array(3), 1, 1, 3));
    await assert.rejects(openDataset({ kind: 'folder', root }), (e: unknown) => e instanceof ConfigError && /'top\.png' is not inside a class folder/.test(e.message));
    const unl = await openDataset({ kind: 'folder', root, labels: { from: 'none' } });
    assert.deepEqual(unl.items.map((i) => [i.id, i.label]), [['a/1.png', undefined], ['top.png', undefined]]);
    await assert.rejects(
      openDataset({ kind: 'folder', root, images: 'a/*.png', masks: { pattern: 'masks/{path}.png', required: true } }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(join(root, 'masks/a/1.png')),
    );
    await assert.rejects(openDataset({ kind: 'zip', root } as never), (e: unknown) => e instanceof ConfigError && /unknown dataset kind 'zip'/.test(e.message));
    assert.equal(maskPathFor('masks/{path}_{ext}.png', 'a/b/c.jpg'), 'masks/a/b/c_jpg.png');
    assert.equal(maskPathFor('{dir}/{name}.mask.png', 'c.jpg'), 'c.mask.png');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
