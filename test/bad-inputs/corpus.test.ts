// The bad-input corpus (cases.ts) through the real CLI, several processes at a time: each case in its own temporary
// project; see cases.ts for what each kind of case asserts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repo, xaiAsync } from '../engine/helpers.ts';
import { readArrowFile } from '../../src/arrow/io.ts';
import { encodePng } from '../../src/image/io.ts';
import { cases, type Case } from './cases.ts';
import { tinyNet } from './models.ts';

const base = mkdtempSync(join(tmpdir(), 'xai-bad-inputs-'));
const assets = join(base, 'assets');

before(() => {
  mkdirSync(join(assets, 'img'), { recursive: true });
  mkdirSync(join(assets, 'models'), { recursive: true });
  for (const [name, seed] of [['a.png', 1], ['b.png', 2]] as const) {
    writeFileSync(join(assets, 'img', name), encodePng(Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 31 + seed * 17) % 256), 64, 64, 3));
  }
  writeFileSync(join(assets, 'models', 'grey.onnx'), tinyNet({ channels: 1 }));
  writeFileSync(join(assets, 'models', 'four.onnx'), tinyNet({ channels: 4 }));
  writeFileSync(join(assets, 'models', 'flat.onnx'), tinyNet({ flat: true }));
  writeFileSync(join(assets, 'models', 'softmax.onnx'), tinyNet({ softmax: true }));
});
after(() => rmSync(base, { recursive: true, force: true }));

/** Every path under artifacts/ with its size (files) — what a failed command must leave unchanged. */
function listing(dir: string): string[] {
  const root = join(dir, 'artifacts');
  if (!existsSync(root)) return [];
  if (!statSync(root).isDirectory()) return [`artifacts (file, ${statSync(root).size} bytes)`];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        walk(join(d, e.name), r);
      } else out.push(`${r} ${statSync(join(d, e.name)).size}`);
    }
  };
  walk(root, 'artifacts');
  return out.sort();
}

async function makeProject(c: Case): Promise<string> {
  const dir = join(base, c.id);
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  for (const d of ['stages', 'configs', 'models']) symlinkSync(join(repo, d), join(dir, d), 'dir');
  symlinkSync(assets, join(dir, 'assets'), 'dir');
  for (const [rel, spec] of Object.entries(c.files ?? {})) {
    const file = join(dir, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof spec === 'function' ? await spec() : spec);
  }
  return dir;
}

// A small pool: at most `slots` CLI processes at once (each is a Node process with the model runtimes loaded).
const slots = Math.max(2, Math.min(6, cpus().length));
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= slots) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

test(`bad-input corpus: ${cases.length} cases`, { concurrency: true }, async (t) => {
  assert.ok(cases.length >= 60, `the corpus holds ${cases.length} cases, expected at least 60`);
  assert.equal(new Set(cases.map((c) => c.id)).size, cases.length, 'case ids are unique');
  await Promise.all(
    cases.map((c) =>
      t.test(`${c.area}: ${c.id} — ${c.input}`, async (st) => {
        const dir = await makeProject(c);
        const skip = c.setup?.(dir);
        if (skip) {
          console.log(`# bad-inputs: ${c.id} skipped: ${skip}`);
          st.skip(skip);
          return;
        }
        try {
          const before = listing(dir);
          const r = await slot(() => xaiAsync(dir, c.args).done);
          const shown = `xai ${c.args.join(' ')} → exit ${r.code}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout.slice(0, 2000)}`;
          assert.equal(r.code, c.exit, shown);
          assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace on stderr\n${shown}`);
          assert.doesNotMatch(r.stderr, /(^|\s)[A-Z]?[a-zA-Z]*Error: /m, `an Error: prefix on stderr\n${shown}`);
          if (c.exit !== 0) {
            assert.match(r.stderr, c.message, shown);
            assert.deepEqual(listing(dir), before, `artifacts/ changed\n${shown}`);
          } else {
            assert.match(r.stdout + r.stderr, c.message, shown);
            assert.deepEqual(listing(dir).filter((l) => l.startsWith('artifacts/work/') && l.split('/').length > 4), [], 'no work dir left behind');
            if (c.note) {
              const items = readArrowFile(join(dir, 'artifacts/p/imgs/items.arrow'));
              const ids = items.getChild('id')!.toArray() as string[];
              const notes = items.getChild('note')!.toArray() as (string | null)[];
              const at = ids.indexOf(c.note.item);
              assert.ok(at >= 0, `item ${c.note.item} in the items table`);
              assert.match(String(notes[at]), c.note.re);
              assert.equal(notes[ids.indexOf('ok.png')], null, 'a plain RGB image has no note');
              assert.equal((r.stdout + r.stderr).split('\n').filter((l) => /see the note column/.test(l)).length, 1, 'one summary warning line');
            }
          }
        } finally {
          c.teardown?.(dir);
        }
      }),
    ),
  );
});

test('docs/bad-inputs.md is generated from the case list (npx tsx scripts/bad-inputs-doc.ts)', async () => {
  const { renderDoc } = await import('../../scripts/bad-inputs-doc.ts');
  assert.equal(readFileSync(join(repo, 'docs', 'bad-inputs.md'), 'utf8'), renderDoc(cases));
});
