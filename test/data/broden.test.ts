import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ConfigError, ItemError } from '../../src/engine/errors.ts';
import { BrodenWriter, openBroden } from '../../src/data/broden.ts';
import { openDataset, isBroden } from '../../src/data/index.ts';
import { decodeRawPixels, encodePng } from '../../src/image/io.ts';
import type { ItemLabels } from '../../src/data/types.ts';

const tmp = () => mkdtempSync(join(os.tmpdir(), 'xai-broden-'));

/** A Broden dataset with 300 object labels (so label numbers above 255 need the G channel). */
function writeSample(root: string) {
  const concepts = [
    { name: 'red', category: 'color' },
    { name: 'blue', category: 'color' },
    ...Array.from({ length: 300 }, (_, i) => ({ name: `thing${i}`, category: 'object' })),
    { name: 'leg', category: 'part' },
    { name: 'arm', category: 'part' },
    { name: 'beach', category: 'scene' },
    { name: 'street', category: 'scene' },
    { name: 'striped', category: 'texture' },
    { name: 'dotted', category: 'texture' },
  ];
  const w = new BrodenWriter(root, ['color', 'object', 'part', 'scene', 'texture'], concepts);
  const N = (cat: string, name: string) => w.labelNumber(cat, name);
  const sh = 4, sw = 6;
  const maps: Record<string, Uint16Array[]>[] = [];
  for (let k = 0; k < 3; k++) {
    const color = new Uint16Array(sh * sw).map((_, i) => (i % 2 ? N('color', 'red') : N('color', 'blue')));
    const object = new Uint16Array(sh * sw).map((_, i) => (i < 6 ? 0 : i < 12 ? N('object', 'thing4') : N('object', `thing${290 + k}`)));
    const part1 = new Uint16Array(sh * sw).map((_, i) => (i === 7 ? N('part', 'leg') : 0));
    const part2 = new Uint16Array(sh * sw).map((_, i) => (i >= 20 ? N('part', 'arm') : 0));
    const m = { color: [color], object: [object], part: k === 2 ? [] : [part1, part2] };
    maps.push(m);
    w.add({
      image: `ds/img${k}.jpg`,
      imageBytes: encodePng(new Uint8Array(8 * 12 * 3).fill(40 * k), 12, 8, 3),
      split: k === 2 ? 'val' : 'train',
      ih: 8,
      iw: 12,
      sh,
      sw,
      masks: m,
      imageLabels: { scene: [N('scene', k === 0 ? 'beach' : 'street')], texture: k === 1 ? [N('texture', 'striped'), N('texture', 'dotted')] : [] },
    });
  }
  w.finish();
  return { maps, N };
}

test('Broden writer → reader round trip: items, vocabulary, label maps (several masks per category), image-level labels', async () => {
  const root = tmp();
  try {
    const { maps, N } = writeSample(root);
    const ds = openBroden({ kind: 'broden', root });
    assert.deepEqual(ds.categories, ['color', 'object', 'part', 'scene', 'texture']);
    assert.equal(ds.items.length, 3);
    assert.deepEqual(ds.items.map((i) => i.id), ['ds/img0.jpg', 'ds/img1.jpg', 'ds/img2.jpg']);
    assert.equal(ds.items[0].path, join(root, 'images', 'ds/img0.jpg'));
    assert.deepEqual(ds.maskSize, { height: 4, width: 6 });
    assert.equal(ds.items[2].split, 'val');
    // vocabulary: ids, names, categories, frequencies
    assert.equal(ds.concepts.length, 2 + 300 + 2 + 2 + 2);
    const t4 = ds.concept(N('object', 'thing4'))!;
    assert.deepEqual([t4.name, t4.category, t4.frequency], ['thing4', 'object', 3]);
    assert.ok(Math.abs(t4.coverage - 3 * (6 / 24)) < 1e-6);
    assert.equal(ds.concept(N('object', 'thing291'))!.frequency, 1);
    assert.equal(ds.concept(N('object', 'thing0'))!.frequency, 0);
    assert.equal(ds.concept(N('scene', 'street'))!.frequency, 2);
    assert.equal(ds.concept(N('texture', 'dotted'))!.category, 'texture');
    assert.equal(ds.concept(N('part', 'leg'))!.frequency, 2);
    // label maps read back exactly
    const seen: ItemLabels[] = [];
    for await (const l of ds.streamLabels({ prefetch: 2 })) seen.push(l);
    assert.equal(seen.length, 3);
    for (let k = 0; k < 3; k++) {
      const l = seen[k];
      assert.equal(l.item.id, `ds/img${k}.jpg`);
      assert.equal(l.height, 4);
      assert.equal(l.width, 6);
      assert.deepEqual(l.pixel.color, maps[k].color);
      assert.deepEqual(l.pixel.object, maps[k].object);
      if (k < 2) assert.deepEqual(l.pixel.part, maps[k].part);
      else assert.equal(l.pixel.part, undefined);
      assert.deepEqual(l.image.scene, [N('scene', k === 0 ? 'beach' : 'street')]);
    }
    // scene / texture are image-level labels, several allowed
    assert.deepEqual(seen[1].image.texture, [N('texture', 'striped'), N('texture', 'dotted')]);
    assert.equal(seen[0].image.texture, undefined);
    assert.deepEqual(ds.items[1].imageLabels.texture, [N('texture', 'striped'), N('texture', 'dotted')]);
    // the stream can carry the images too (model geometry and normalisation)
    const spec = { height: 4, width: 6, channels: 3, layout: 'NCHW' as const, channelOrder: 'RGB' as const, scale: 1, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
    const withImages: ItemLabels[] = [];
    for await (const l of ds.streamLabels({ image: { spec }, categories: ['scene'] })) withImages.push(l);
    assert.deepEqual(withImages.map((l) => Array.from(l.pixels!.subarray(0, 2))), [[0, 0], [40, 40], [80, 80]]);
    assert.equal(withImages[0].pixels!.length, 3 * 4 * 6);
    // only asked categories are read
    const only = await ds.readLabels(ds.items[0], ['object']);
    assert.deepEqual(Object.keys(only.pixel), ['object']);
    assert.deepEqual(Object.keys(only.image), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('mask PNGs store the label as R + 256·G', async () => {
  const root = tmp();
  try {
    const { N } = writeSample(root);
    const num = N('object', 'thing290');
    assert.ok(num > 255);
    const px = await decodeRawPixels(join(root, 'images', 'ds/img0_object.png'));
    assert.equal(px.channels, 3);
    const i = 20; // a thing290 pixel
    assert.equal(px.data[i * 3], num % 256);
    assert.equal(px.data[i * 3 + 1], Math.floor(num / 256));
    assert.equal(px.data[i * 3 + 2], 0);
    // several masks per category are numbered
    const part2 = await decodeRawPixels(join(root, 'images', 'ds/img0_part_2.png'));
    assert.equal(part2.data[20 * 3] + 256 * part2.data[20 * 3 + 1], N('part', 'arm'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** A dataset written by hand in NetDissect's layout (no category.csv, a grey mask, label.csv with a 0 row). */
function handWritten(root: string, opts: { maskValue?: number; indexRows?: string[] } = {}) {
  mkdirSync(join(root, 'images', 'a'), { recursive: true });
  writeFileSync(
    join(root, 'index.csv'),
    ['image,split,ih,iw,sh,sw,color,object,scene,texture', ...(opts.indexRows ?? ['a/1.png,train,4,4,2,2,a/1_color.png,a/1_object.png,3,4;5', 'a/2.png,val,4,4,2,2,,a/2_object.png,3,'])].join('\n') + '\n',
  );
  writeFileSync(
    join(root, 'label.csv'),
    'number,name,category,frequency,coverage,syns\n0,-,,0,0,\n1,red-c,color(1),1,1.0,\n2,dog,object(2);part(1),2,0.5,canine;hound\n3,"street, city",scene(2),2,2.0,\n4,striped,texture(1),1,1.0,\n5,dotted,texture(1),1,1.0,\n513,cat,object(1),1,0.25,\n',
  );
  writeFileSync(join(root, 'c_object.csv'), 'code,number,name,frequency,coverage\n1,2,dog,2,0.5\n2,513,cat,1,0.25\n');
  writeFileSync(join(root, 'images', 'a', '1.png'), encodePng(new Uint8Array(48).fill(9), 4, 4, 3));
  writeFileSync(join(root, 'images', 'a', '2.png'), encodePng(new Uint8Array(48).fill(9), 4, 4, 3));
  // color mask as a 1-channel PNG (label value = grey)
  writeFileSync(join(root, 'images', 'a', '1_color.png'), encodePng(new Uint8Array([1, 0, opts.maskValue ?? 1, 1]), 2, 2, 1));
  // object mask: 513 = R 1, G 2
  writeFileSync(join(root, 'images', 'a', '1_object.png'), encodePng(new Uint8Array([2, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0]), 2, 2, 3));
  writeFileSync(join(root, 'images', 'a', '2_object.png'), encodePng(new Uint8Array([2, 0, 0, 2, 0, 0, 2, 0, 0, 0, 0, 0]), 2, 2, 3));
}

test('reads a NetDissect-layout directory unchanged (quoted names, no category.csv, grey masks, label 513 = R 1 + 256·G 2)', async () => {
  const root = tmp();
  try {
    handWritten(root);
    const ds = await openDataset({ kind: 'broden', root });
    assert.ok(isBroden(ds));
    if (!isBroden(ds)) return;
    assert.deepEqual(ds.categories, ['color', 'object', 'scene', 'texture']);
    assert.equal(ds.concept(3)!.name, 'street, city');
    const dog = ds.concept(2)!;
    assert.deepEqual(dog.categories, ['object', 'part']);
    assert.equal(dog.category, 'object');
    assert.equal(ds.concept(513)!.category, 'object');
    const l = await ds.readLabels(ds.items[0]);
    assert.deepEqual(Array.from(l.pixel.object[0]), [2, 513, 0, 0]);
    assert.deepEqual(Array.from(l.pixel.color[0]), [1, 0, 1, 1]);
    assert.deepEqual(l.image.scene, [3]);
    assert.deepEqual(l.image.texture, [4, 5]);
    const l2 = await ds.readLabels(ds.items[1]);
    assert.equal(l2.pixel.color, undefined);
    assert.equal(l2.image.texture, undefined);
    // split and subset
    const val = openBroden({ kind: 'broden', root, split: 'val' });
    assert.deepEqual(val.items.map((i) => i.id), ['a/2.png']);
    const first = openBroden({ kind: 'broden', root, subset: { first: 1 } });
    assert.deepEqual(first.items.map((i) => i.id), ['a/1.png']);
    const cats = openBroden({ kind: 'broden', root, categories: ['object'] });
    assert.deepEqual(cats.categories, ['object']);
    assert.deepEqual(Object.keys((await cats.readLabels(cats.items[0])).pixel), ['object']);
    assert.throws(() => openBroden({ kind: 'broden', root, categories: ['material'] }), (e: unknown) => e instanceof ConfigError && /category 'material'/.test(e.message));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a mask with an unknown label: ItemError naming the mask file, the pixel and the label', async () => {
  const root = tmp();
  try {
    handWritten(root, { maskValue: 77 });
    const ds = openBroden({ kind: 'broden', root });
    await assert.rejects(ds.readLabels(ds.items[0]), (e: unknown) => {
      assert.ok(e instanceof ItemError);
      assert.equal(e.item, 'a/1.png');
      assert.match(e.message, /1_color\.png/);
      assert.match(e.message, /label 77/);
      assert.match(e.message, /not in label\.csv/);
      return true;
    });
    // the stream surfaces the same error for that item
    await assert.rejects(async () => {
      for await (const _ of ds.streamLabels()) void _;
    }, /label 77/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('index row with the wrong column count: ConfigError naming index.csv and the line', () => {
  const root = tmp();
  try {
    handWritten(root, { indexRows: ['a/1.png,train,4,4,2,2,a/1_color.png,a/1_object.png,3,4', 'a/2.png,val,4,4,2,2,a/2_object.png,3,'] });
    assert.throws(
      () => openBroden({ kind: 'broden', root }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`${join(root, 'index.csv')}:3`) && /9 fields, expected 10/.test(e.message),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('other malformed Broden input: bad integers, unknown image-level labels, missing files, wrong mask size', async () => {
  const root = tmp();
  try {
    handWritten(root, { indexRows: ['a/1.png,train,four,4,2,2,,a/1_object.png,3,4'] });
    assert.throws(() => openBroden({ kind: 'broden', root }), (e: unknown) => e instanceof ConfigError && /index\.csv:2/.test(e.message) && /'ih' is 'four'/.test(e.message));
    handWritten(root, { indexRows: ['a/1.png,train,4,4,2,2,,a/1_object.png,99,4'] });
    assert.throws(() => openBroden({ kind: 'broden', root }), (e: unknown) => e instanceof ConfigError && /image-level label 99/.test(e.message));
    // a missing mask file and a mask of the wrong size are item errors
    handWritten(root, { indexRows: ['a/1.png,train,4,4,2,2,a/missing.png,,3,', 'a/2.png,train,4,4,3,3,,a/2_object.png,3,'] });
    const ds = openBroden({ kind: 'broden', root });
    await assert.rejects(ds.readLabels(ds.items[0]), (e: unknown) => e instanceof ItemError && /missing\.png/.test(e.message) && /not found/.test(e.message));
    await assert.rejects(ds.readLabels(ds.items[1]), (e: unknown) => e instanceof ItemError && /2_object\.png: mask is 2×2/.test(e.message) && /3×3/.test(e.message));
    // no index at all
    rmSync(join(root, 'index.csv'));
    assert.throws(() => openBroden({ kind: 'broden', root }), (e: unknown) => e instanceof ConfigError && /index\.csv/.test(e.message));
    assert.throws(() => openBroden({ kind: 'broden', root: join(root, 'nope') }), (e: unknown) => e instanceof ConfigError && /not found/.test(e.message));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
