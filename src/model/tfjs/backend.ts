// TF.js backend selection: tfjs-node-gpu → tfjs-node → wasm → cpu (first that loads), overridable by the model
// config (`backend:`) or the environment (XAI_TFJS_BACKEND, which wins). Each candidate is a guarded dynamic import;
// the choice is logged once. The wasm backend finds its .wasm binaries in node_modules (setWasmPaths with a file
// path, no network), and gets the kernels that gradients need but tfjs-backend-wasm 4.22 lacks (wasm-kernels.ts).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { ConfigError } from '../../engine/errors.ts';
import type { TfjsBackendName } from '../config.ts';

export type TF = typeof tfTypes;

export const BACKEND_ORDER: TfjsBackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

let tfPromise: Promise<TF> | undefined;
let active: { name: TfjsBackendName; tf: TF } | undefined;
const failures = new Map<TfjsBackendName, string>();

/** Where backend choices are logged (default: one stderr line, silent under XAI_TEST). */
export let backendLog: (msg: string) => void = (msg) => {
  if (!process.env.XAI_TEST) process.stderr.write(`[model] ${msg}\n`);
};
export function setBackendLog(f: (msg: string) => void): void {
  backendLog = f;
}

export function loadTf(): Promise<TF> {
  tfPromise ??= (async () => {
    // tfjs prints a banner suggesting tfjs-node on import in Node; keep the console clean.
    const warn = console.warn;
    console.warn = (...a: unknown[]) => {
      if (typeof a[0] === 'string' && a[0].includes('looks like you are running TensorFlow.js in Node.js')) return;
      warn(...a);
    };
    try {
      const tf = (await import('@tensorflow/tfjs')) as unknown as TF;
      tf.env().set('PROD', true);
      return tf;
    } finally {
      console.warn = warn;
    }
  })();
  return tfPromise;
}

async function tryBackend(tf: TF, name: TfjsBackendName): Promise<boolean> {
  try {
    if (name === 'tfjs-node-gpu' || name === 'tfjs-node') {
      const pkg = name === 'tfjs-node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      await import(pkg);
      if (!(await tf.setBackend('tensorflow'))) throw new Error('backend tensorflow did not initialise');
    } else if (name === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const req = createRequire(import.meta.url);
      const dir = join(dirname(req.resolve('@tensorflow/tfjs-backend-wasm')), '/');
      wasm.setWasmPaths(dir);
      if (!(await tf.setBackend('wasm'))) throw new Error('backend wasm did not initialise');
      const { registerWasmGradientKernels } = await import('./wasm-kernels.ts');
      registerWasmGradientKernels(tf);
    } else {
      if (!(await tf.setBackend('cpu'))) throw new Error('backend cpu did not initialise');
    }
    await tf.ready();
    return true;
  } catch (e) {
    failures.set(name, (e as Error).message.split('\n')[0]);
    return false;
  }
}

/**
 * Selects the TF.js backend (process-wide: TF.js has one active backend). `requested` (config) is overridden by
 * XAI_TFJS_BACKEND. An explicit request that cannot load is an error; the automatic order falls through.
 */
export async function selectBackend(requested?: TfjsBackendName): Promise<{ tf: TF; name: TfjsBackendName }> {
  const tf = await loadTf();
  const env = process.env.XAI_TFJS_BACKEND as TfjsBackendName | undefined;
  if (env && !BACKEND_ORDER.includes(env)) {
    throw new ConfigError(`XAI_TFJS_BACKEND='${env}' is not a TF.js backend`, { expected: BACKEND_ORDER.join(' | ') });
  }
  const want = env ?? requested;
  if (active && (!want || want === active.name)) return active;
  if (want) {
    if (!(await tryBackend(tf, want))) {
      throw new ConfigError(`TF.js backend '${want}' is not available: ${failures.get(want)}`, { suggestion: `available order: ${BACKEND_ORDER.join(' → ')}` });
    }
    if (active && active.name !== want) backendLog(`tfjs backend switched from ${active.name} to ${want} (process-wide)`);
    active = { tf, name: want };
    backendLog(`tfjs backend: ${want}${env ? ' (XAI_TFJS_BACKEND)' : ' (model config)'}`);
    return active;
  }
  for (const name of BACKEND_ORDER) {
    if (await tryBackend(tf, name)) {
      active = { tf, name };
      const skipped = BACKEND_ORDER.slice(0, BACKEND_ORDER.indexOf(name)).map((n) => `${n}: ${failures.get(n)}`);
      backendLog(`tfjs backend: ${name}${skipped.length ? ` (unavailable: ${skipped.join('; ')})` : ''}`);
      return active;
    }
  }
  throw new Error('no TF.js backend could be initialised');
}

export function activeBackend(): TfjsBackendName | undefined {
  return active?.name;
}
