// The `xai` sub-commands. To add one:
//   1. create src/cli/commands/<name>.ts exporting `summary` (one line), `usage` (full --help text) and
//      `run(argv: string[]): Promise<number>` (argv = the arguments after the command name; return the exit code;
//      throw ConfigError from src/engine/errors.ts for usage errors → exit 2). `parseArgs` in src/cli/args.ts helps.
//   2. add ONE line below: `<name>: () => import('./<name>.ts'),` (lazy: a command module loads only when it runs,
//      so keep heavy imports inside `run`).
import type { Command } from '../command.ts';

export const commands: Record<string, () => Promise<Command>> = {
  run: () => import('./run.ts'),
  validate: () => import('./validate.ts'),
  status: () => import('./status.ts'),
  show: () => import('./show.ts'),
  gc: () => import('./gc.ts'),
  inspect: () => import('./inspect.ts'),
  'make-dataset': () => import('./make-dataset.ts'),
  sweep: () => import('./sweep.ts'),
  runs: () => import('./runs.ts'),
  compare: () => import('./compare.ts'),
  report: () => import('./report.ts'),
  export: () => import('./export.ts'),
  worker: () => import('./worker.ts'),
};
