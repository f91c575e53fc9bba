// Only the engine's store knows the artifacts layout: outside src/engine/cache.ts (entries, manifests) and
// src/engine/runs.ts (run records, state, the latest view) no source file names the manifest or run-record files,
// joins a cache path, or re-derives the entry directory's name; everything reads entries through the Cache interface.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fg from 'fast-glob';
import { repo } from './helpers.ts';

const OWNERS = new Set(['src/engine/cache.ts', 'src/engine/runs.ts']);
const LEAKS: [RegExp, string][] = [
  [/manifest\.json/, 'the manifest file name'],
  [/latest\.json|state\.json/, 'run-record file names'],
  [/artifacts\/cache|'artifacts',\s*'cache'|'cache',\s*[a-z]/, 'a cache path'],
  [/'artifacts',\s*'runs'|artifacts\/runs\/\$\{|join\([^)]*'runs'/, 'a run-record path'],
  [/\[\^A-Za-z0-9_\.-\]\/g, '_'/, "the entry directory's name rule (safeName)"],
];

test('no file outside the store module knows the cache layout', async () => {
  const files = (await fg(['src/**/*.{ts,mjs}', 'stages/**/*.ts', 'bin/**/*.mjs'], { cwd: repo })).filter((f) => !OWNERS.has(f));
  assert.ok(files.length > 50, `${files.length} files`);
  const found: string[] = [];
  for (const f of files) {
    readFileSync(`${repo}/${f}`, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const [re, what] of LEAKS) if (re.test(line)) found.push(`${f}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`);
      });
  }
  assert.deepEqual(found, []);
});
