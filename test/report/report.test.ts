// The HTML report on a small real run (test/report/fixture.ts: demo model, CAM, LIME, compare, scoreboard, a
// 3-layer dissection, compare-concepts, the report stage): the site's contents against the stage outputs, the
// `xai report` command, optional sections — and the page in headless Chromium (the binary of the npm package
// @sparticuz/chromium, a devDependency, through playwright-core; test/report/browser.ts): no console errors, every
// image and chart loads, the units table sorts and filters, screenshots in test-output/. Without a runnable Chromium
// the browser test FAILS; XAI_SKIP_BROWSER=1 skips it explicitly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bin, buildFixture, fixtureMissing, IMAGES, repo } from './fixture.ts';
import { chromiumMissing, launch } from './browser.ts';
import type { RunRecord } from '../../src/engine/runs.ts';

const missing = fixtureMissing();
let dir = '';
let record: RunRecord;
let site = '';
let html = '';

const entryDir = (id: string) => {
  const s = record.stages[id];
  return join(dir, 'artifacts', 'cache', s.kind, s.key!);
};
const entryOf = (store: { get(kind: string, key: string, id: string): any }, id: string) => store.get(record.stages[id].kind, record.stages[id].key!, id)!;
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const xai = (args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};

before(async () => {
  if (missing) return;
  ({ dir, record } = await buildFixture());
  site = entryDir('report');
  html = readFileSync(join(site, 'index.html'), 'utf8');
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const skip = missing ? `skipped: ${missing}` : false;

/** Local paths an HTML page references (src / href), without fragments. */
function refs(page: string): string[] {
  return [...page.matchAll(/\s(?:src|href)="([^"#]+)(?:#[^"]*)?"/g)].map((m) => m[1].replace(/&amp;/g, '&'));
}

test('report stage: a self-contained site with every section the run has', { skip }, async () => {
  const m = JSON.parse(readFileSync(join(site, 'manifest.json'), 'utf8'));
  assert.deepEqual(m.meta.sections, ['images', 'agreement', 'dissection', 'concepts-l2l3', 'scoreboard', 'metadata']);
  for (const id of m.meta.sections) assert.match(html, new RegExp(`<section id="${id}">`), `section ${id}`);
  const r = refs(html);
  assert.ok(r.length > 50, `${r.length} references`);
  for (const p of r) {
    assert.doesNotMatch(p, /^[a-z]+:/i, `absolute URL in the page: ${p}`);
    assert.ok(existsSync(join(site, p)) && statSync(join(site, p)).size > 0, `referenced file ${p} exists in the site`);
  }
  // no network: nothing in the page, its CSS or JS points outside the site
  for (const f of ['index.html', 'assets/report.css', 'assets/report.js']) {
    assert.doesNotMatch(readFileSync(join(site, f), 'utf8'), /(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i, `${f} has no remote URL`);
  }
});

test('per image: the input, every CAM method and LIME side by side; overlays copied unchanged', { skip }, async () => {
  const cards = html.split('<article class="imgcard"').slice(1).map((c) => c.slice(0, c.indexOf('</article>')));
  assert.equal(cards.length, IMAGES);
  const { readArrowFile } = await import('../../src/arrow/io.ts');
  const cams = readArrowFile(join(entryDir('cams'), 'cams.arrow'));
  const lime = readArrowFile(join(entryDir('lime'), 'explanations.arrow'));
  const camRows = cams.toArray().map((r: any) => r.toJSON());
  const limeRows = lime.toArray().map((r: any) => r.toJSON()).filter((r: any) => r.rank === 0);
  for (const [i, card] of cards.entries()) {
    const imgs = [...card.matchAll(/<img src="([^"]+)" alt="([^"]*)"/g)].map((x) => ({ src: x[1], alt: x[2] }));
    assert.deepEqual(imgs.map((x) => x.alt), ['input', 'Grad-CAM', 'Grad-CAM++', 'EigenCAM', `LIME: ${limeRows[i].label_name}`]);
    const id = /<span class="imgid">([^<]+)<\/span>/.exec(card)![1];
    assert.equal(id, limeRows[i].id);
    for (const [j, method] of ['gradcam', 'gradcam++', 'eigencam'].entries()) {
      const row = camRows.find((r: any) => r.image === id && r.method === method);
      assert.equal(sha(join(site, imgs[j + 1].src)), sha(join(entryDir('cams'), row.overlay)), `${id} ${method} overlay`);
    }
    assert.equal(sha(join(site, imgs[4].src)), sha(join(entryDir('lime'), limeRows[i].overlay)), `${id} LIME overlay`);
    const pred = camRows.find((r: any) => r.image === id && r.method === 'gradcam');
    assert.ok(card.includes(`predicted: <b>${pred.target_name}</b>`), `${id}: predicted class shown`);
  }
});

test('Grad-CAM vs LIME: per-image IoU and ranking from the compare stage', { skip }, async () => {
  const { readArrowFile } = await import('../../src/arrow/io.ts');
  const rows = readArrowFile(join(entryDir('compare'), 'per_image.arrow'))
    .toArray()
    .map((r: any) => r.toJSON())
    .filter((r: any) => r.method === 'gradcam');
  assert.equal(rows.length, IMAGES);
  const section = html.slice(html.indexOf('<section id="agreement">'), html.indexOf('</section>', html.indexOf('<section id="agreement">')));
  const full = section.slice(section.indexOf('Full ranking'));
  const ranked = [...full.matchAll(/<tr><td class="num">(\d+)<\/td><td>(?:<a [^>]*>)?([^<]+)(?:<\/a>)?<\/td>.*?<span class="bar"[^>]*><\/span>([0-9.]+)<\/td><\/tr>/g)].map((m) => ({ rank: Number(m[1]), id: m[2], iou: Number(m[3]) }));
  assert.equal(ranked.length, IMAGES);
  const expected = [...rows].sort((a: any, b: any) => b.iou - a.iou || a.index - b.index);
  assert.deepEqual(ranked.map((r) => r.id), expected.map((r: any) => r.image));
  ranked.forEach((r, i) => assert.equal(r.iou, Number(expected[i].iou.toFixed(3))));
  assert.match(section, /<img src="charts\/agreement-iou\.svg"/);
  const svg = readFileSync(join(site, 'charts', 'agreement-iou.svg'), 'utf8');
  assert.equal((svg.match(/<rect x=[^>]+><title>/g) ?? []).length, IMAGES, 'one bar per image');
});

test('dissection: one units-table row per unit; each strip is the top images with the region highlighted', { skip }, async () => {
  const { readArrowFile } = await import('../../src/arrow/io.ts');
  const units = readArrowFile(join(entryDir('units'), 'units.arrow')).toArray().map((r: any) => r.toJSON());
  const trs = [...html.matchAll(/<tr data-layer="([^"]+)" data-category="([^"]+)" data-label="([^"]+)" data-iou="([^"]+)"[^>]*>.*?<td class="num" data-v="(\d+)">.*?<\/tr>/g)];
  assert.equal(trs.length, units.length);
  const byKey = new Map(units.map((u: any) => [`${u.layer}/${u.unit}`, u]));
  for (const m of trs) {
    const u: any = byKey.get(`${m[1]}/${m[5]}`);
    assert.ok(u, `row ${m[1]}/${m[5]} is a unit`);
    assert.equal(m[2], u.category);
    assert.equal(m[3], u.label);
    assert.equal(Number(m[4]), u.iou);
  }
  // rows come sorted by IoU, best first
  const ious = trs.map((m) => Number(m[4]));
  assert.deepEqual(ious, [...ious].sort((a, b) => b - a));
  // a strip, recomputed independently from the top_maps table, the dataset image and the unit's threshold
  const { decodeImage, fitPixels } = await import('../../src/image/io.ts');
  const { unitMask, highlightRegion } = await import('../../src/algo/dissect/overlay.ts');
  const top = readArrowFile(join(entryDir('units'), 'top_maps.arrow'));
  const best = units.reduce((a: any, b: any) => (b.iou > a.iou ? b : a));
  const rowHtml = trs.find((m) => m[1] === best.layer && Number(m[5]) === best.unit)![0];
  const src = /<td class="tops"><img src="([^"]+)"/.exec(rowHtml)![1];
  const strip = await decodeImage(join(site, src));
  const T = 64;
  const ranks = top
    .toArray()
    .map((r: any) => r.toJSON())
    .filter((r: any) => r.layer === best.layer && r.unit === best.unit && r.rank <= 4)
    .sort((a: any, b: any) => a.rank - b.rank);
  assert.equal(strip.height, T);
  assert.equal(strip.width, ranks.length * T + (ranks.length - 1) * 3);
  const ds = join(dir, 'artifacts', 'cache', 'synth-dataset', record.stages.shapes.key!);
  for (const [j, r] of ranks.entries()) {
    const imgPath = readdirSync(join(ds), { recursive: true }).map(String).find((p) => p.endsWith(r.id));
    assert.ok(imgPath, `image ${r.id} in the dataset`);
    const im = await decodeImage(join(ds, imgPath!));
    const mask = unitMask(Float32Array.from(r.map), r.height, r.width, im.height, im.width, best.threshold, 'pil');
    if (j === 0) assert.ok(mask.some((v) => v) && mask.some((v) => !v), `rank 1: the region is a part of the image`);
    const want = fitPixels(highlightRegion(im.data, im.height, im.width, mask), im.width, im.height, 3, T, T, { fit: 'stretch' }, 'linear');
    for (let y = 0; y < T; y++) {
      const got = strip.data.subarray((y * strip.width + j * (T + 3)) * 3, (y * strip.width + j * (T + 3) + T) * 3);
      assert.deepEqual(got, want.subarray(y * T * 3, (y + 1) * T * 3), `rank ${r.rank}, row ${y}`);
    }
  }
});

test('xai report <pipeline>: the run record adds status, times and cache hits; bad targets are usage errors', { skip }, async () => {
  const first = xai(['report', 'pipelines/demo.yaml', '--out', 'site1', '--top', '1']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout.trim(), join('site1', 'index.html'));
  const page1 = readFileSync(join(dir, 'site1', 'index.html'), 'utf8');
  assert.match(page1, /<b>reportdemo<\/b>/);
  assert.match(page1, /11: 11 computed, 0 from the cache/);
  for (const p of refs(page1)) assert.ok(existsSync(join(dir, 'site1', p)), `site1/${p}`);
  // a no-op rerun: every stage from the cache; the report of the latest run (by pipeline name) says so
  const rerun = xai(['run', 'pipelines/demo.yaml']);
  assert.equal(rerun.code, 0, rerun.stderr);
  // a sweep of two LIME configurations (100 = the base run's, cached): its scoreboard joins the report
  const sweep = xai(['sweep', 'pipelines/demo.yaml', '--grid', 'stages.lime.num_samples=50,100', '--quiet']);
  assert.equal(sweep.code, 0, sweep.stderr);
  const second = xai(['report', 'reportdemo', '--top', '1']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.trim(), join('artifacts', 'reports', 'reportdemo', 'index.html'));
  const page2 = readFileSync(join(dir, second.stdout.trim()), 'utf8');
  assert.match(page2, /11: 0 computed, 11 from the cache/);
  assert.equal((page2.match(/<span class="status cached">cached<\/span>/g) ?? []).length, 11);
  const board = page2.slice(page2.indexOf('<section id="scoreboard">'));
  assert.match(board, /<h3>Sweep [^<]*<\/h3>/);
  assert.match(board, /num_samples=50/);
  assert.match(board, /num_samples=100/);
  assert.ok(/<img src="charts\/pareto-sweep[^"]*\.svg"/i.test(board), "the sweep's Pareto plot");
  // the first run's record by file still reports that run
  const runFile = relative(dir, join(dir, 'artifacts', 'runs', 'reportdemo', `${record.runId}.json`));
  const third = xai(['report', runFile, '--out', 'site3', '--images', '2', '--top', '1']);
  assert.equal(third.code, 0, third.stderr);
  const page3 = readFileSync(join(dir, 'site3', 'index.html'), 'utf8');
  assert.match(page3, new RegExp(`run ${record.runId}`));
  assert.equal(page3.split('<article class="imgcard"').length - 1, 2);
  const bad = xai(['report', 'no-such-pipeline']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /'no-such-pipeline' is not a pipeline file, a pipeline with runs, a run record or a run id/);
  assert.match(bad.stderr, /reportdemo/);
  const usage = xai(['report']);
  assert.equal(usage.code, 2);
});

test('every section is optional: a report of only a dissection, or of nothing', { skip }, async () => {
  const { EntryStore } = await import('../../src/report/sources.ts');
  const { buildReport } = await import('../../src/report/build.ts');
  const { openCache } = await import('../../src/engine/cache.ts');
  const store = new EntryStore(openCache(dir));
  const units = entryOf(store, 'units');
  const only = await buildReport([units], { outDir: join(dir, 'only-units'), root: dir, topImages: 2, thumb: 32 });
  assert.deepEqual(only.sections, ['dissection', 'metadata']);
  const page = readFileSync(only.index, 'utf8');
  assert.doesNotMatch(page, /imgcard|id="agreement"|id="scoreboard"/);
  for (const p of refs(page)) assert.ok(existsSync(join(dir, 'only-units', p)), p);
  const none = await buildReport([], { outDir: join(dir, 'none'), root: dir });
  assert.deepEqual(none.sections, ['metadata']);
  // from a LIME stage alone, its dataset is found through the cache (its manifest's input key)
  const lime = entryOf(store, 'lime');
  assert.equal(lime.inputs.images?.kind, 'synth-dataset');
  const limeOnly = await buildReport([lime], { outDir: join(dir, 'lime-only'), root: dir });
  assert.deepEqual(limeOnly.sections, ['images', 'metadata']);
  assert.equal((readFileSync(limeOnly.index, 'utf8').match(/alt="input"/g) ?? []).length, IMAGES);
});

test('browser: the demo report in headless Chromium — no errors, images and charts load, the units table sorts and filters', { skip: skip || (process.env.XAI_SKIP_BROWSER === '1' ? 'XAI_SKIP_BROWSER=1' : false), timeout: 90_000 }, async () => {
  const why = await chromiumMissing();
  if (why) assert.fail(`browser test: ${why}; set XAI_SKIP_BROWSER=1 to run the rest of the suite without a browser`);
  const b = await launch();
  try {
    const page = await b.context.newPage();
    await page.setViewportSize({ width: 1360, height: 900 });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : (problems.push(`network request: ${route.request().url()}`), route.abort())));
    await page.goto(pathToFileURL(join(site, 'index.html')).href, { waitUntil: 'load' });
    // lazy images (unit strips, gallery tiles) load when scrolled to; load them all now
    // (these callbacks run in the page: `doc` is its document; the test's tsconfig has no DOM types)
    await page.evaluate(() => (globalThis as any).document.querySelectorAll('img').forEach((i: any) => (i.loading = 'eager')));
    await page.waitForFunction(() => Array.from((globalThis as any).document.images as any[]).every((i) => i.complete), undefined, { timeout: 30_000 });
    const imgs = await page.evaluate(() =>
      Array.from((globalThis as any).document.images as any[]).map((i) => {
        const r = i.getBoundingClientRect();
        return { src: i.getAttribute('src') as string, nw: i.naturalWidth, nh: i.naturalHeight, w: r.width, h: r.height, hidden: !!i.closest('details:not([open])') };
      }),
    );
    assert.ok(imgs.length > 200, `${imgs.length} images`);
    const broken = imgs.filter((i) => !(i.nw > 0 && i.nh > 0));
    assert.deepEqual(broken.map((i) => i.src), [], 'every image decodes (natural size > 0)');
    const charts = imgs.filter((i) => i.src.endsWith('.svg'));
    assert.ok(charts.length >= 7, `${charts.length} SVG charts`);
    const flat = charts.filter((i) => !i.hidden && !(i.w > 0 && i.h > 0));
    assert.deepEqual(flat.map((i) => i.src), [], 'every SVG chart renders with a non-zero size');
    mkdirSync(join(repo, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(repo, 'test-output', 'report.png') });

    // units table: sort by unit (descending first for numbers, then ascending), filter by layer / category / label / IoU
    const rows = () =>
      page.$$eval('#units tbody tr', (trs: any[]) =>
        trs.filter((t) => !t.hidden).map((t) => ({ layer: t.getAttribute('data-layer') as string, cat: t.getAttribute('data-category') as string, label: t.getAttribute('data-label') as string, iou: Number(t.getAttribute('data-iou')), unit: Number(t.cells[1].textContent) })),
      );
    const all = await rows();
    const total = all.length;
    assert.ok(total > 100, `${total} units`);
    const unitHead = page.locator('#units thead th', { hasText: 'unit' });
    await unitHead.click();
    const desc = await rows();
    assert.notDeepEqual(desc.map((r) => r.unit), all.map((r) => r.unit), 'sorting changes the order');
    assert.deepEqual(desc.map((r) => r.unit), [...desc.map((r) => r.unit)].sort((a, b) => b - a), 'sorted by unit, descending');
    await unitHead.click();
    const asc = await rows();
    assert.deepEqual(asc.map((r) => r.unit), [...asc.map((r) => r.unit)].sort((a, b) => a - b), 'then ascending');
    await page.locator('#units thead th', { hasText: 'IoU' }).click();
    const byIou = await rows();
    assert.deepEqual(byIou.map((r) => r.iou), [...byIou.map((r) => r.iou)].sort((a, b) => b - a), 'sorted by IoU, descending');

    await page.selectOption('[data-filter="layer"]', 'layer1');
    const l1 = await rows();
    assert.ok(l1.length > 0 && l1.length < total, `${l1.length} layer1 rows of ${total}`);
    assert.ok(l1.every((r) => r.layer === 'layer1'));
    assert.equal(l1.length, all.filter((r) => r.layer === 'layer1').length);
    assert.equal(await page.textContent('[data-count]'), `${l1.length} of ${total} units`);
    await page.selectOption('[data-filter="layer"]', '');
    await page.selectOption('[data-filter="category"]', 'color');
    const colour = await rows();
    assert.equal(colour.length, all.filter((r) => r.cat === 'color').length);
    await page.selectOption('[data-filter="category"]', '');
    await page.fill('[data-filter="iou"]', '0.1');
    const strong = await rows();
    assert.equal(strong.length, all.filter((r) => r.iou >= 0.1).length);
    assert.ok(strong.length < total);
    await page.fill('[data-filter="iou"]', '');
    const label = all[0].label;
    await page.fill('[data-filter="label"]', label);
    const lab = await rows();
    assert.equal(lab.length, all.filter((r) => r.label.toLowerCase().includes(label.toLowerCase())).length);
    await page.fill('[data-filter="label"]', 'no such concept');
    assert.equal((await rows()).length, 0);
    await page.fill('[data-filter="label"]', '');
    await page.check('[data-filter="interpretable"]');
    await page.selectOption('[data-filter="layer"]', 'layer3');
    await page.locator('#dissection-units').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(repo, 'test-output', 'report-units.png') });
    assert.ok(statSync(join(repo, 'test-output', 'report.png')).size > 10_000);
    assert.deepEqual(problems, [], 'no console errors, failed or network requests');
  } finally {
    await b.close();
  }
});
