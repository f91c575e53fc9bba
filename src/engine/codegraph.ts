// Code fingerprints for cache keys, as wireit and Bazel key on their inputs: a stage entry's key covers the stage
// module and every project source file it imports, transitively (the static import graph: `import … from`,
// `export … from`, `import('literal')`; type-only imports are left out, they do not run), plus the versions of the
// npm packages that graph imports (onnxruntime-node, sharp, tfjs, apache-arrow, …). Editing src/algo/cam/eigen.ts
// therefore makes the cam stage's entries stale and leaves stages whose graph does not reach it cached.
// File hashes are memoised by path + size + mtime (HashMemo), import lists per process, so a fully cached rerun pays
// a stat per file.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { canonicalJson, hashPath, sha256, type HashMemo } from './fingerprint.ts';

/** What a stage's code key is made of: project files (path relative to the root → sha256) and package versions. */
export interface CodeFingerprint {
  /** sha256 over files and packages (what enters the cache key). */
  hash: string;
  files: Record<string, string>;
  packages: Record<string, string>;
}

// `import x from '…'`, `import {a} from "…"`, `export * from '…'`, `import '…'` (side effects), `import('…')`.
// Type-only forms (`import type`, `export type`) are skipped: they are erased before the code runs.
const STATIC = /(?:^|[\n;])\s*(import|export)\s+(type\s+)?(?:[\w*${}\s,]*?\s+from\s+)?(['"])([^'"\n]+)\3/g;
const DYNAMIC = /\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g;
// Files a module reads next to itself: `new URL('./worker.mjs', import.meta.url)`, `join(import.meta.dirname, 'assets')`.
const BESIDE = /\bnew\s+URL\(\s*(['"])([^'"\n]+)\1\s*,\s*import\.meta\.url\s*\)|\bjoin\(\s*import\.meta\.dirname\s*,\s*(['"])([^'"\n]+)\3\s*\)/g;
const CODE = /\.(?:[cm]?[jt]s|tsx|jsx)$/;
const COMMENT = /\/\*[\s\S]*?\*\/|(^|[^:'"`\\])\/\/[^\n]*/g;

/** Import specifiers of a TypeScript/JavaScript source (value imports only). */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(COMMENT, '$1');
  const out = new Set<string>();
  for (const m of code.matchAll(STATIC)) if (!m[2]) out.add(m[4]);
  for (const m of code.matchAll(DYNAMIC)) out.add(m[2]);
  return [...out];
}

/** Paths a module names relative to itself (worker scripts, asset folders): `new URL('…', import.meta.url)` etc. */
export function besideReferences(source: string): string[] {
  const code = source.replace(COMMENT, '$1');
  return [...new Set([...code.matchAll(BESIDE)].map((m) => m[2] ?? m[4]))];
}

/** The npm package a bare specifier names (`@scope/name/sub` → `@scope/name`), or undefined for node builtins. */
export function packageName(spec: string): string | undefined {
  if (spec.startsWith('node:')) return undefined;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return BUILTINS.has(name) ? undefined : name;
}
const BUILTINS = new Set(createRequire(import.meta.url)('node:module').builtinModules as string[]);

interface Parsed {
  size: number;
  mtimeMs: number;
  local: string[];
  packages: string[];
  /** Files or folders read beside the module (hashed, not parsed unless code). */
  beside: string[];
}
const parsed = new Map<string, Parsed>();

function parseFile(abs: string): Parsed {
  const st = statSync(abs);
  const have = parsed.get(abs);
  if (have && have.size === st.size && have.mtimeMs === st.mtimeMs) return have;
  const local: string[] = [];
  const packages: string[] = [];
  const source = readFileSync(abs, 'utf8');
  for (const spec of importSpecifiers(source)) {
    if (spec.startsWith('.') || isAbsolute(spec)) {
      const target = resolve(dirname(abs), spec);
      if (!target.split(sep).includes('node_modules')) local.push(target);
    } else {
      const p = packageName(spec);
      if (p) packages.push(p);
    }
  }
  const beside = besideReferences(source)
    .filter((r) => r.startsWith('.') || !r.includes(':'))
    .map((r) => resolve(dirname(abs), r));
  const p = { size: st.size, mtimeMs: st.mtimeMs, local, packages, beside };
  parsed.set(abs, p);
  return p;
}

const versionCache = new Map<string, { mtimeMs: number; version: string }>();
/** Installed version of a package, found from `root` upwards (node_modules); 'missing' when absent. */
function packageVersion(name: string, root: string): string {
  for (let d = root; ; d = dirname(d)) {
    const pj = join(d, 'node_modules', name, 'package.json');
    let mtimeMs: number;
    try {
      mtimeMs = statSync(pj).mtimeMs;
    } catch {
      if (dirname(d) === d) return 'missing';
      continue;
    }
    const have = versionCache.get(pj);
    if (have && have.mtimeMs === mtimeMs) return have.version;
    let version = 'unknown';
    try {
      version = (JSON.parse(readFileSync(pj, 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      /* unreadable package.json */
    }
    versionCache.set(pj, { mtimeMs, version });
    return version;
  }
}

/** A file's name in fingerprints and messages: relative to the project root when inside it ('/' separators). */
export function codeLabel(abs: string, root: string): string {
  const r = relative(root, abs);
  return r.startsWith('..') || isAbsolute(r) ? abs : r.split(sep).join('/');
}

/**
 * The code fingerprint of a stage module: every project file its import graph reaches (content hashes) and the
 * versions of the packages the graph imports. A relative import that names a missing file is recorded as 'missing'
 * (it fails when the stage runs; the key still changes when it appears).
 */
export async function codeFingerprint(modulePath: string, root: string, memo: HashMemo): Promise<CodeFingerprint> {
  const files: Record<string, string> = {};
  const pkgs = new Set<string>();
  const seen = new Set<string>();
  const stack = [resolve(modulePath)];
  while (stack.length) {
    let abs = stack.pop()!;
    try {
      abs = realpathSync(abs); // as Node resolves modules: a symlinked stages/ imports from where it really is
    } catch {
      /* missing: recorded below */
    }
    if (seen.has(abs)) continue;
    seen.add(abs);
    let p: Parsed;
    try {
      p = parseFile(abs);
    } catch {
      files[codeLabel(abs, root)] = 'missing';
      continue;
    }
    files[codeLabel(abs, root)] = await memo.hashFile(abs);
    for (const f of p.local) stack.push(f);
    for (const n of p.packages) pkgs.add(n);
    for (const b of p.beside) {
      if (CODE.test(b)) stack.push(b);
      else files[codeLabel(b, root)] ??= await hashPath(b, memo);
    }
  }
  const sortedFiles = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const packages = Object.fromEntries([...pkgs].sort().map((n) => [n, packageVersion(n, root)]));
  return { hash: sha256(canonicalJson({ files: sortedFiles, packages })), files: sortedFiles, packages };
}

/** Human-readable differences between two fingerprints: `code changed: src/a.ts`, `package sharp: 0.35.4 → 0.35.5`. */
export function diffCode(before: Pick<CodeFingerprint, 'files' | 'packages'>, now: Pick<CodeFingerprint, 'files' | 'packages'>): string[] {
  const out: string[] = [];
  const changed: string[] = [];
  for (const f of new Set([...Object.keys(before.files), ...Object.keys(now.files)])) {
    if (before.files[f] === now.files[f]) continue;
    if (!(f in before.files)) changed.push(`${f} (new import)`);
    else if (!(f in now.files)) changed.push(`${f} (no longer imported)`);
    else changed.push(f);
  }
  changed.sort();
  if (changed.length) out.push(`code changed: ${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ` and ${changed.length - 5} more` : ''}`);
  for (const n of new Set([...Object.keys(before.packages), ...Object.keys(now.packages)])) {
    if (before.packages[n] !== now.packages[n]) out.push(`package ${n}: ${before.packages[n] ?? '(none)'} → ${now.packages[n] ?? '(none)'}`);
  }
  return out;
}
