// 1-channel models: inspect calls them grey, and they take RGB batches (luma 0.299/0.587/0.114 at the model boundary,
// src/model/channels.ts); the expected values are a hand-computed luma of the same pixels fed as a 1-channel batch.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { tinyNet } from '../bad-inputs/models.ts';
import { closeModels, openModel } from '../../src/model/index.ts';
import { formatModelInfo } from '../../src/model/inspect.ts';

const dir = mkdtempSync(join(os.tmpdir(), 'xai-grey-'));
after(async () => {
  await closeModels();
  rmSync(dir, { recursive: true, force: true });
});

test('a 1-channel model: inspect says grey; RGB batches are reduced by the luma weights', async () => {
  writeFileSync(join(dir, 'grey.onnx'), tinyNet({ channels: 1, side: 8 }));
  const model = await openModel({ path: 'grey.onnx', input: { mean: [0.5], std: [0.25] } }, { root: dir });
  assert.equal(model.info.input.modelChannels, 1);
  assert.equal(model.info.input.channels, 3, 'the interface takes RGB batches');
  assert.match(formatModelInfo(model.info), /input\s+1×8×8 grey/);
  assert.doesNotMatch(formatModelInfo(model.info), /1×8×8 RGB/);
  const hw = 64;
  const rgb = Float32Array.from({ length: 2 * 3 * hw }, (_, i) => ((i * 37) % 101) / 50 - 1);
  const grey = new Float32Array(2 * hw);
  for (let b = 0; b < 2; b++) for (let i = 0; i < hw; i++) grey[b * hw + i] = 0.299 * rgb[b * 3 * hw + i] + 0.587 * rgb[b * 3 * hw + hw + i] + 0.114 * rgb[b * 3 * hw + 2 * hw + i];
  const a = await model.predict({ data: rgb, shape: [2, 3, 8, 8] });
  const b = await model.predict({ data: grey, shape: [2, 1, 8, 8] });
  for (let i = 0; i < a.logits.data.length; i++) assert.ok(Math.abs(a.logits.data[i] - b.logits.data[i]) < 1e-5, `logit ${i}`);
  // the input gradient is spread back to R, G, B by the same weights
  const wts = Float32Array.from([1, 0, 0, 0, 1, 0]);
  const gr = await model.gradients({ data: rgb, shape: [2, 3, 8, 8] }, 'input', wts);
  const gg = await model.gradients({ data: grey, shape: [2, 1, 8, 8] }, 'input', wts);
  assert.deepEqual(gr.gradients.shape, [2, 3, 8, 8]);
  for (let i = 0; i < hw; i++) assert.ok(Math.abs(gr.gradients.data[3 * hw + hw + i] - 0.587 * gg.gradients.data[hw + i]) < 1e-6);
});
