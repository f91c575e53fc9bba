import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { generateShapes, renderShapes, SHAPE_CLASSES, shapesConcepts } from '../../src/data/synth/shapes.ts';
import { isBroden, loadItemMask, openDataset } from '../../src/data/index.ts';
import { decodeImage, decodeRawPixels } from '../../src/image/io.ts';
import { ConfigError } from '../../src/engine/errors.ts';
import { Rng } from '../../src/data/prng.ts';
import type { BrodenItem } from '../../src/data/types.ts';

const tmp = () => mkdtempSync(join(os.tmpdir(), 'xai-synth-'));

function digest(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), r);
      else out.set(r, createHash('sha256').update(readFileSync(join(d, e.name))).digest('hex'));
    }
  };
  walk(dir, '');
  return out;
}

test('PRNG: xoshiro128** streams are deterministic, seed-dependent and uniform enough', () => {
  const a = new Rng(42, 7);
  const b = new Rng(42, 7);
  const xs = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.nextU32()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, (_, i, r = new Rng(42, 8)) => r.nextU32()));
  assert.notEqual(new Rng(1).nextU32(), new Rng(2 ** 32 + 1).nextU32());
  const r = new Rng(3);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 6000; i++) counts[r.int(6)]++;
  for (const c of counts) assert.ok(c > 850 && c < 1150, `int(6) counts ${counts}`);
});

test('same seed → byte-identical files; another seed → different images', async () => {
  const [a, b, c] = [tmp(), tmp(), tmp()];
  try {
    // one thread vs 2 worker threads (5 chunks): the same bytes
    await generateShapes(a, { count: 40, size: 24, seed: 5, workers: 1 });
    await generateShapes(b, { count: 40, size: 24, seed: 5, workers: 2, chunkSize: 8 });
    await generateShapes(c, { count: 12, size: 24, seed: 6 });
    const da = digest(a);
    const db = digest(b);
    assert.equal(da.size, 10 + 40 * 4); // index, label, category, 4 c_*, classes, labels, dataset.json + 4 files per item
    assert.deepEqual(da, db);
    const dc = digest(c);
    assert.notEqual(da.get('images/shapes/000003.png'), dc.get('images/shapes/000003.png'));
    // a non-empty directory is refused without force
    await assert.rejects(generateShapes(a, { count: 1, size: 24, seed: 5 }), /not empty/);
    await generateShapes(a, { count: 3, size: 24, seed: 5, force: true });
    assert.equal(existsSync(join(a, 'images/shapes/000005.png')), false, 'force clears the old files');
    assert.equal(digest(a).get('images/shapes/000001.png'), db.get('images/shapes/000001.png'), 'an image depends only on (seed, index)');
  } finally {
    for (const d of [a, b, c]) rmSync(d, { recursive: true, force: true });
  }
});

test('the generated Broden dataset: vocabulary, labels, masks at half resolution, ground truth of the main object', async () => {
  const root = tmp();
  try {
    const res = await generateShapes(root, { count: 10, size: 64, seed: 11, valFraction: 0.2 });
    const ds = await openDataset(res.ref);
    assert.ok(isBroden(ds));
    if (!isBroden(ds)) return;
    assert.deepEqual(ds.categories, ['color', 'object', 'scene', 'texture']);
    assert.deepEqual(ds.classNames, [...SHAPE_CLASSES]);
    assert.equal(ds.concepts.length, shapesConcepts().length);
    assert.deepEqual(ds.maskSize, { height: 32, width: 32 });
    assert.deepEqual(ds.items.map((i) => i.split), [...Array(8).fill('train'), 'val', 'val']);
    const labelsCsv = readFileSync(join(root, 'labels.csv'), 'utf8').trim().split('\n');
    assert.equal(labelsCsv[0], 'image,split,label,label_name,gt_mask');
    assert.equal(labelsCsv.length, 11);
    const conceptId = (cat: string, name: string) => ds.concepts.find((c) => c.category === cat && c.name === name)!.id;
    for (let i = 0; i < ds.items.length; i++) {
      const item: BrodenItem = ds.items[i];
      const r = renderShapes(11, i, 64);
      const main = r.objects[r.main];
      // classification label = the main object's shape, in the index and labels.csv
      assert.equal(item.label, SHAPE_CLASSES.indexOf(main.cls));
      assert.equal(item.labelName, main.cls);
      assert.equal(labelsCsv[i + 1].split(',')[2], String(item.label));
      // the image is the rendering
      const img = await decodeImage(item.path);
      assert.deepEqual(img.data, r.rgb);
      // full-resolution ground truth = visible pixels of the main object
      const gt = await loadItemMask(item, 64, 64);
      const expect = r.objectMap.map((v) => (v === r.main + 1 ? 1 : 0));
      assert.deepEqual(gt, expect);
      // the main object is the largest visible and frontmost: nothing covers it
      const visible = new Array(r.objects.length).fill(0);
      for (const v of r.objectMap) if (v) visible[v - 1]++;
      for (let k = 0; k < r.objects.length - 1; k++) assert.ok(visible[r.main] > visible[k]);
      assert.ok(r.objects[r.main].r > Math.max(0, ...r.objects.filter((o) => !o.main).map((o) => o.r)));
      // Broden labels
      const l = await ds.readLabels(item);
      assert.equal(l.height, 32);
      assert.deepEqual(l.image.scene, [conceptId('scene', r.scene)]);
      assert.deepEqual(l.image.texture, [conceptId('texture', r.texture)]);
      const obj = l.pixel.object[0];
      const col = l.pixel.color[0];
      for (let p = 0; p < 32 * 32; p++) {
        const o = r.objectMapSmall[p];
        if (o) {
          assert.equal(obj[p], conceptId('object', r.objects[o - 1].cls));
          assert.equal(col[p], conceptId('color', r.objects[o - 1].color));
        } else {
          assert.equal(obj[p], 0);
          assert.equal(ds.concept(col[p])!.category, 'color');
        }
      }
      // the half-resolution object mask agrees with the full-resolution one sampled at the same points
      let agree = 0;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) agree += (r.objectMapSmall[y * 32 + x] === r.main + 1) === (r.objectMap[(2 * y + 1) * 64 + 2 * x + 1] === r.main + 1) ? 1 : 0;
      assert.ok(agree >= 32 * 32 * 0.93, `mask agreement ${agree}`);
    }
    // frequencies in label.csv count the images carrying each label
    const scenes = ds.concepts.filter((c) => c.category === 'scene');
    assert.equal(scenes.reduce((s, c) => s + c.frequency, 0), 10);
    // the raw mask encoding is R + 256·G
    const raw = await decodeRawPixels(ds.items[0].masks.object[0]);
    assert.equal(raw.channels, 3);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('class balance and variety over many renders (no files)', () => {
  const classes = new Map<string, number>();
  const colors = new Map<string, number>();
  const nObj = new Map<number, number>();
  const scenes = new Set<string>();
  const textures = new Set<string>();
  for (let i = 0; i < 600; i++) {
    const r = renderShapes(3, i, 32);
    const m = r.objects[r.main];
    classes.set(m.cls, (classes.get(m.cls) ?? 0) + 1);
    colors.set(m.color, (colors.get(m.color) ?? 0) + 1);
    nObj.set(r.objects.length, (nObj.get(r.objects.length) ?? 0) + 1);
    scenes.add(r.scene);
    textures.add(r.texture);
    // the main object lies inside the image
    assert.ok(m.cx - 1.15 * m.r >= -1e-9 && m.cx + 1.15 * m.r <= 32 + 1e-9);
  }
  assert.equal(classes.size, 6);
  for (const v of classes.values()) assert.ok(v > 60, `classes ${[...classes]}`);
  assert.equal(colors.size, 8);
  assert.deepEqual([...nObj.keys()].sort(), [1, 2, 3]);
  assert.equal(scenes.size, 5);
  assert.equal(textures.size, 5);
  // colour is independent of the class: each class shows at least 6 colours as main object over 600 images
  const perClass = new Map<string, Set<string>>();
  for (let i = 0; i < 600; i++) {
    const r = renderShapes(3, i, 32);
    const m = r.objects[r.main];
    if (!perClass.has(m.cls)) perClass.set(m.cls, new Set());
    perClass.get(m.cls)!.add(m.color);
  }
  for (const [cls, s] of perClass) assert.ok(s.size >= 6, `${cls}: ${[...s]}`);
});

test('synth-dataset stage writes the dataset into its output dir and records meta.dataset', async () => {
  const out = tmp();
  try {
    const stage = (await import('../../stages/synth-dataset.ts')).default;
    const metas: Record<string, unknown> = {};
    const tables: Record<string, number> = {};
    let progressed = 0;
    const ctx = {
      params: { count: 6, size: 32, seed: 2, valFraction: 0, maxObjects: 2 },
      out: {
        path: (p: string) => join(out, p),
        meta: (k: string, v: unknown) => void (metas[k] = v),
        table: async (name: string, t: { numRows: number }) => void (tables[name] = t.numRows),
        file: async () => undefined,
      },
      progress: () => void progressed++,
      log: { info: () => undefined, warn: () => undefined, debug: () => undefined },
      signal: new AbortController().signal,
    };
    await stage.run(ctx as never);
    assert.deepEqual(metas.dataset, { kind: 'broden', root: join(out, 'dataset'), name: 'shapes' });
    assert.deepEqual(metas.classes, [...SHAPE_CLASSES]);
    assert.equal(tables.items, 6);
    assert.ok(progressed > 0);
    const ds = await openDataset(metas.dataset as never);
    assert.equal(ds.items.length, 6);
    assert.ok(ds.items.every((i) => i.split === 'train'));
    for (let i = 0; i < 6; i++) assert.ok(renderShapes(2, i, 32, 2).objects.length <= 2);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('dataset stage: a folder config (with config: file) → listing + meta.dataset; check() rejects bad configs', async () => {
  const root = tmp();
  try {
    const { encodePng } = await import('../../src/image/io.ts');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(root, 'data', 'n01440764_tench'), { recursive: true });
    writeFileSync(join(root, 'data', 'n01440764_tench', 'a.png'), encodePng(new Uint8Array(8 * 8 * 3), 8, 8, 3)); // the smallest accepted size
    writeFileSync(join(root, 'ds.yaml'), 'kind: folder\nroot: data\nimages: "**/*.png"\n');
    const stage = (await import('../../stages/dataset.ts')).default;
    const metas: Record<string, unknown> = {};
    const ctx = {
      stageId: 'images',
      projectRoot: root,
      params: { config: 'ds.yaml' },
      out: {
        path: (p: string) => join(root, 'out', p),
        meta: (k: string, v: unknown) => void (metas[k] = v),
        table: async () => undefined,
        file: async () => undefined,
      },
      progress: () => undefined,
      log: { info: () => undefined, warn: () => undefined, debug: () => undefined },
      signal: new AbortController().signal,
    };
    mkdirSync(join(root, 'out'));
    await stage.check!(ctx.params as never, { projectRoot: root, stageId: 'images', where: 'p.yaml' });
    await stage.run(ctx as never);
    const ref = metas.dataset as { kind: string; root: string; listing: string };
    assert.equal(ref.kind, 'folder');
    assert.equal(ref.root, join(root, 'data'));
    assert.equal(metas.count, 1);
    const ds = await openDataset(ref as never);
    assert.deepEqual(ds.items.map((i) => [i.id, i.labelName, i.synset]), [['n01440764_tench/a.png', 'tench', 'n01440764']]);
    assert.deepEqual(stage.reads!({ config: join(root, 'ds.yaml') } as never), [join(root, 'ds.yaml'), 'data']);
    await assert.rejects(stage.check!({ kind: 'folder' } as never, { projectRoot: root, stageId: 'x', where: 'p.yaml' }), (e: unknown) => e instanceof ConfigError && /needs 'root'/.test(e.message));
    await assert.rejects(stage.check!({ root: 'nope' } as never, { projectRoot: root, stageId: 'x', where: 'p.yaml' }), (e: unknown) => e instanceof ConfigError && /not found/.test(e.message));
    await assert.rejects(stage.check!({ kind: 'broden', root: 'data', images: '*.png' } as never, { projectRoot: root, stageId: 'x', where: 'p.yaml' }), ConfigError);
    await assert.rejects(
      stage.run({ ...ctx, params: { root: 'data', images: '*.jpg' } } as never),
      (e: unknown) => e instanceof ConfigError && /no files match/.test(e.message),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('xai make-dataset shapes: writes the dataset; usage errors are ConfigErrors', async () => {
  const out = tmp();
  try {
    const cmd = await import('../../src/cli/commands/make-dataset.ts');
    const origWrite = process.stdout.write.bind(process.stdout);
    let printed = '';
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      assert.equal(await cmd.run(['shapes', '--out', out, '--count', '4', '--size', '32', '--seed', '9', '--quiet']), 0);
    } finally {
      process.stdout.write = origWrite;
    }
    assert.match(printed, /wrote 4 images/);
    assert.equal(readFileSync(join(out, 'classes.txt'), 'utf8'), SHAPE_CLASSES.join('\n') + '\n');
    await assert.rejects(cmd.run(['shapes', '--out', out, '--count', '4']), (e: unknown) => e instanceof ConfigError && /not empty/.test(e.message));
    await assert.rejects(cmd.run(['shapes']), (e: unknown) => e instanceof ConfigError && /--out/.test(e.message));
    await assert.rejects(cmd.run(['blobs', '--out', out]), (e: unknown) => e instanceof ConfigError && /unknown dataset 'blobs'/.test(e.message));
    await assert.rejects(cmd.run(['shapes', '--out', out, '--count', '0']), ConfigError);
    await assert.rejects(cmd.run(['shapes', '--out', out, '--size', '8']), ConfigError);
    await assert.rejects(cmd.run(['shapes', '--out', out, '--cout', '3']), (e: unknown) => e instanceof ConfigError && /unknown option '--cout'/.test(e.message));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
