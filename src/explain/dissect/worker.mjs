// Worker-thread entry of label-units. Worker threads do not inherit the CLI's TypeScript loader hooks, so this plain
// module registers them (bin/hooks.mjs) before loading the TypeScript worker code (src/explain/dissect/tally.ts).
import { register } from 'node:module';

register('../../../bin/hooks.mjs', import.meta.url);
await import('./tally.ts');
