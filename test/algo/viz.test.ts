import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, escapeXml, groupedBarChart, hBarChart, scatterChart } from '../../src/viz/svg.ts';

/** Minimal XML well-formedness check: balanced tags, quoted attributes, only the five entities, one root. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  let roots = 0;
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|<[^>]*>?/g;
  let last = 0;
  let m: RegExpExecArray | null;
  const checkText = (t: string) => {
    assert.ok(!/[<>]/.test(t), `stray < or > in text: ${t}`);
    for (const e of t.match(/&[^;\s]*;?/g) ?? []) assert.ok(/^&(amp|lt|gt|quot|apos);$/.test(e), `bad entity ${e}`);
  };
  while ((m = re.exec(xml))) {
    checkText(xml.slice(last, m.index));
    last = re.lastIndex;
    if (m[0].startsWith('<!--')) continue;
    assert.ok(m[2], `malformed tag: ${m[0]}`);
    for (const a of m[3].matchAll(/"([^"]*)"/g)) checkText(a[1]);
    if (m[1]) assert.equal(stack.pop(), m[2], `unbalanced </${m[2]}>`);
    else if (!m[4]) {
      if (stack.length === 0) roots++;
      stack.push(m[2]);
    } else if (stack.length === 0) roots++;
  }
  checkText(xml.slice(last));
  assert.equal(stack.length, 0, `unclosed: ${stack.join(',')}`);
  assert.equal(roots, 1);
}

function size(svg: string): [number, number] {
  const m = /^<svg [^>]*width="([\d.]+)" height="([\d.]+)"/.exec(svg);
  assert.ok(m, 'width/height on the root');
  return [Number(m![1]), Number(m![2])];
}

test('escapeXml', () => {
  assert.equal(escapeXml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;');
});

test('bar chart: well-formed, sized, labels escaped', () => {
  const svg = barChart({ title: 'IoU per image <CAM vs LIME>', labels: ['West Highland white terrier', 'racer & co'], values: [0.4, 0.06], yLabel: 'IoU' });
  assertWellFormed(svg);
  const [w, h] = size(svg);
  assert.ok(w > 0 && h > 0);
  assert.ok(svg.includes('West Highland white terrier'));
  assert.ok(svg.includes('racer &amp; co'));
  assert.ok(svg.includes('&lt;CAM vs LIME&gt;'));
  assert.equal((svg.match(/<rect [^>]*fill="#4e79a7"/g) ?? []).length, 2);
  assertWellFormed(barChart({ labels: ['neg', 'pos'], values: [-1, 2] }));
  assertWellFormed(barChart({ labels: [], values: [] }));
});

test('horizontal bar chart (concept histogram) with category legend', () => {
  const svg = hBarChart({
    title: 'layer4 concepts',
    items: [{ label: 'dog', value: 12, group: 'object' }, { label: 'sky', value: 7, group: 'object' }, { label: 'red', value: 3, group: 'color' }],
    xLabel: 'units',
  });
  assertWellFormed(svg);
  size(svg);
  for (const s of ['dog', 'sky', 'red', 'object', 'color', 'units', 'layer4 concepts']) assert.ok(svg.includes(`>${s}<`), s);
});

test('grouped bar chart and scatter with a Pareto line', () => {
  const g = groupedBarChart({ groups: ['object', 'scene'], series: [{ name: 'layer3', values: [3, 1] }, { name: 'layer4', values: [9, 4] }], title: 'interpretable' });
  assertWellFormed(g);
  for (const s of ['object', 'scene', 'layer3', 'layer4']) assert.ok(g.includes(`>${s}<`), s);
  const sc = scatterChart({
    points: [{ x: 1, y: 0.3, label: 'n=250' }, { x: 2, y: 0.5, label: 'n=500' }, { x: 3, y: 0.4, label: 'n="1000"' }],
    pareto: [0, 1],
    xLabel: 'avg time (s)',
    yLabel: 'avg IoU',
  });
  assertWellFormed(sc);
  size(sc);
  assert.ok(sc.includes('<path d="M'));
  assert.ok(sc.includes('n=&quot;1000&quot;'));
  assert.throws(() => barChart({ labels: ['a'], values: [] }), /1 labels for 0 values/);
});
