// Worker-thread entry of the item pool (src/engine/pool.ts). Worker threads do not inherit the CLI's TypeScript loader
// hooks, so this plain module registers them (bin/hooks.mjs) before loading the TypeScript host (./item-host.ts), which
// imports the stage's item module named by workerData (already in the stage's import graph: the stage imports it).
import { register } from 'node:module';

register('../../bin/hooks.mjs', import.meta.url);
await import('./item-host.ts');
