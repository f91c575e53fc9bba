// hBarChart's groupOrder (added for the report's per-layer concept histograms): a group keeps its colour across
// charts whatever order its items come in; without groupOrder, colours follow the order of appearance (as before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hBarChart } from '../../src/viz/svg.ts';

const fills = (svg: string) => [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="(#[0-9a-f]{6})"><title>([^:]+):/g)].map((m) => [m[2], m[1]]);

test('hBarChart groupOrder: the same group has the same colour in every chart', () => {
  const order = ['color', 'object', 'scene'];
  const a = hBarChart({ items: [{ label: 'red', value: 3, group: 'color' }, { label: 'star', value: 2, group: 'object' }], groupOrder: order });
  const b = hBarChart({ items: [{ label: 'star', value: 5, group: 'object' }, { label: 'sky', value: 4, group: 'scene' }, { label: 'red', value: 1, group: 'color' }], groupOrder: order });
  const ca = Object.fromEntries(fills(a));
  const cb = Object.fromEntries(fills(b));
  assert.equal(ca.red, cb.red);
  assert.equal(ca.star, cb.star);
  assert.equal(new Set([cb.red, cb.star, cb.sky]).size, 3);
  // the legend lists the groups present, in groupOrder
  const legend = [...b.matchAll(/width="10" height="10" fill="[^"]+"\/>\n<text [^>]+>([^<]+)</g)].map((m) => m[1]);
  assert.deepEqual(legend, ['color', 'object', 'scene']);
  // without it: order of appearance
  const c = Object.fromEntries(fills(hBarChart({ items: [{ label: 'star', value: 5, group: 'object' }, { label: 'red', value: 1, group: 'color' }] })));
  assert.equal(c.star, ca.red);
  assert.notEqual(c.red, c.star);
});
