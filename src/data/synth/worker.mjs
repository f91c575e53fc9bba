// Worker thread of the "shapes" generator: renders and encodes chunks of items (encodeShapesItem) and posts them back
// with their buffers transferred. A plain .mjs so it starts whatever loader the parent used: it registers tsx itself.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { encodeShapesItem } = await import('./shapes.ts');

parentPort.on('message', (m) => {
  try {
    const items = [];
    const transfer = [];
    for (let i = m.start; i < m.end; i++) {
      const e = encodeShapesItem(m.seed, i, m.size, m.maxObjects);
      items.push(e);
      for (const b of [e.imagePng, e.gtPng, e.colorMap, e.objectMap, e.colorPng, e.objectPng]) transfer.push(b.buffer);
    }
    parentPort.postMessage({ chunk: m.chunk, items }, transfer);
  } catch (e) {
    parentPort.postMessage({ chunk: m.chunk, error: e && e.stack ? e.stack : String(e) });
  }
});
