// ESM loader hooks of the xai CLI process (start-up time matters: a no-op rerun must take < 1 s).
// - load: TypeScript files outside node_modules are transpiled with esbuild (the compiler tsx uses, same
//   settings: ESM, type-only imports dropped), cached on disk under node_modules/.cache/xai-ts by content hash, so
//   a warm start does no compiling and loads no compiler.
// - resolve: `apache-arrow` resolves to its CommonJS build (Arrow.node.js): one require() graph instead of ~160 ESM
//   files each passing through the hooks. Every import of 'apache-arrow' in the process gets that same copy.
// Set XAI_LOADER=tsx to use tsx instead (bin/xai.mjs).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cacheDir = join(here, '..', 'node_modules', '.cache', 'xai-ts');
const require = createRequire(import.meta.url);
const LOADER_VERSION = '1';

let arrowUrl;
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'apache-arrow') {
    if (arrowUrl === undefined) {
      try {
        arrowUrl = pathToFileURL(createRequire(context.parentURL ?? import.meta.url).resolve('apache-arrow')).href;
      } catch {
        arrowUrl = null;
      }
    }
    if (arrowUrl) return { url: arrowUrl, format: 'commonjs', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

let esbuild;
async function transpile(source, path) {
  if (!esbuild) {
    let spec = 'esbuild';
    try {
      spec = createRequire(require.resolve('tsx')).resolve('esbuild');
    } catch {
      /* hoisted */
    }
    esbuild = await import(pathToFileURL(require.resolve(spec)).href);
    esbuild = esbuild.transform ? esbuild : esbuild.default;
  }
  const r = await esbuild.transform(source, {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: path,
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: false, useDefineForClassFields: true } },
  });
  return r.code;
}

export async function load(url, context, nextLoad) {
  const plain = url.replace(/[?#].*$/, '');
  if (plain.startsWith('file:') && /\.(ts|mts)$/.test(plain) && !plain.includes('/node_modules/')) {
    const path = fileURLToPath(plain);
    const source = readFileSync(path, 'utf8');
    const key = createHash('sha256').update(`${LOADER_VERSION}\0${path}\0${source}`).digest('hex').slice(0, 32);
    const cached = join(cacheDir, `${key}.mjs`);
    let code;
    try {
      code = readFileSync(cached, 'utf8');
    } catch {
      code = await transpile(source, path);
      try {
        mkdirSync(cacheDir, { recursive: true });
        const tmp = `${cached}.${process.pid}.tmp`;
        writeFileSync(tmp, code);
        renameSync(tmp, cached);
      } catch {
        /* read-only install: no cache */
      }
    }
    return { format: 'module', source: code, shortCircuit: true };
  }
  return nextLoad(url, context);
}
