#!/usr/bin/env node
// Entry point: installs the loader hooks that run the TypeScript sources directly (bin/hooks.mjs: esbuild
// transpile with an on-disk cache, apache-arrow's CommonJS build — for start-up time), then hands over to the CLI.
// XAI_LOADER=tsx uses tsx's loader instead; XAI_DEBUG=1 prints stage error stacks (source-mapped).
import { register } from 'node:module';
// Stack traces through the inline source maps only when debugging (parsing them costs start-up time).
if (process.env.XAI_DEBUG) process.setSourceMapsEnabled(true);
if (process.env.XAI_LOADER === 'tsx') (await import('tsx/esm/api')).register();
register('./hooks.mjs', import.meta.url);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
