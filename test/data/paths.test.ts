// Compact item paths (src/data/paths.ts): the same strings as path.join for every kind of relative path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { under } from '../../src/data/paths.ts';

test('under(dir)(rel) equals join(dir, rel), plain or not (., .., empty segments, absolute, trailing separators)', () => {
  const dirs = ['/data/broden/images', '/data/x/', 'relative/dir', '/', '.'];
  const rels = ['a.png', 'shapes/000001.png', './a.png', '../up.png', 'a//b.png', '/abs.png', 'dir/', '', 'a/./b.png', '.hidden/x.png', 'a\\b.png', '..', '.'];
  for (const d of dirs) {
    const f = under(d);
    for (const r of rels) assert.equal(f(r), join(d, r), `${d} + ${r}`);
  }
});
