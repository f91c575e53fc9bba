// Test helpers: temp projects that use the fixture stages in test/fixtures/stages, and the real CLI run as a
// child process (`node bin/xai.mjs …` with cwd = the project).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bin = join(repo, 'bin', 'xai.mjs');
export const fixtures = join(repo, 'test', 'fixtures', 'stages');

export interface Project {
  dir: string;
  write(rel: string, text: string): void;
  read(rel: string): string;
  json<T = any>(rel: string): T;
  /** `uses:` value for a fixture stage, relative to <dir>/pipelines/. */
  uses(name: string): string;
  cleanup(): void;
}

/** A temp project dir; `stages/<name>.ts` re-exports fixtures so `uses: <name>` also works. */
export function project(files: Record<string, string> = {}): Project {
  const dir = mkdtempSync(join(tmpdir(), 'xai-engine-'));
  const p: Project = {
    dir,
    write(rel, text) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    },
    read: (rel) => readFileSync(join(dir, rel), 'utf8'),
    json: (rel) => JSON.parse(readFileSync(join(dir, rel), 'utf8')),
    uses: (name) => relative(join(dir, 'pipelines'), join(fixtures, `${name}.ts`)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  for (const f of readdirSync(fixtures)) {
    if (f.endsWith('.ts')) p.write(`stages/${f}`, `export { default } from ${JSON.stringify(join(fixtures, f))};\n`);
  }
  for (const [rel, text] of Object.entries(files)) p.write(rel, text);
  return p;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
export function xai(cwd: string, args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env, CI: '1' }, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI; `done` resolves with its result. */
export function xaiAsync(cwd: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env, CI: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ code: code ?? -1, signal, stdout, stderr })));
  return { child, done, output: () => ({ stdout, stderr }) };
}

export async function waitFor(cond: () => boolean, timeoutMs = 20000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The latest run record of a pipeline. */
export function latestRun(p: Project, pipeline = 'p'): any {
  return p.json(`artifacts/runs/${pipeline}/latest.json`);
}

/** stage id → status in the latest run record. */
export function statuses(p: Project, pipeline = 'p'): Record<string, string> {
  const r = latestRun(p, pipeline);
  return Object.fromEntries(Object.entries(r.stages).map(([id, s]: [string, any]) => [id, s.status]));
}

/** Manifest of a stage's current entry (via the latest view). */
export function manifestOf(p: Project, stage: string, pipeline = 'p'): any {
  return p.json(`artifacts/${pipeline}/${stage}/manifest.json`);
}

export function exists(p: Project, rel: string): boolean {
  return existsSync(join(p.dir, rel));
}

/** Files under artifacts/cache that belong to complete entries: `<kind>/<key>`. */
export function completeEntries(p: Project): string[] {
  const base = join(p.dir, 'artifacts', 'cache');
  if (!existsSync(base)) return [];
  const out: string[] = [];
  for (const kind of readdirSync(base)) for (const key of readdirSync(join(base, kind))) if (existsSync(join(base, kind, key, 'manifest.json'))) out.push(`${kind}/${key}`);
  return out.sort();
}

/**
 * Runs the CLI's main() in this process with cwd = `cwd` (faster than spawning; for commands that only analyze,
 * like validation failures). stdout/stderr are captured.
 */
export async function xaiIn(cwd: string, args: string[]): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.ts');
  const { io } = await import('../../src/cli/io.ts');
  const prev = process.cwd();
  const { out, err } = io;
  let stdout = '';
  let stderr = '';
  io.out = (s) => void (stdout += s);
  io.err = (s) => void (stderr += s);
  process.chdir(cwd);
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.chdir(prev);
    io.out = out;
    io.err = err;
  }
}

/**
 * A temporary copy of the project itself (src, stages, bin, configs, models, pipelines, package.json; node_modules
 * linked): for tests that edit the product's own source files or need two independent artifact roots.
 */
export function projectCopy(): Project {
  const p = project();
  rmSync(join(p.dir, 'stages'), { recursive: true, force: true }); // the fixture re-exports: the real stages instead
  for (const d of ['src', 'stages', 'bin', 'configs', 'models', 'pipelines']) cpSync(join(repo, d), join(p.dir, d), { recursive: true });
  cpSync(join(repo, 'package.json'), join(p.dir, 'package.json'));
  symlinkSync(join(repo, 'node_modules'), join(p.dir, 'node_modules'), 'dir');
  return p;
}
