// NetDissect-Lite's category rule, hand-derived on a tiny Broden-like case (feature_operation.tally_job / tally with
// data_loader's labelcat = onehot(primary_categories_per_index())): 'wheel' is both an object (coverage 0.5) and a
// part (coverage 0.2), so it counts under 'object' only. Masks 4×4, feature maps 4×4 (the upsampling is the identity).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IouTally, iouMatrix } from '../../src/algo/dissect/tally.ts';
import { labelUnits } from '../../src/algo/dissect/label.ts';
import { conceptSpace } from '../../src/explain/dissect/store.ts';
import type { Concept } from '../../src/data/types.ts';

const concepts: Concept[] = [
  { id: 1, name: 'wheel', category: 'object', categories: ['object', 'part'], frequency: 2, coverage: 0.7, categoryCoverage: { object: 0.5, part: 0.2 } },
  { id: 2, name: 'door', category: 'part', categories: ['part'], frequency: 1, coverage: 0.1, categoryCoverage: { part: 0.1 } },
  { id: 3, name: 'car', category: 'object', categories: ['object'], frequency: 1, coverage: 0.5, categoryCoverage: { object: 0.5 } },
];
const ds = { concepts, concept: (id: number) => concepts.find((c) => c.id === id), unlabelledName: '' };
const space = conceptSpace(ds, ['object', 'part']);
// object map: car on rows 0–1, wheel on row 2; part map: wheel at row 3 cols 0–1, door at row 3 cols 2–3
const objectMap = [3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0];
const partMap = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2];
const row3 = (cols: number[], v = 1) => Array.from({ length: 16 }, (_, p) => (p >= 12 && cols.includes(p - 12) ? v : 0));
// unit 0: row 3; unit 1: the wheel-in-part pixels only; unit 2: never above its threshold;
// unit 3: one pixel at float32(0.1), threshold 0.1 (float64): max > T in float64, but the map is not > float32(T)
const features = Float32Array.from([...row3([0, 1, 2, 3]), ...row3([0, 1]), ...new Array(16).fill(0), ...row3([0], 0.1)]);
const thresholds = [0.5, 0.5, 0.5, 0.1];

test("conceptSpace: each label under its primary category only (largest coverage among the open categories; ties and none → the later one)", () => {
  assert.deepEqual(Array.from(space.primaryCategory), [1, 0, 1, 0]);
  assert.deepEqual(space.labelCategories, [[1], [0], [1], [0]]);
  assert.equal(space.names[0], ''); // no row 0 in label.csv → Lite's empty name
  // with 'part' the only open category, wheel's primary is part
  assert.deepEqual(Array.from(conceptSpace(ds, ["part"]).primaryCategory), [0, 0, 0, 0]);
  // a coverage tie goes to the later category
  const tie = [{ ...concepts[0], categoryCoverage: { object: 0.3, part: 0.3 } }];
  assert.equal(conceptSpace({ concepts: tie, concept: (id) => tie.find((c) => c.id === id) }, ['object', 'part']).primaryCategory[1], 1);
});

test("tally with Lite's rule: denominators per primary category, float32 threshold, never-activating unit named after label 0", () => {
  const t = new IouTally({ units: 4, featureH: 4, featureW: 4, thresholds, concepts: space });
  t.addImage(features, 0, { height: 4, width: 4, maps: [objectMap, partMap], scalars: [] });
  const r = t.result();
  // G: wheel 4 (object) + 2 (part) = 6; door 2; car 8
  assert.deepEqual([...r.truth], [0, 6, 2, 8]);
  // unit 0 activates row 3: wheel (primary object) and door (part) → both categories count its 4 pixels;
  // unit 1 activates the 2 wheel-in-part pixels → only 'object' counts them (the old all-categories rule added 'part')
  assert.deepEqual([...r.activationCat], [4, 4, 2, 0, 0, 0, 0, 0]);
  assert.deepEqual([...r.activated], [4, 2, 0, 0]); // unit 3: 0.1f is not > float32(0.1)
  const iou = iouMatrix(r, space);
  const L = 4;
  const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} vs ${b}`);
  near(iou[0 * L + 1], 2 / (4 + 6 - 2)); // wheel: A = the object denominator only
  near(iou[0 * L + 2], 2 / (4 + 2 - 2)); // door
  near(iou[1 * L + 1], 2 / (2 + 6 - 2)); // all-categories rule would give 2 / (4 + 6 − 2)
  const labels = labelUnits(r, space);
  assert.deepEqual(labels.map((u) => [u.name, u.category]), [
    ['door', 'part'],
    ['wheel', 'object'],
    ['', 'part'], // never above its threshold: Lite's argmax over zeros → label 0, the last category
    ['', 'part'],
  ]);
  near(labels[1].iou, 1 / 3);
});
