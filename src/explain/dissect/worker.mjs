// Worker-thread entry of the dissection stages' worker pools (src/explain/dissect/pool.ts). Worker threads do not
// inherit the CLI's TypeScript loader hooks, so this plain module registers them (bin/hooks.mjs) before loading the
// TypeScript worker code named by workerData.xaiModule (./tally.ts: label-units; ./quantile-job.ts: quantile-thresholds).
import { register } from 'node:module';
import { workerData } from 'node:worker_threads';

register('../../../bin/hooks.mjs', import.meta.url);
const mod = workerData?.xaiModule ?? './tally.ts';
// literal specifiers, so the cache keys' import graph (src/engine/codegraph.ts) sees both
if (mod === './tally.ts') await import('./tally.ts');
else if (mod === './quantile-job.ts') await import('./quantile-job.ts');
else throw new Error(`unknown dissection worker module ${mod}`);
