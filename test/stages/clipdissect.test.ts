// CLIP-Dissect stages end to end on a hand-built case: 12 images (16×16) dominated by red, green or blue; a tiny
// target ONNX whose layer 'feat' has units R, G, B (1×1 identity conv, 2×2 average pool); a tiny "CLIP image
// encoder" ONNX whose embedding is the image's mean colour; concept embeddings red (1,0,0), green, blue, white
// (1,1,1). An image's main channel grows with its index, so within a colour the activation and the CLIP similarity
// rank the images alike (what rank_reorder rewards). Checks: pooled avg/max equal hand-computed image means / maxima; each unit is described by its colour
// under every similarity function; descriptions.csv rows equal the units table; bad inputs are located ConfigErrors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { encodePngSync } from '../../src/image/png.ts';
import { BrodenWriter } from '../../src/data/broden.ts';
import { DataType, GraphBuilder } from '../../src/model/onnx/builder.ts';
import { analyze } from '../../src/engine/analyze.ts';
import { executePlan } from '../../src/engine/runner.ts';
import { EventBus } from '../../src/engine/events.ts';
import { ArtifactStore } from '../../src/engine/cache.ts';
import { readArrowFile } from '../../src/arrow/io.ts';
import { closeModels } from '../../src/model/index.ts';
import { readConceptEmbeddings, readNpy } from '../../src/explain/clipdissect/concepts.ts';
import { pooledTargets } from '../../src/explain/clipdissect/pooled.ts';
import { SIMILARITY_FNS } from '../../src/algo/clipdissect/index.ts';

const repo = resolve(import.meta.dirname, '..', '..');
const S = 16, N = 12;
let dir = '';
/** RGB bytes per image. */
const pixels: Uint8Array[] = [];

/** A Broden-format dataset (colour masks: the whole image is its main colour) so label-units can run too. */
function writeImages(root: string): void {
  const w = new BrodenWriter(root, ['color'], ['red', 'green', 'blue'].map((name) => ({ name, category: 'color' })));
  for (let i = 0; i < N; i++) {
    const main = i % 3; // 0 red, 1 green, 2 blue
    const rgb = new Uint8Array(S * S * 3);
    for (let p = 0; p < S * S; p++) {
      for (let c = 0; c < 3; c++) rgb[p * 3 + c] = c === main ? 120 + 10 * i + ((p * 7) % 20) : (p * 5 + i * 3 + c * 11) % 40;
    }
    pixels.push(rgb);
    const mask = new Uint16Array(8 * 8).fill(w.labelNumber('color', ['red', 'green', 'blue'][main]));
    w.add({ image: `img/img${String(i).padStart(2, '0')}.png`, imageBytes: encodePngSync(rgb, S, S, 3), split: 'train', ih: S, iw: S, sh: 8, sw: 8, masks: { color: [mask] } });
  }
  w.finish();
}

function writeModels(): void {
  const g = new GraphBuilder('tiny_target');
  const x = g.input('input', [null, 3, S, S]);
  const c = g.conv(x, g.initializer('conv.w', Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), [3, 3, 1, 1]), undefined, {}, 'conv');
  const feat = g.averagePool(c, { kernel: [2, 2], strides: [2, 2] }, 'feat');
  g.gemm(g.flatten(g.globalAveragePool(feat), 1), g.initializer('fc.w', Float32Array.from([1, 0, 0, 0, 1, 0]), [2, 3]), undefined, { transB: true }, 'logits');
  g.output('logits', [null, 2]);
  writeFileSync(join(dir, 'target.onnx'), g.encode());
  const e = new GraphBuilder('tiny_clip');
  const xi = e.input('input', [null, 3, S, S]);
  e.flatten(e.globalAveragePool(xi), 1, 'embedding');
  e.output('embedding', [null, 3]);
  writeFileSync(join(dir, 'clip.onnx'), e.encode());
}

function pipeline(describe: Record<string, unknown> = {}, embed: Record<string, unknown> = {}, pool = 'avg', maps = false): string {
  const st = (k: string) => JSON.stringify(join(repo, 'stages', `${k}.ts`));
  return `name: tinyclip
stages:
  data:
    uses: ${st('dataset')}
    params: { kind: broden, root: ${JSON.stringify(join(dir, 'images'))} }
  model:
    uses: ${st('load-model')}
    params: { path: ${JSON.stringify(join(dir, 'target.onnx'))}, layers: { feat: feat } }
  encoder:
    uses: ${st('load-model')}
    params: { path: ${JSON.stringify(join(dir, 'clip.onnx'))} }
  acts:
    uses: ${st('collect-activations')}
    inputs: { model: model, dataset: data }
    params: { layers: [feat], batchSize: 5, pool: ${pool}${maps ? '' : ', maps: false'} }
  clip:
    uses: ${st('clip-embeddings')}
    inputs: { encoder: encoder, dataset: data }
    params: ${JSON.stringify({ text_embeddings: join(dir, 'concepts.csv'), batchSize: 5, ...embed })}
  describe:
    uses: ${st('describe-units')}
    inputs: { activations: acts, clip: clip }
    params: ${JSON.stringify({ top_k: 4, ...describe })}
${
  maps
    ? `  thresholds:
    uses: ${st('quantile-thresholds')}
    inputs: { activations: acts }
    params: { quantile: 0.3 }
  labels:
    uses: ${st('label-units')}
    inputs: { activations: acts, thresholds: thresholds }
  agree:
    uses: ${st('unit-agreement')}
    inputs: { netdissect: labels, clipdissect: describe }
  stats:
    uses: ${st('concept-stats')}
    inputs: { labels: describe }
  compare:
    uses: ${st('compare-concepts')}
    inputs: { a: labels, b: describe }
  report:
    uses: ${st('report')}
    inputs: { more1: agree }
`
    : ''
}`;
}

async function run(yaml: string, opts: { workers?: number; force?: string[] } = {}) {
  writeFileSync(join(dir, 'pipelines', 'p.yaml'), yaml);
  const plan = await analyze(join(dir, 'pipelines', 'p.yaml'), { root: dir });
  const bus = new EventBus();
  const errors: string[] = [];
  bus.on((e) => {
    if (e.type === 'stage-failed') errors.push(`${e.stageId}: ${e.error}`);
  });
  const r = await executePlan(plan, { bus, jobs: 1, signal: new AbortController().signal, ...opts });
  return { r, errors };
}
const entry = (record: any, stage: string) => new ArtifactStore(dir).entryDir(record.stages[stage].kind, record.stages[stage].key);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'xai-clipdissect-'));
  mkdirSync(join(dir, 'pipelines'));
  writeImages(join(dir, 'images'));
  writeModels();
  writeFileSync(join(dir, 'concepts.csv'), 'concept,category,e0,e1,e2\nred,color,1,0,0\ngreen,color,0,1,0\nblue,color,0,0,1\nwhite,color,1,1,1\n');
});
after(async () => {
  await closeModels();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('pooled activations (avg and max) equal the images’ channel means and maxima; no maps stored with maps: false', async () => {
  for (const pool of ['avg', 'max']) {
    const { r, errors } = await run(pipeline({}, {}, pool));
    assert.deepEqual(errors, []);
    const acts = entry(r.record, 'acts');
    assert.throws(() => readFileSync(join(acts, 'maps', 'index.json')));
    const t = pooledTargets(readArrowFile(join(acts, 'images.arrow')), 'feat');
    assert.equal(t.nUnits, 3);
    assert.equal(t.nImages, N);
    for (let j = 0; j < N; j++) {
      const i = Number(t.ids[j].match(/img(\d+)/)![1]);
      for (let u = 0; u < 3; u++) {
        let s = 0, m = 0;
        // max over the 2×2-average-pooled map
        for (let y = 0; y < S; y += 2)
          for (let x = 0; x < S; x += 2) {
            let b = 0;
            for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) b += pixels[i][((y + dy) * S + x + dx) * 3 + u];
            m = Math.max(m, b / 4);
          }
        for (let p = 0; p < S * S; p++) s += pixels[i][p * 3 + u];
        const want = pool === 'avg' ? s / (S * S) / 255 : m / 255;
        assert.ok(Math.abs(t.acts[u * N + j] - want) < 1e-5, `${pool} image ${i} unit ${u}: ${t.acts[u * N + j]} vs ${want}`);
      }
    }
  }
});

test('clip-embeddings on 2 worker threads writes the images table of the stage thread byte for byte', async () => {
  const one = await run(pipeline(), { workers: 1, force: ['clip'] });
  assert.deepEqual(one.errors, []);
  const a = readFileSync(join(entry(one.r.record, 'clip'), 'images.arrow'));
  const two = await run(pipeline(), { workers: 2, force: ['clip'] });
  assert.deepEqual(two.errors, []);
  assert.equal(two.r.record.stages.clip.status, 'done');
  assert.deepEqual(readFileSync(join(entry(two.r.record, 'clip'), 'images.arrow')), a);
});

test('each colour unit is described by its colour under every similarity function; descriptions.csv mirrors the table', async () => {
  for (const fn of SIMILARITY_FNS) {
    const params = fn === 'rank_reorder' ? { similarity: fn, top_k: undefined, top_fraction: 0.34 } : { similarity: fn };
    const { r, errors } = await run(pipeline(params));
    assert.deepEqual(errors, [], fn);
    const d = entry(r.record, 'describe');
    const units = readArrowFile(join(d, 'units.arrow')).toArray().map((x: any) => x.toJSON());
    assert.deepEqual(units.map((u: any) => [u.layer, u.unit, u.label, u.category]), [['feat', 0, 'red', 'color'], ['feat', 1, 'green', 'color'], ['feat', 2, 'blue', 'color']], fn);
    const csv = readFileSync(join(d, 'descriptions.csv'), 'utf8').split('\n');
    assert.equal(csv[0], 'layer,unit,description,similarity');
    assert.equal(csv.length, 5); // header, 3 rows, '' after the final newline
    units.forEach((u: any, k: number) => {
      const f = csv[k + 1].split(',');
      assert.deepEqual(f.slice(0, 3), ['feat', String(u.unit), u.label]);
      assert.equal(Math.fround(Number(f[3])), u.similarity);
    });
  }
});

test('bad inputs: located ConfigErrors (top_k beyond the probe set, .npy without its list, a non-number in the CSV, a wrong dim)', async () => {
  let { errors } = await run(pipeline({ top_k: 50 }));
  assert.match(errors.join('\n'), /top_k 50 exceeds the 12 probe images/);

  writeFileSync(join(dir, 'bad.csv'), 'concept,e0,e1,e2\nred,1,0,0\ngreen,0,x,0\n');
  ({ errors } = await run(pipeline({}, { text_embeddings: join(dir, 'bad.csv') })));
  assert.match(errors.join('\n'), /bad\.csv line 3, column e1: 'x' is not a number/);

  writeFileSync(join(dir, 'two.csv'), 'concept,e0,e1\nred,1,0\n');
  ({ errors } = await run(pipeline({}, { text_embeddings: join(dir, 'two.csv') })));
  assert.match(errors.join('\n'), /outputs 3-d embeddings but .*two\.csv holds 2-d ones/);

  writeFileSync(join(dir, 'e.npy'), new Uint8Array(0));
  writeFileSync(join(dir, 'pipelines', 'p.yaml'), pipeline({}, { text_embeddings: join(dir, 'e.npy') }));
  await assert.rejects(analyze(join(dir, 'pipelines', 'p.yaml'), { root: dir }), /stages\.clip\.params\.concepts: a \.npy embedding file needs its concept list/);
});

test('concept embeddings: .npy (float32 and float16) with a concept list, rows L2-normalised; zero rows rejected', () => {
  // hand-written .npy files (numpy.save format 1.0)
  const npy = (descr: string, shape: number[], body: Uint8Array) => {
    let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
    while ((10 + header.length + 1) % 64) header += ' ';
    header += '\n';
    const h = Buffer.from(header, 'latin1');
    const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
    return Buffer.concat([pre, h, Buffer.from(body)]);
  };
  writeFileSync(join(dir, 'words.txt'), 'cat\n\ndog\n');
  writeFileSync(join(dir, 'w32.npy'), npy('<f4', [2, 2], new Uint8Array(Float32Array.from([3, 4, 0, 2]).buffer)));
  const e = readConceptEmbeddings(join(dir, 'w32.npy'), join(dir, 'words.txt'));
  assert.deepEqual(e.concepts, ['cat', 'dog']);
  assert.deepEqual(Array.from(e.embedding), [0.6, 0.8, 0, 1].map(Math.fround));
  // float16: 0x3c00 = 1, 0x4000 = 2
  writeFileSync(join(dir, 'w16.npy'), npy('<f2', [2, 2], new Uint8Array(Uint16Array.from([0x3c00, 0, 0, 0x4000]).buffer)));
  assert.deepEqual(Array.from(readNpy(join(dir, 'w16.npy')).data), [1, 0, 0, 2]);
  writeFileSync(join(dir, 'z.npy'), npy('<f4', [2, 2], new Uint8Array(Float32Array.from([1, 0, 0, 0]).buffer)));
  assert.throws(() => readConceptEmbeddings(join(dir, 'z.npy'), join(dir, 'words.txt')), /concept 1 \('dog'\) is zero/);
  writeFileSync(join(dir, 'w3.npy'), npy('<f4', [3, 1], new Uint8Array(Float32Array.from([1, 2, 3]).buffer)));
  assert.throws(() => readConceptEmbeddings(join(dir, 'w3.npy'), join(dir, 'words.txt')), /has 3 rows but .*words\.txt lists 2 concepts/);
});

test('with Network Dissection on the same model: per-unit agreement, concept-stats and compare-concepts over describe-units', async () => {
  const { r, errors } = await run(pipeline({}, {}, 'avg', true));
  assert.deepEqual(errors, []);
  const rows = (stage: string, table: string) => readArrowFile(join(entry(r.record, stage), `${table}.arrow`)).toArray().map((x: any) => x.toJSON());
  const agree = rows('agree', 'units');
  assert.deepEqual(agree.map((u: any) => [u.unit, u.netdissect, u.clipdissect, u.same_concept, u.same_category]), [
    [0, 'red', 'red', true, true],
    [1, 'green', 'green', true, true],
    [2, 'blue', 'blue', true, true],
  ]);
  assert.deepEqual(rows('agree', 'layers').map((l: any) => [l.layer, l.units, l.same_concept, l.same_category]), [['feat', 3, 3, 3]]);
  // concept-stats on CLIP-Dissect labels: every unit counts, one unit per colour
  assert.deepEqual(rows('stats', 'concept_counts').map((c: any) => [c.layer, c.concept, c.units]), [['feat', 'blue', 1], ['feat', 'green', 1], ['feat', 'red', 1]]);
  // compare-concepts: Network Dissection's interpretable concepts vs CLIP-Dissect's
  const cmp = rows('compare', 'concepts');
  const interpretable = new Set(rows('labels', 'units').filter((u: any) => u.interpretable).map((u: any) => u.label));
  for (const c of cmp) assert.equal(c.status, interpretable.has(c.concept) ? 'shared' : 'only_b', c.concept);
  // report: a CLIP-Dissect section (through the agreement stage's upstream) and the agreement section
  const html = readFileSync(join(entry(r.record, 'report'), 'index.html'), 'utf8');
  assert.match(html, /<h2>CLIP-Dissect: describe<\/h2>/);
  assert.match(html, /<h2>Network Dissection vs CLIP-Dissect<\/h2>[\s\S]*<td>feat<\/td>[\s\S]*3\/3 \(100%\)/);
  assert.match(html, /href="data\/describe-descriptions\.csv"/);
});

test('concept embeddings from a text-encoder ONNX and a BPE merges file (tokenised as clip.tokenize) give the same descriptions', async () => {
  // no merges: a word's ids are its byte symbols (byte b ↦ b − 33 for printable ASCII); the toy encoder sums a table
  // row per token id over the 77 positions: r (114) → red axis, g (103) → green, b (98) → blue, w (119) → all three
  const V = 512 + 2;
  const table = new Float32Array(V * 3);
  for (const [ch, e] of [['r', [1, 0, 0]], ['g', [0, 1, 0]], ['b', [0, 0, 1]], ['w', [1, 1, 1]]] as const) table.set(e, (ch.charCodeAt(0) - 33) * 3);
  const g = new GraphBuilder('text');
  const ids = g.input('text', [null, 77], DataType.INT64);
  const emb = g.node('Gather', [g.initializer('table', table, [V, 3]), ids])[0];
  g.node('ReduceSum', [emb, g.int64('axes', [1])], ['embedding'], { keepdims: 0 });
  g.output('embedding', [null, 3]);
  writeFileSync(join(dir, 'text.onnx'), g.encode());
  writeFileSync(join(dir, 'merges.txt.gz'), gzipSync('#version: 0.2')); // gzipped, as CLIP ships it
  writeFileSync(join(dir, 'words.txt'), 'red\ngreen\nblue\nwhite\n');
  const embed = { text_embeddings: undefined, text_encoder: join(dir, 'text.onnx'), tokenizer: join(dir, 'merges.txt.gz'), concepts: join(dir, 'words.txt') };
  const { r, errors } = await run(pipeline({}, embed));
  assert.deepEqual(errors, []);
  const units = readArrowFile(join(entry(r.record, 'describe'), 'units.arrow')).toArray().map((x: any) => x.toJSON());
  assert.deepEqual(units.map((u: any) => u.label), ['red', 'green', 'blue']);
  // text_encoder without its merges file: a located ConfigError before anything runs
  writeFileSync(join(dir, 'pipelines', 'p.yaml'), pipeline({}, { ...embed, tokenizer: undefined }));
  await assert.rejects(analyze(join(dir, 'pipelines', 'p.yaml'), { root: dir }), /stages\.clip\.params\.tokenizer: text_encoder needs CLIP’s BPE merges file/);
});
