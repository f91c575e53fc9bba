// Code fingerprints (src/engine/codegraph.ts): which imports count, how a tree of modules is walked, and what a change
// reports — on hand-written sources in a temp tree, and on the project's own stages.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { besideReferences, codeFingerprint, diffCode, importSpecifiers, packageName } from '../../src/engine/codegraph.ts';
import { HashMemo } from '../../src/engine/fingerprint.ts';
import { repo } from './helpers.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('importSpecifiers: value imports, re-exports, side-effect and literal dynamic imports; type-only and commented ones are not code', () => {
  const src = `
import { a, type B } from './a.ts';
import type { C } from './types.ts';
import * as ns from "./ns.ts";
import def, { x as y } from './def.ts';
import './side.ts';
export * from './star.ts';
export { z } from './z.ts';
export type { T } from './t.ts';
import {
  m1,
  m2,
} from './multi.ts';
const lazy = await import('./lazy.ts');
const pkg = await import('onnxruntime-node');
const notLiteral = await import(spec);
// import { gone } from './commented.ts';
/* import { gone2 } from './block.ts'; */
const url = 'http://example.com/x'; import { after } from './after-url.ts';
export const s = 'import fake from "./in-string.ts"';
`;
  assert.deepEqual(importSpecifiers(src).sort(), ['./a.ts', './after-url.ts', './def.ts', './lazy.ts', './multi.ts', './ns.ts', './side.ts', './star.ts', './z.ts', 'onnxruntime-node'].sort());
  assert.deepEqual(besideReferences(`new Worker(new URL('./worker.mjs', import.meta.url)); const A = join(import.meta.dirname, 'assets');`), ['./worker.mjs', 'assets']);
  assert.equal(packageName('@tensorflow/tfjs-backend-wasm/dist/x'), '@tensorflow/tfjs-backend-wasm');
  assert.equal(packageName('sharp'), 'sharp');
  assert.equal(packageName('node:fs'), undefined);
  assert.equal(packageName('fs'), undefined);
});

test('codeFingerprint: the transitive graph (dynamic imports, workers, asset folders), nothing else; an edit names the file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xai-codegraph-'));
  dirs.push(root);
  const w = (rel: string, text: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  w('stages/s.ts', `import { a } from '../src/a.ts';\nexport default { run: async () => (await import('../src/lazy.ts')).f(a) };\n`);
  w('src/a.ts', `import type { T } from './types.ts';\nexport const a = 1;\n`);
  w('src/types.ts', `export type T = number;\n`);
  w('src/lazy.ts', `import sharp from 'sharp';\nexport const f = (x: number) => new Worker(new URL('./worker.mjs', import.meta.url));\nexport const css = join(import.meta.dirname, 'assets');\n`);
  w('src/worker.mjs', `await import('./job.ts');\n`);
  w('src/job.ts', `export {};\n`);
  w('src/assets/report.css', `body {}\n`);
  w('src/unrelated.ts', `export const u = 0;\n`);
  w('node_modules/sharp/package.json', `{ "version": "9.9.9" }`);
  const memo = new HashMemo(join(root, 'memo.json'));
  const fp = await codeFingerprint(join(root, 'stages/s.ts'), root, memo);
  assert.deepEqual(Object.keys(fp.files), ['src/a.ts', 'src/assets', 'src/job.ts', 'src/lazy.ts', 'src/worker.mjs', 'stages/s.ts']);
  assert.deepEqual(fp.packages, { sharp: '9.9.9' });

  // a type-only module and an unrelated one do not change the fingerprint
  appendFileSync(join(root, 'src/types.ts'), '// edited\n');
  appendFileSync(join(root, 'src/unrelated.ts'), '// edited\n');
  assert.equal((await codeFingerprint(join(root, 'stages/s.ts'), root, memo)).hash, fp.hash);
  // a module reached through a worker, an asset, and a package version do
  appendFileSync(join(root, 'src/job.ts'), '// edited\n');
  const fp2 = await codeFingerprint(join(root, 'stages/s.ts'), root, memo);
  assert.notEqual(fp2.hash, fp.hash);
  assert.deepEqual(diffCode(fp, fp2), ['code changed: src/job.ts']);
  w('src/assets/report.js', `;\n`);
  w('node_modules/sharp/package.json', `{ "version": "9.9.10" }`);
  const fp3 = await codeFingerprint(join(root, 'stages/s.ts'), root, memo);
  assert.deepEqual(diffCode(fp2, fp3), ['code changed: src/assets', 'package sharp: 9.9.9 → 9.9.10']);
  // a new import is named as such; a symlinked stages/ is followed to where its files really are (as Node does)
  w('src/a.ts', `import { u } from './unrelated.ts';\nexport const a = u;\n`);
  const fp4 = await codeFingerprint(join(root, 'stages/s.ts'), root, memo);
  assert.deepEqual(diffCode(fp3, fp4), ['code changed: src/a.ts, src/unrelated.ts (new import)']);
  const other = mkdtempSync(join(tmpdir(), 'xai-codegraph-link-'));
  dirs.push(other);
  symlinkSync(join(root, 'stages'), join(other, 'stages'), 'dir');
  const viaLink = await codeFingerprint(join(other, 'stages/s.ts'), root, memo);
  assert.equal(viaLink.hash, fp4.hash);
});

test("the project's stages: cam's graph reaches src/algo/cam/eigen.ts, lime's and the dissection stages' do not", async () => {
  const memo = new HashMemo(join(mkdtempSync(join(tmpdir(), 'xai-codegraph-memo-')), 'memo.json'));
  const files = async (kind: string) => Object.keys((await codeFingerprint(join(repo, 'stages', `${kind}.ts`), repo, memo)).files);
  assert.ok((await files('cam')).includes('src/algo/cam/eigen.ts'));
  for (const kind of ['lime', 'collect-activations', 'quantile-thresholds', 'label-units', 'synth-dataset', 'load-model']) {
    assert.ok(!(await files(kind)).includes('src/algo/cam/eigen.ts'), kind);
  }
  // the dissection workers' modules are in label-units' graph (worker.mjs imports them by literal specifiers)
  const lu = await files('label-units');
  assert.ok(lu.includes('src/explain/dissect/worker.mjs') && lu.includes('src/explain/dissect/tally.ts'), lu.join(' '));
});
