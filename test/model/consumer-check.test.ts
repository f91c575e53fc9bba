// load-model's checks of downstream params (src/model/check.ts checkConsumerParams) on hand-made model facts: layer
// names, aliases and CAM layer sets; class targets by index, name, object and per-image override; LIME labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConsumerParams, type ModelFacts } from '../../src/model/check.ts';

const facts: ModelFacts = { file: 'm.onnx', names: new Set(['conv1', 'relu2', 'l2', 'input']), aliases: ['l2'], labels: ['n01440764 tench', 'goldfish', 'great white shark'], channels: 3 };
const paths = (params: Record<string, unknown>) => checkConsumerParams(facts, { stageId: 's', params }, 'model').map((e) => `${e.path}: ${e.detail}`);

test('layers: names, aliases, input and a+b layer sets pass; others are named with their key', () => {
  assert.deepEqual(paths({ layers: ['conv1', 'l2', 'input', 'conv1+l2'], layer: 'relu2' }), []);
  assert.deepEqual(paths({ layers: ['conv1', 'conv9', 'l2+nope'] }), [
    "stages.s.params.layers[1]: model 'model' has no layer or alias 'conv9'",
    "stages.s.params.layers[2]: model 'model' has no layer or alias 'l2+nope'",
  ]);
});

test('class targets: index range, names (synset forms), objects, overrides, LIME labels only without top_labels', () => {
  assert.deepEqual(paths({ target: 2 }), []);
  assert.deepEqual(paths({ target: 'tench' }), []);
  assert.deepEqual(paths({ target: 'n01440764' }), []);
  assert.deepEqual(paths({ target: 'top1' }), []);
  assert.deepEqual(paths({ target: 'label' }), []);
  assert.deepEqual(paths({ target: 3 }), ["stages.s.params.target: class index 3 is outside 0..2 (model 'model' has 3 classes)"]);
  assert.deepEqual(paths({ target: 'zebra' }), ["stages.s.params.target: model 'model' has no class named 'zebra'"]);
  assert.deepEqual(paths({ target: { class: -1 } }), ["stages.s.params.target.class: class index -1 is outside 0..2 (model 'model' has 3 classes)"]);
  assert.deepEqual(paths({ targets: { 'a.png': 'goldfish', 'b.png': 7 } }), ["stages.s.params.targets.b.png: class index 7 is outside 0..2 (model 'model' has 3 classes)"]);
  assert.deepEqual(paths({ top_labels: 5, labels: [9] }), []);
  assert.deepEqual(paths({ top_labels: null, labels: [1, 9] }), ["stages.s.params.labels[1]: class index 9 is outside 0..2 (model 'model' has 3 classes)"]);
});
