// Network Dissection stages end to end on a hand-built case: a tiny Broden-format dataset (16×16 images, 8×8 masks,
// categories color / object / scene) and a tiny ONNX model whose units are the images' red and green channels
// average-pooled to 8×8 ('fine': equal to the colour masks) and to 4×4 ('coarse': bilinearly upsampled to the masks).
// Checks: the red / green units are labelled red / green with IoU 1; thresholds equal a brute-force np.percentile;
// every (unit, category) count I, A, G equals an independent dense implementation of NetDissect-Lite's rule;
// top images; float16 storage; resume after an interruption; concept-stats and compare-concepts outputs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Table } from 'apache-arrow';
import { BrodenWriter } from '../../src/data/broden.ts';
import { encodePngSync } from '../../src/image/png.ts';
import { GraphBuilder } from '../../src/model/onnx/builder.ts';
import { analyze } from '../../src/engine/analyze.ts';
import { executePlan } from '../../src/engine/runner.ts';
import { EventBus } from '../../src/engine/events.ts';
import { ArtifactStore } from '../../src/engine/cache.ts';
import { readArrowFile } from '../../src/arrow/io.ts';
import { closeModels } from '../../src/model/index.ts';
import { resizePil } from '../../src/algo/resize.ts';
import { percentileExact } from '../../src/algo/dissect/index.ts';
import { readPart, featureIndex, toHalf, halfTable } from '../../src/explain/dissect/store.ts';

const repo = resolve(import.meta.dirname, '..', '..');
const S = 16; // image side
const M = 8; // mask side
const N = 12; // images
const Q = 0.3; // quantile: above the red / green coverage, so T = 0 for the 'fine' units

let dir = '';
interface Img {
  red: [number, number, number, number]; // block rectangle [y0, x0, y1, x1) in mask (8×8) coordinates
  green: [number, number, number, number] | null;
  scene: 'indoor' | 'outdoor';
}
const imgs: Img[] = [];

function rnd(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** Blue channel: a pixel-varying pattern, so unit 2 (blue) has non-trivial thresholds and low IoUs. */
const blue = (i: number, py: number, px: number) => ((px * 13 + py * 7 + i * 29) % 200) + 20;

function writeDataset(root: string): void {
  const r = rnd(3);
  const w = new BrodenWriter(root, ['color', 'object', 'scene'], [
    { name: 'red', category: 'color' },
    { name: 'green', category: 'color' },
    { name: 'thing', category: 'object' },
    { name: 'indoor', category: 'scene' },
    { name: 'outdoor', category: 'scene' },
  ]);
  for (let i = 0; i < N; i++) {
    // red in the left half (columns 0..3), green in the right half (4..7), each 1–2 blocks high and wide
    const ry = Math.floor(r() * 6), rx = Math.floor(r() * 3), rh = 1 + Math.floor(r() * 2), rw = 1 + Math.floor(r() * 2);
    const hasGreen = i % 3 !== 2;
    const gy = Math.floor(r() * 6), gx = 4 + Math.floor(r() * 3), gh = 1 + Math.floor(r() * 2), gw = 1 + Math.floor(r() * 2);
    const im: Img = { red: [ry, rx, ry + rh, Math.min(4, rx + rw)], green: hasGreen ? [gy, gx, gy + gh, Math.min(8, gx + gw)] : null, scene: i % 2 ? 'outdoor' : 'indoor' };
    imgs.push(im);
    const rgb = new Uint8Array(S * S * 3);
    const color = new Uint16Array(M * M);
    const object = new Uint16Array(M * M);
    const inR = (y: number, x: number, b: number[] | null) => b !== null && y >= b[0] && y < b[2] && x >= b[1] && x < b[3];
    for (let y = 0; y < M; y++) {
      for (let x = 0; x < M; x++) {
        const red = inR(y, x, im.red);
        const green = inR(y, x, im.green);
        if (red) color[y * M + x] = w.labelNumber('color', 'red');
        if (green) color[y * M + x] = w.labelNumber('color', 'green');
        if (red || green) object[y * M + x] = w.labelNumber('object', 'thing');
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const p = ((2 * y + dy) * S + 2 * x + dx) * 3;
            if (red) rgb[p] = 255;
            if (green) rgb[p + 1] = 255;
            rgb[p + 2] = blue(i, 2 * y + dy, 2 * x + dx);
          }
        }
      }
    }
    w.add({
      image: `img/${String(i).padStart(3, '0')}.png`,
      imageBytes: encodePngSync(rgb, S, S, 3),
      split: 'train',
      ih: S,
      iw: S,
      sh: M,
      sw: M,
      masks: { color: [color], object: [object] },
      imageLabels: { scene: [w.labelNumber('scene', im.scene)] },
    });
  }
  w.finish();
}

/** 3 → 3 channels 1×1 conv (unit 0 = R, unit 1 = G, unit 2 = B), average pools to 8×8 ('fine') and 4×4 ('coarse'), GAP + FC head. */
function writeModel(file: string): void {
  const g = new GraphBuilder('tiny_dissect');
  const x = g.input('input', [null, 3, S, S]);
  const wconv = g.initializer('conv.w', Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), [3, 3, 1, 1]);
  const c = g.conv(x, wconv, undefined, {}, 'conv');
  g.averagePool(c, { kernel: [2, 2], strides: [2, 2] }, 'fine');
  g.averagePool(c, { kernel: [4, 4], strides: [4, 4] }, 'coarse');
  const gap = g.globalAveragePool(c, 'gap');
  const f = g.flatten(gap, 1, 'flat');
  const wfc = g.initializer('fc.w', Float32Array.from([1, 0, 0, 0, 1, 0]), [2, 3]);
  g.gemm(f, wfc, undefined, { transB: true }, 'logits');
  g.output('logits', [null, 2]);
  writeFileSync(file, g.encode());
}

function pipeline(): string {
  const st = (k: string) => JSON.stringify(join(repo, 'stages', `${k}.ts`));
  return `name: tinydissect
stages:
  data:
    uses: ${st('dataset')}
    params: { kind: broden, root: ${JSON.stringify(join(dir, 'broden'))} }
  model:
    uses: ${st('load-model')}
    params:
      path: ${JSON.stringify(join(dir, 'tiny.onnx'))}
      layers: { fine: fine, coarse: coarse }
  acts:
    uses: ${st('collect-activations')}
    inputs: { model: model, dataset: data }
    params: { layers: [fine, coarse], batchSize: 2 }
  thresholds:
    uses: ${st('quantile-thresholds')}
    inputs: { activations: acts }
    params: { quantile: ${Q} }
  labels:
    uses: ${st('label-units')}
    inputs: { activations: acts, thresholds: thresholds }
    params: { topN: 3 }
  stats:
    uses: ${st('concept-stats')}
    inputs: { labels: labels }
  compare:
    uses: ${st('compare-concepts')}
    inputs: { a: labels, b: labels }
    params: { layersA: [fine], layersB: [coarse], nameA: fine, nameB: coarse }
`;
}

async function run(sets: string[] = [], onBus?: (bus: EventBus, abort: AbortController) => void, force: string[] = [], workers?: number) {
  const plan = await analyze(join(dir, 'pipelines', 'p.yaml'), { root: dir, sets });
  const bus = new EventBus();
  const ac = new AbortController();
  const errors: string[] = [];
  const computed: string[] = [];
  bus.on((e) => {
    if (e.type === 'stage-failed') errors.push(`${e.stageId}: ${e.error}`);
    if (e.type === 'stage-done') computed.push(e.stageId);
  });
  onBus?.(bus, ac);
  const r = await executePlan(plan, { bus, jobs: 1, signal: ac.signal, force, ...(workers ? { workers } : {}) });
  return { r, errors, computed };
}

const store = () => new ArtifactStore(dir);
function entry(record: any, stage: string): string {
  const s = record.stages[stage];
  return store().entryDir(s.kind, s.key);
}
function table(record: any, stage: string, name: string): Table {
  return readArrowFile(join(entry(record, stage), `${name}.arrow`));
}
function rows(t: Table): Record<string, any>[] {
  return t.toArray().map((r: any) => {
    const o = r.toJSON();
    for (const k of Object.keys(o)) if (o[k] && typeof o[k].toArray === 'function') o[k] = Array.from(o[k].toArray() as ArrayLike<number>);
    return o;
  });
}

// ── reference: activations, thresholds, Lite's counts, computed densely from the known images ────────────────────
function refActs(layer: 'fine' | 'coarse'): { fh: number; maps: Float64Array[][] } {
  const k = layer === 'fine' ? 2 : 4;
  const fh = S / k;
  const out: Float64Array[][] = [];
  for (const [i, im] of imgs.entries()) {
    const planes: Float64Array[] = [];
    for (const unit of [0, 1, 2]) {
      const box = unit === 0 ? im.red : im.green;
      const m = new Float64Array(fh * fh);
      for (let y = 0; y < fh; y++) {
        for (let x = 0; x < fh; x++) {
          let s = 0;
          for (let dy = 0; dy < k; dy++) {
            for (let dx = 0; dx < k; dx++) {
              const py = y * k + dy, px = x * k + dx;
              const by = Math.floor(py / 2), bx = Math.floor(px / 2);
              if (unit === 2) s += blue(i, py, px) / 255;
              else if (box && by >= box[0] && by < box[2] && bx >= box[1] && bx < box[3]) s += 1;
            }
          }
          m[y * fh + x] = s / (k * k);
        }
      }
      planes.push(m);
    }
    out.push(planes);
  }
  return { fh, maps: out };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xai-dissect-stages-'));
  writeDataset(join(dir, 'broden'));
  writeModel(join(dir, 'tiny.onnx'));
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  writeFileSync(join(dir, 'pipelines', 'p.yaml'), pipeline());
});

after(async () => {
  await closeModels();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('tiny Broden + tiny ONNX: red/green units labelled with IoU 1, counts equal a dense Lite reference', async () => {
  const { r, errors } = await run();
  assert.deepEqual(errors, []);
  assert.equal(r.ok, true);
  const rec = r.record;

  // stored maps equal the reference activations
  const acts = entry(rec, 'acts');
  const index = JSON.parse(readFileSync(join(acts, 'maps', 'index.json'), 'utf8'));
  assert.equal(index.images, N);
  assert.deepEqual(index.layers.map((l: any) => [l.layer, l.units, l.height, l.width]), [['fine', 3, 8, 8], ['coarse', 3, 4, 4]]);
  assert.equal(index.parts.length, N / 2);
  const stored: Record<string, Float32Array[][]> = { fine: [], coarse: [] };
  for (const [li, name] of (['fine', 'coarse'] as const).entries()) {
    const ref = refActs(name);
    const l = index.layers[li];
    let seen = 0;
    for (const part of index.parts) {
      const pt = readPart(join(acts, 'maps', l.dir, part.file), l.units, l.height, l.width);
      for (let b = 0; b < pt.images.length; b++) {
        const i = pt.images[b];
        stored[name][i] = [];
        for (let u = 0; u < 3; u++) {
          const want = ref.maps[i][u];
          const off = (b * 3 + u) * want.length;
          for (let j = 0; j < want.length; j++) assert.ok(Math.abs(pt.maps[off + j] - want[j]) < 1e-6, `${name} image ${i} unit ${u} pos ${j}`);
          assert.ok(Math.abs(pt.maxima[b * 3 + u] - Math.max(...want)) < 1e-6);
          stored[name][i][u] = pt.maps.slice(off, off + want.length);
        }
        seen++;
      }
    }
    assert.equal(seen, N);
  }

  // thresholds = brute-force np.percentile(…, 100·(1 − q)) of the stored (float32) values
  const th = rows(table(rec, 'thresholds', 'thresholds'));
  const thr: Record<string, number[]> = { fine: [], coarse: [] };
  for (const name of ['fine', 'coarse'] as const) {
    for (let u = 0; u < 3; u++) {
      const all = stored[name].flatMap((p) => Array.from(p[u]));
      const want = percentileExact(all, Q);
      const got = th.find((t) => t.layer === name && t.unit === u)!.threshold;
      assert.ok(Math.abs(got - want) < 1e-9, `${name} unit ${u}: threshold ${got} vs ${want}`);
      thr[name][u] = got;
    }
  }
  assert.equal(thr.fine[0], 0);
  assert.equal(thr.fine[1], 0);
  assert.ok(thr.fine[2] > 0.5 && thr.coarse[2] > 0.5, `blue thresholds ${thr.fine[2]}, ${thr.coarse[2]}`);

  // labels: fine unit 0 = red (IoU 1), unit 1 = green (IoU 1)
  const units = rows(table(rec, 'labels', 'units'));
  const fine = units.filter((u) => u.layer === 'fine');
  assert.equal(fine[0].label, 'red');
  assert.equal(fine[0].category, 'color');
  assert.ok(Math.abs(fine[0].iou - 1) < 1e-9, `red IoU ${fine[0].iou}`);
  assert.equal(fine[1].label, 'green');
  assert.ok(Math.abs(fine[1].iou - 1) < 1e-9, `green IoU ${fine[1].iou}`);
  assert.equal(fine[0].interpretable, true);
  assert.equal(fine[0].threshold, 0);
  assert.ok(fine[0].object_iou > 0 && fine[0].object_iou < 1);
  assert.equal(fine[0].object_label, 'thing');

  // every (layer, unit, category) best label and I / A / G against a dense reference of Lite's rule
  const cats = ['color', 'object', 'scene'];
  const names = ['-', 'red', 'green', 'thing', 'indoor', 'outdoor'];
  const catOf = [-1, 0, 0, 1, 2, 2];
  const uc = rows(table(rec, 'labels', 'unit_categories'));
  for (const name of ['fine', 'coarse'] as const) {
    const fh = name === 'fine' ? 8 : 4;
    for (let u = 0; u < 3; u++) {
      const T = thr[name][u];
      const I = new Float64Array(6), G = new Float64Array(6), Acat = new Float64Array(3);
      for (let i = 0; i < N; i++) {
        const im = imgs[i];
        const labelsAt = (y: number, x: number): number[] => {
          const inB = (b: number[] | null) => b !== null && y >= b[0] && y < b[2] && x >= b[1] && x < b[3];
          const out: number[] = [];
          if (inB(im.red)) out.push(1);
          if (inB(im.green)) out.push(2);
          if (inB(im.red) || inB(im.green)) out.push(3);
          return out;
        };
        const scalar = im.scene === 'indoor' ? 4 : 5;
        for (let y = 0; y < M; y++) for (let x = 0; x < M; x++) for (const l of labelsAt(y, x)) G[l]++;
        G[scalar] += M * M;
        const map = stored[name][i][u];
        if (!(Math.max(...map) > T)) continue;
        const up = resizePil(map, 1, fh, fh, M, M);
        let a = 0;
        const hitCat = new Set<number>([2]); // the scalar (scene) category always counts
        for (let y = 0; y < M; y++) {
          for (let x = 0; x < M; x++) {
            if (!(up[y * M + x] > T)) continue;
            a++;
            for (const l of labelsAt(y, x)) {
              I[l]++;
              hitCat.add(catOf[l]);
            }
          }
        }
        I[scalar] += a;
        for (const c of hitCat) Acat[c] += a;
      }
      for (const [ci, cat] of cats.entries()) {
        let best = 0, bestIou = 0;
        for (let l = 1; l < 6; l++) {
          if (catOf[l] !== ci) continue;
          const iou = I[l] / (Acat[ci] + G[l] - I[l] + 1e-10);
          if (iou > bestIou) (bestIou = iou), (best = l);
        }
        const row = uc.find((r) => r.layer === name && r.unit === u && r.category === cat)!;
        assert.equal(row.label, names[best], `${name} u${u} ${cat}`);
        assert.ok(Math.abs(row.iou - bestIou) < 1e-12, `${name} u${u} ${cat}: iou ${row.iou} vs ${bestIou}`);
        if (best > 0) {
          assert.equal(row.intersect, I[best]);
          assert.equal(row.truth, G[best]);
          assert.equal(row.activation, Acat[ci]);
        }
      }
    }
  }

  // top images: by per-image max, ties → lower image index
  const top = rows(table(rec, 'labels', 'top_images'));
  for (let u = 0; u < 3; u++) {
    const want = stored.coarse.map((p, i) => ({ i, v: Math.max(...p[u]) })).sort((a, b) => b.v - a.v || a.i - b.i).slice(0, 3);
    const got = top.filter((t) => t.layer === 'coarse' && t.unit === u).sort((a, b) => a.rank - b.rank);
    assert.deepEqual(got.map((g) => g.image), want.map((w) => w.i));
    assert.equal(got[0].id, `img/${String(want[0].i).padStart(3, '0')}.png`);
  }
  const tm = table(rec, 'labels', 'top_maps');
  const tmRows = rows(tm);
  const first = tmRows.find((t) => t.layer === 'coarse' && t.unit === 0 && t.rank === 1)!;
  const wantMap = stored.coarse[first.image][0];
  assert.deepEqual(Array.from(first.map as number[]).map((v) => Math.round(v * 1e6)), Array.from(wantMap).map((v) => Math.round(v * 1e6)));
  assert.ok(readdirSync(entry(rec, 'labels')).some((f) => /^tally-fine\.csv$/.test(f)));
  const csv = readFileSync(join(entry(rec, 'labels'), 'tally-fine.csv'), 'utf8').split('\n');
  assert.match(csv[0], /^unit,category,label,score,color-label,color-truth,color-activation,color-intersect,color-iou,object-label/);

  // concept-stats: fine → red 1, green 1, and the blue unit's label (low IoU, not a colour)
  const blueUnit = fine[2];
  assert.notEqual(blueUnit.category, 'color');
  assert.ok(blueUnit.iou < 0.5, `blue unit IoU ${blueUnit.iou}`);
  const wantFine = new Map<string, number>([['red', 1], ['green', 1]]);
  if (blueUnit.interpretable) wantFine.set(blueUnit.label, (wantFine.get(blueUnit.label) ?? 0) + 1);
  const cc = rows(table(rec, 'stats', 'concept_counts')).filter((r) => r.layer === 'fine');
  assert.deepEqual(cc.map((r) => [r.concept, r.units]).sort(), [...wantFine].sort());
  const ls = rows(table(rec, 'stats', 'layer_summary'));
  assert.equal(ls.find((r) => r.layer === 'fine')!.interpretable, 2 + (blueUnit.interpretable ? 1 : 0));
  assert.equal(ls.find((r) => r.layer === 'fine')!.unique_concepts, wantFine.size);
  const statsDir = entry(rec, 'stats');
  for (const f of ['histogram-fine.svg', 'histogram-coarse.svg', 'categories.svg', 'unique-concepts.svg']) {
    assert.match(readFileSync(join(statsDir, f), 'utf8'), /^<svg/, f);
  }

  // compare-concepts: fine vs coarse layer of the same dissection
  const coarseConcepts = new Set(units.filter((u) => u.layer === 'coarse' && u.interpretable).map((u) => u.label));
  const cmp = rows(table(rec, 'compare', 'concepts'));
  for (const c of cmp) {
    const inA = wantFine.has(c.concept);
    const inB = coarseConcepts.has(c.concept);
    assert.equal(c.status, inA && inB ? 'shared' : inA ? 'only_a' : 'only_b', c.concept);
  }
  assert.equal(cmp.length, new Set([...wantFine.keys(), ...coarseConcepts]).size);
  assert.match(readFileSync(join(entry(rec, 'compare'), 'overlap.svg'), 'utf8'), /shared/);
});

test('float16 maps: values rounded to binary16, thresholds of the rounded values', async () => {
  const { r, errors } = await run(['stages.acts.dtype=float16']);
  assert.deepEqual(errors, []);
  const acts = entry(r.record, 'acts');
  const index = JSON.parse(readFileSync(join(acts, 'maps', 'index.json'), 'utf8'));
  assert.equal(index.dtype, 'float16');
  const ref = refActs('coarse');
  const l = index.layers[1];
  const pt = readPart(join(acts, 'maps', l.dir, index.parts[0].file), 3, 4, 4);
  const lut = halfTable();
  for (let j = 0; j < 16; j++) assert.equal(pt.maps[j], lut[toHalf(ref.maps[pt.images[0]][0][j])]);
  // binary16 round-to-nearest-even spot checks
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(1 / 3), 0x3555);
  assert.equal(toHalf(65520), 0x7c00); // rounds to +inf
  assert.equal(toHalf(-2.0009765625), 0xc000); // tie → even
  assert.equal(lut[toHalf(0.1)], Math.fround(0.0999755859375));
  const units = rows(table(r.record, 'labels', 'units'));
  assert.equal(units.find((u) => u.layer === 'fine' && u.unit === 0)!.label, 'red');
});

test('collect-activations resumes after an interruption and gives the same outputs', async () => {
  const sets = ['stages.acts.batchSize=1'];
  let aborted = false;
  // in the stage's own thread (units in order: the chunks before the abort are deterministic); the pool is tested below
  const first = await run(
    sets,
    (bus, ac) =>
      bus.on((e) => {
        if (e.type === 'stage-progress' && e.stageId === 'acts' && e.done >= 5 && !aborted) {
          aborted = true;
          ac.abort();
        }
      }),
    [],
    1,
  );
  assert.equal(aborted, true);
  assert.equal(first.r.interrupted, true);
  const second = await run(sets);
  assert.deepEqual(second.errors, []);
  const m = second.r.record.stages.acts.map!.images;
  assert.equal(m.items, N);
  assert.ok(m.resumed >= 4 && m.computed <= N - 4, `resumed ${m.resumed}, computed ${m.computed}`);
  // the same units as an uninterrupted run (batch size changes nothing)
  const fresh = await run();
  const a = rows(table(second.r.record, 'labels', 'units'));
  const b = rows(table(fresh.r.record, 'labels', 'units'));
  assert.deepEqual(a, b);
  const idx = featureIndex({ file: (n: string) => join(entry(second.r.record, 'acts'), n), stageId: 'acts', kind: 'collect-activations' } as any);
  assert.equal(idx.parts.length, N);
  assert.ok(existsSync(join(entry(second.r.record, 'acts'), 'maps', idx.layers[0].dir, idx.parts[N - 1].file)));
});

test('resnet18-dissection template: `xai validate` names each missing file with its pipeline location', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const missing = ['data/broden1_224', 'models/resnet18-imagenet.onnx', 'models/resnet18-places365.onnx'].filter((p) => !existsSync(join(repo, p)));
  if (missing.length === 0) return t.skip('Broden and both models are present');
  const r = spawnSync(process.execPath, [join(repo, 'bin', 'xai.mjs'), 'validate', 'pipelines/resnet18-dissection.yaml'], { cwd: repo, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  assert.equal(r.status, 2, r.stderr);
  for (const p of missing) {
    const line = r.stderr.split('\n').find((l) => l.includes(p.split('/').pop()!));
    assert.ok(line, `no error names ${p}:\n${r.stderr}`);
    // located at the key: in the pipeline, or in the fragment it includes (the message then names the pipeline)
    assert.match(line!, /pipelines\/resnet18-dissection\.yaml:\d+:\d+: .*not found|^error: configs\/[\w/-]+\.yaml:\d+:\d+: .*not found.*\[included from pipelines\/resnet18-dissection\.yaml\]/);
  }
});

test('quantile-thresholds: a tiny memory budget splits units into groups (one pass each), same exact thresholds', async () => {
  const full = await run();
  const split = await run(['stages.thresholds.memoryMB=0.0005']); // 524 B: one unit per pass on this dataset
  assert.deepEqual(split.errors, []);
  const e = JSON.parse(readFileSync(join(entry(split.r.record, 'thresholds'), 'manifest.json'), 'utf8'));
  assert.equal(e.meta.layers.fine.passes, 3);
  assert.equal(e.meta.layers.coarse.passes, 3);
  assert.deepEqual(rows(table(split.r.record, 'thresholds', 'thresholds')), rows(table(full.r.record, 'thresholds', 'thresholds')));
});

test('quantile-thresholds: the same thresholds inline (1 thread) and with 2 or 3 worker threads, with and without unit groups', async () => {
  const one = await run(['stages.thresholds.workers=1'], undefined, ['thresholds']);
  const want = rows(table(one.r.record, 'thresholds', 'thresholds'));
  // 4194 B: the 8×8 'fine' layer in groups of 2 units (then 1), so one of 3 workers has no unit in the first pass
  for (const [set, threads, finePasses] of [[['stages.thresholds.workers=2'], 2, 1], [['stages.thresholds.workers=3', 'stages.thresholds.memoryMB=0.004'], 3, 2]] as const) {
    const r = await run([...set], undefined, ['thresholds']);
    assert.deepEqual(r.errors, []);
    assert.ok(r.computed.includes('thresholds'));
    assert.deepEqual(rows(table(r.r.record, 'thresholds', 'thresholds')), want, set.join(' '));
    const e = JSON.parse(readFileSync(join(entry(r.r.record, 'thresholds'), 'manifest.json'), 'utf8'));
    assert.equal(e.meta.threads, threads);
    assert.equal(e.meta.layers.fine.passes, finePasses);
  }
});

test('label-units: the same tables with 1 thread (inline) and 3 worker threads (units split); workers is not in the cache key', async () => {
  const names = ['units', 'unit_categories', 'top_images', 'top_maps'];
  // both forced to compute (same cache key), each one's outputs read before the next run replaces the entry
  const outputs = async (workers: number) => {
    const x = await run([`stages.labels.workers=${workers}`], undefined, ['labels']);
    assert.deepEqual(x.errors, []);
    assert.ok(x.computed.includes('labels'), `workers ${workers}: computed`);
    const e = JSON.parse(readFileSync(join(entry(x.r.record, 'labels'), 'manifest.json'), 'utf8'));
    assert.equal(e.params.workers, workers);
    return {
      key: x.r.record.stages.labels.key as string,
      tables: names.map((t) => rows(table(x.r.record, 'labels', t))),
      csv: readFileSync(join(entry(x.r.record, 'labels'), 'tally-fine.csv'), 'utf8'),
    };
  };
  const one = await outputs(1);
  const three = await outputs(3);
  names.forEach((t, i) => assert.deepEqual(three.tables[i], one.tables[i], t));
  assert.equal(three.csv, one.csv);
  assert.equal(three.key, one.key);
  const again = await run(['stages.labels.workers=2']);
  assert.ok(!again.computed.includes('labels'), 'workers: 2 reuses the cached label-units entry');
});

test('encodePart: its chunks are the bytes of tableToIPC (maps not copied), and readPart reads them back', async () => {
  const { tableToIPC, tableFromIPC } = await import('apache-arrow');
  const { encodePart } = await import('../../src/explain/dissect/store.ts');
  const act = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => Math.sin(i) * 10);
  for (const dtype of ['float32', 'float16'] as const) {
    const chunks = encodePart([7, 9], act, 3, 4, 5, dtype, { layer: 'l' });
    const joined = Buffer.concat(chunks);
    // the same table re-encoded in one piece by apache-arrow
    const again = tableToIPC(tableFromIPC(joined), 'file');
    assert.deepEqual(new Uint8Array(joined), again, dtype);
    if (dtype === 'float32') assert.ok(chunks.some((c) => c.buffer === act.buffer), 'the maps chunk is a view on the activations');
    const path = join(dir, `encode-${dtype}.arrow`);
    writeFileSync(path, joined);
    const pt = readPart(path, 3, 4, 5);
    assert.deepEqual(Array.from(pt.images), [7, 9]);
    const want = dtype === 'float32' ? act : act.map((v) => halfTable()[toHalf(v)]);
    assert.deepEqual(pt.maps, want);
    assert.equal(pt.maxima[4], Math.max(...want.subarray(4 * 20, 5 * 20)));
  }
  // a NaN anywhere in a map makes its stored maximum NaN (quantile-thresholds then scans it and reports the NaN)
  const withNan = act.slice();
  withNan[25] = NaN;
  const path = join(dir, 'encode-nan.arrow');
  writeFileSync(path, Buffer.concat(encodePart([7, 9], withNan, 3, 4, 5, 'float32', { layer: 'l' })));
  const pt = readPart(path, 3, 4, 5);
  assert.ok(Number.isNaN(pt.maxima[1]));
  assert.equal(pt.maxima[0], Math.max(...act.subarray(0, 20)));
});

test('maps: false (disk-light): thresholds and labels bit-identical to the stored-maps path, float32 and float16, inline and 3 threads, a broken image left out alike', async () => {
  const { cpSync } = await import('node:fs');
  // a copy of the dataset with one undecodable image (in the middle of a batch of 5)
  const broken = join(dir, 'broden-broken');
  if (!existsSync(broken)) {
    cpSync(join(dir, 'broden'), broken, { recursive: true });
    // its header reads (the dataset stage accepts it), its pixel data is cut off: the image fails when decoded
    const png = readFileSync(join(broken, 'images', 'img', '006.png'));
    writeFileSync(join(broken, 'images', 'img', '006.png'), png.subarray(0, 60));
  }
  const names = ['units', 'unit_categories', 'top_images', 'top_maps'];
  // every value compared with Object.is (deepStrictEqual): float64 bit patterns, −0 and NaN included
  const outputs = async (sets: string[]) => {
    const x = await run(sets, undefined, ['acts', 'thresholds', 'labels']);
    assert.deepEqual(x.errors, [], sets.join(' '));
    return {
      thresholds: rows(table(x.r.record, 'thresholds', 'thresholds')),
      tables: names.map((t) => rows(table(x.r.record, 'labels', t))),
      csv: ['fine', 'coarse'].map((l) => readFileSync(join(entry(x.r.record, 'labels'), `tally-${l}.csv`), 'utf8')),
      acts: entry(x.r.record, 'acts'),
      images: JSON.parse(readFileSync(join(entry(x.r.record, 'labels'), 'manifest.json'), 'utf8')).meta.images as number,
    };
  };
  for (const extra of [[], ['stages.acts.dtype=float16', 'stages.labels.workers=3'], ['stages.acts.batchSize=5', `stages.data.root=${broken}`, 'stages.labels.workers=2']]) {
    const stored = await outputs(extra);
    const light = await outputs([...extra, 'stages.acts.maps=false']);
    assert.ok(existsSync(join(stored.acts, 'maps', 'index.json')));
    assert.ok(!existsSync(join(light.acts, 'maps')), 'maps: false stores no maps');
    assert.deepStrictEqual(light.thresholds, stored.thresholds, `thresholds ${extra.join(' ')}`);
    names.forEach((t, i) => assert.deepStrictEqual(light.tables[i], stored.tables[i], `${t} ${extra.join(' ')}`));
    assert.deepEqual(light.csv, stored.csv);
    assert.equal(light.images, stored.images);
    if (extra.some((s) => s.includes('broken'))) assert.equal(light.images, N - 1);
  }
});

test('quantile-thresholds and label-units resume from their checkpoints after an interruption (stored and recomputed maps): same outputs as an uninterrupted run', async () => {
  const names = ['units', 'unit_categories', 'top_images', 'top_maps'];
  const saved = process.env.XAI_FLUSH_MS;
  process.env.XAI_FLUSH_MS = '0'; // every part a chunk and a checkpoint
  try {
    for (const extra of [['stages.labels.workers=1', 'stages.thresholds.workers=1'], ['stages.acts.maps=false', 'stages.labels.workers=2', 'stages.thresholds.workers=2', 'stages.thresholds.memoryMB=0.004']]) {
      const sets = ['stages.acts.batchSize=1', ...extra]; // 12 parts per pass (memoryMB 0.004: two passes, aborted in the second)
      const fresh = await run(sets, undefined, ['thresholds', 'labels']);
      assert.deepEqual(fresh.errors, []);
      const want = { th: rows(table(fresh.r.record, 'thresholds', 'thresholds')), tables: names.map((t) => rows(table(fresh.r.record, 'labels', t))) };
      for (const stage of ['thresholds', 'labels']) {
        let aborted = false;
        const first = await run(sets, (bus, ac) =>
          bus.on((e) => {
            if (e.type === 'stage-progress' && e.stageId === stage && e.done >= (e.total > N ? 15 : 7) && !aborted) {
              aborted = true;
              ac.abort();
            }
          }),
          [stage],
        );
        assert.equal(aborted, true, `${stage} ${extra.join(' ')}`);
        assert.equal(first.r.interrupted, true);
        const second = await run(sets, undefined, [stage]); // an interrupted --force resumes with the same --force
        assert.deepEqual(second.errors, []);
        const m = second.r.record.stages[stage].map!.parts;
        assert.ok(m.resumed >= 5 && m.computed <= m.items - 5, `${stage} ${extra.join(' ')}: resumed ${m.resumed}, computed ${m.computed}`);
        assert.deepStrictEqual(rows(table(second.r.record, 'thresholds', 'thresholds')), want.th);
        names.forEach((t, i) => assert.deepStrictEqual(rows(table(second.r.record, 'labels', t)), want.tables[i], `${stage} ${t} ${extra.join(' ')}`));
      }
    }
  } finally {
    if (saved === undefined) delete process.env.XAI_FLUSH_MS;
    else process.env.XAI_FLUSH_MS = saved;
  }
});

test('collect-activations: the same stored parts and tables inline (--workers 1) and on a pool of 3 worker threads', async () => {
  const files = (rec: any) => {
    const d = entry(rec, 'acts');
    const idx = featureIndex({ file: (n: string) => join(d, n), stageId: 'acts', kind: 'collect-activations' } as any);
    return { idx, parts: idx.layers.flatMap((l) => idx.parts.map((p) => readFileSync(join(d, 'maps', l.dir, p.file)))), images: rows(table(rec, 'acts', 'images')) };
  };
  const sets = ['stages.acts.batchSize=5', 'stages.acts.pool=max'];
  const one = await run(sets, undefined, ['acts'], 1);
  assert.deepEqual(one.errors, []);
  const a = files(one.r.record);
  const three = await run(sets, undefined, ['acts'], 3);
  assert.deepEqual(three.errors, []);
  assert.equal(three.r.record.stages.acts.key, one.r.record.stages.acts.key);
  const b = files(three.r.record);
  assert.deepEqual(b.idx, a.idx);
  assert.equal(b.parts.length, 2 * 3); // 12 images in batches of 5: 3 parts per layer
  b.parts.forEach((x, i) => assert.ok(x.equals(a.parts[i]), `part file ${i}`));
  assert.deepStrictEqual(b.images, a.images);
  assert.ok(Array.isArray(b.images[0].pool_fine) && b.images[0].pool_fine.length === 3);
});
