import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  bestConcepts, descriptionsCsv, float32Repr, jsGemm, l2NormalizeRows, similarity, topKImages, SIMILARITY_FNS,
  type ClipEmbeddings, type SimilarityFn, type TargetFeats,
} from '../../src/algo/clipdissect/index.ts';

// Fixtures: scripts/fixtures/clipdissect.py (similarity.py's formulas in numpy, descriptions.csv written by pandas).
const FIX = 'test/fixtures/clipdissect';
const fx = JSON.parse(readFileSync(`${FIX}/similarity.json`, 'utf8')) as {
  N: number; D: number; C: number; U: number;
  image: number[]; text: number[]; pos_image: number[]; pos_text: number[]; target_unit_major: number[];
  cases: Record<string, { opts: Record<string, number>; scores: number[]; best: number[] }>;
};

function embeddings(image: number[], text: number[]): ClipEmbeddings {
  const img = Float32Array.from(image), txt = Float32Array.from(text);
  l2NormalizeRows(img, fx.N, fx.D);
  l2NormalizeRows(txt, fx.C, fx.D);
  return { image: img, text: txt, nImages: fx.N, nConcepts: fx.C, dim: fx.D };
}
const target: TargetFeats = { acts: Float32Array.from(fx.target_unit_major), nUnits: fx.U, nImages: fx.N };

for (const [name, c] of Object.entries(fx.cases)) {
  const fn = name.replace(/_(defaults_k|p2)$/, '') as SimilarityFn;
  test(`${name}: matches the numpy re-expression of similarity.py (scores and best concept per unit)`, async () => {
    const clip = fn === 'rank_reorder' ? embeddings(fx.pos_image, fx.pos_text) : embeddings(fx.image, fx.text);
    const s = await similarity(fn, clip, target, jsGemm, c.opts);
    assert.equal(s.scores.length, fx.U * fx.C);
    for (let i = 0; i < s.scores.length; i++) {
      const want = c.scores[i];
      assert.ok(Math.abs(s.scores[i] - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${name}[${i}]: ${s.scores[i]} vs ${want}`);
    }
    assert.deepEqual(Array.from(bestConcepts(s).concept), c.best);
  });
}

test('every similarity function is covered by a fixture case', () => {
  for (const fn of SIMILARITY_FNS) assert.ok(Object.keys(fx.cases).some((k) => k.startsWith(fn)), fn);
});

/**
 * Hand-derived case: 2 concepts with one-hot text embeddings e0, e1; images 0–3 show concept 0 (embedding e0),
 * images 4–7 concept 1. Unit 0 fires on images 0–3 (its top images are all concept 0), unit 1 on images 4–7.
 */
function oneHotCase(): { clip: ClipEmbeddings; target: TargetFeats } {
  const image = new Float32Array(16), text = Float32Array.from([1, 0, 0, 1]);
  for (let i = 0; i < 8; i++) image[i * 2 + (i < 4 ? 0 : 1)] = 1;
  const acts = new Float32Array(16);
  for (let i = 0; i < 8; i++) {
    acts[i] = i < 4 ? 10 - i : 1 + 0.1 * i; // unit 0
    acts[8 + i] = i >= 4 ? 20 - i : 0.5 + 0.1 * i; // unit 1
  }
  return { clip: { image, text, nImages: 8, nConcepts: 2, dim: 2 }, target: { acts, nUnits: 2, nImages: 8 } };
}

test('one-concept top images: every function names the concept of the unit’s top images', async () => {
  const { clip, target: t } = oneHotCase();
  for (const fn of SIMILARITY_FNS) {
    const opts = fn === 'rank_reorder' ? { top_fraction: 0.5 } : { top_k: 4 };
    const s = await similarity(fn, clip, t, jsGemm, opts);
    // (rank_reorder: the other concept's mean clip value over the top images is 0, so its score is −∞ or NaN)
    assert.deepEqual(Array.from(bestConcepts(s).concept), [0, 1], fn);
  }
});

test('soft_wpmi and wpmi on the one-hot case equal their closed forms', async () => {
  const { clip, target: t } = oneHotCase();
  // a concept-0 image: P = softmax(a·[1, 0]) = [h, l] with h = e^a/(e^a + 1), l = 1/(e^a + 1)
  const k = 4, a = 10, lam = 1, mp = 1e-7, ps = 0.998, pe = 0.97;
  const h = Math.exp(a) / (Math.exp(a) + 1), l = 1 / (Math.exp(a) + 1);
  let same = 0, other = 0;
  for (let r = 0; r < k; r++) {
    const p = ps - (r / k) * (ps - pe);
    same += Math.log(1 + p * (h - 1) + mp);
    other += Math.log(1 + p * (l - 1) + mp);
  }
  // by symmetry both concepts see {same, other} across the 2 units: log p(d) = log((e^same + e^other)/2)
  const logPd = Math.log((Math.exp(same) + Math.exp(other)) / 2);
  const s = await similarity('soft_wpmi', clip, t, jsGemm, { top_k: k });
  const want = [same - lam * logPd, other - lam * logPd, other - lam * logPd, same - lam * logPd];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(s.scores[i] - want[i]) < 1e-4, `soft_wpmi[${i}] ${s.scores[i]} vs ${want[i]}`);

  const a2 = 2, lam2 = 0.6;
  const h2 = Math.exp(a2) / (Math.exp(a2) + 1), l2 = 1 / (Math.exp(a2) + 1);
  const sameW = k * Math.log(h2 + mp), otherW = k * Math.log(l2 + mp);
  const logPdW = Math.log((Math.exp(sameW) + Math.exp(otherW)) / 2);
  const w = await similarity('wpmi', clip, t, jsGemm, { top_k: k });
  const wantW = [sameW - lam2 * logPdW, otherW - lam2 * logPdW, otherW - lam2 * logPdW, sameW - lam2 * logPdW];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(w.scores[i] - wantW[i]) < 1e-4, `wpmi[${i}] ${w.scores[i]} vs ${wantW[i]}`);
});

test('cos_similarity on the one-hot case: the correlation of the unit with the concept indicator', async () => {
  const { clip, target: t } = oneHotCase();
  const s = await similarity('cos_similarity', clip, t, jsGemm);
  // clip column 0 = indicator of images 0–3 (norm 2); unit 0 column acts[0..7]
  const u0 = Array.from(t.acts.subarray(0, 8));
  const n0 = Math.hypot(...u0);
  const want00 = (u0[0] + u0[1] + u0[2] + u0[3]) / 2 / n0;
  const want01 = (u0[4] + u0[5] + u0[6] + u0[7]) / 2 / n0;
  assert.ok(Math.abs(s.scores[0] - want00) < 1e-6 && Math.abs(s.scores[1] - want01) < 1e-6);
});

test('topKImages: descending, ties keep the lower image index first; top_k beyond the images is an error', () => {
  const t: TargetFeats = { acts: Float32Array.from([1, 3, 3, 2, 0, 5]), nUnits: 2, nImages: 3 };
  assert.deepEqual(Array.from(topKImages(t, 2)), [1, 2, 2, 0]);
  assert.throws(() => topKImages(t, 4), /top_k 4 must be between 1 and the number of probe images \(3\)/);
});

test('descriptions.csv: byte-identical to pandas’ to_csv of describe_neurons.py’s DataFrame', () => {
  const j = JSON.parse(readFileSync(`${FIX}/descriptions.json`, 'utf8')) as { layer: string[]; unit: number[]; description: string[]; similarity: number[] };
  const rows = j.layer.map((layer, i) => ({ layer, unit: j.unit[i], description: j.description[i], similarity: j.similarity[i] }));
  assert.equal(descriptionsCsv(rows), readFileSync(`${FIX}/descriptions.csv`, 'utf8'));
});

test('float32Repr: numpy’s shortest float32 repr', () => {
  // hand-checked against numpy: repr(np.float32(x))
  assert.equal(float32Repr(0.3), '0.3');
  assert.equal(float32Repr(1 / 3), '0.33333334');
  assert.equal(float32Repr(-0), '-0.0');
  assert.equal(float32Repr(1e-4), '1e-04'); // float32(1e-4) < 1e-4
  assert.equal(float32Repr(NaN), 'nan');
});

test('unit agreement: concept names compared without case, "_" and Broden suffixes; category; counts per layer', async () => {
  const { unitAgreement, layerAgreement } = await import('../../src/algo/clipdissect/index.ts');
  const nd = [
    { layer: 'l', unit: 0, label: 'red-c', category: 'color', interpretable: true },
    { layer: 'l', unit: 1, label: 'street-s', category: 'scene', interpretable: false },
    { layer: 'l', unit: 2, label: 'dog', category: 'object', interpretable: true },
    { layer: 'm', unit: 0, label: 'x', category: 'object', interpretable: true },
  ];
  const cd = [
    { layer: 'l', unit: 0, label: 'Red', category: 'color', interpretable: true },
    { layer: 'l', unit: 1, label: 'street', category: 'scene', interpretable: true },
    { layer: 'l', unit: 2, label: 'hot_dog', category: 'object', interpretable: true },
  ];
  const rows = unitAgreement(nd, cd);
  assert.deepEqual(rows.map((r) => [r.unit, r.sameConcept, r.sameCategory]), [[0, true, true], [1, true, true], [2, false, true]]);
  assert.deepEqual(layerAgreement(rows), [{ layer: 'l', units: 3, interpretableA: 2, sameConcept: 2, sameCategory: 3, sameConceptInterpretable: 1, sameCategoryInterpretable: 2 }]);
});

test('CLIP BPE tokenizer: hand-derived ids on a toy merges file (byte symbols, merges by rank, </w>, sot/eot, padding)', async () => {
  const { ClipTokenizer, htmlUnescape } = await import('../../src/algo/clipdissect/index.ts');
  // vocabulary: 256 byte symbols in bytes_to_unicode order ('!'..'~' = bytes 33..126 first, so byte b ↦ b − 33 for
  // those), the same 256 with '</w>' (+256), then one id per merge (512, 513, …), then <|startoftext|>, <|endoftext|>
  // (no final newline: as in the reference, a trailing empty line inside the slice would add an entry '')
  const tok = new ClipTokenizer('#version: 0.2\nc a\nca t</w>\nt </w>');
  assert.equal(tok.sot, 515);
  assert.equal(tok.eot, 516);
  // "cat": (c, a, t</w>) → rank 0 (c a) → (ca, t</w>) → rank 1 → (cat</w>) = 513
  // "dog": no merge applies → d = 100 − 33, o = 111 − 33, g</w> = 256 + 103 − 33
  // "!": a one-symbol word → !</w> = 256 + 0;  "Cats": lower-cased, c a t s</w> → (ca t s</w>): 'ca t</w>' needs t</w>
  assert.deepEqual(tok.encode('  Cat   dog! '), [513, 67, 78, 326, 256]);
  assert.deepEqual(tok.encode('cats'), [512, 116 - 33, 256 + 115 - 33]);
  // é = UTF-8 C3 A9: byte 0xC3 is the 21st of 174..255 after the 94 of 33..126 and 12 of 161..172 → 127; 0xA9 → 94 + 8
  assert.deepEqual(tok.encode('é'), [127, 256 + 102]);
  // the pattern splits "it's" into it + 's, and digits one by one; t</w> is both byte symbol 256 + 83 and merge 't </w>'
  // (514): the later id wins, as dict(zip(vocab, range(len(vocab)))) does
  assert.deepEqual(tok.encode("it's 42"), [105 - 33, 514, 6, 256 + 115 - 33, 256 + 52 - 33, 256 + 50 - 33]);
  assert.equal(htmlUnescape('a &amp;amp; b &#233; &#x41;'), 'a &amp; b é A');
  assert.deepEqual(tok.encode('&amp;amp;'), [256 + 38 - 33]); // unescaped twice → '&'
  const ids = tok.tokenize(['cat', 'dog'], 6);
  assert.deepEqual(Array.from(ids, Number), [515, 513, 516, 0, 0, 0, 515, 67, 78, 326, 516, 0]);
  assert.throws(() => tok.tokenize(['dog dog'], 6), /Input dog dog is too long for context length 6/);
});
