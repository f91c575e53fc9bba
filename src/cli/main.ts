// `xai` entry: dispatches to a sub-command (src/cli/commands/index.ts), maps errors to exit codes
// (ConfigError → 2, anything else → 1). The project root is the current working directory.
import { io } from './io.ts';
import { commands } from './commands/index.ts';
import { ConfigError, StageError, didYouMean } from '../engine/errors.ts';
import { FS_ERRORS } from '../engine/paths.ts';

const HELP_HEAD = `xai — explain CNN image classifiers with declarative, cached pipelines

Usage: xai <command> [options]        (run in the project root; pipeline paths are relative to it)
       xai <command> --help           help for one command
`;

async function overview(): Promise<string> {
  const lines = [HELP_HEAD, 'Commands:'];
  const names = Object.keys(commands).sort();
  const width = Math.max(...names.map((n) => n.length));
  for (const name of names) {
    let summary = '';
    try {
      summary = (await commands[name]()).summary;
    } catch (e) {
      summary = `(failed to load: ${(e as Error).message})`;
    }
    lines.push(`  ${name.padEnd(width)}  ${summary}`);
  }
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      io.err(await overview());
      return 2;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      if (name === 'help' && rest[0] && commands[rest[0]]) {
        io.out((await commands[rest[0]]()).usage.trimEnd() + '\n');
        return 0;
      }
      io.out(await overview());
      return 0;
    }
    if (name === '--version' || name === '-V') {
      const { readFileSync } = await import('node:fs');
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
      io.out(`xai ${pkg.version}\n`);
      return 0;
    }
    const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (!load) {
      throw new ConfigError(`unknown command '${name}'`, {
        suggestion: didYouMean(name, Object.keys(commands)) ?? `commands: ${Object.keys(commands).sort().join(', ')}`,
      });
    }
    const cmd = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(cmd.usage.trimEnd() + '\n');
      return 0;
    }
    return await cmd.run(rest);
  } catch (e) {
    return reportError(e);
  }
}

/** Prints an error the way the CLI does and returns its exit code. */
export function reportError(e: unknown): number {
  if (e instanceof ConfigError) {
    io.err(`error: ${e.message.split('\n').join('\nerror: ')}\n`);
    return 2;
  }
  if (e instanceof StageError) {
    io.err(`error: ${e.message}\n`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  // the file system refused a write (artifacts/ unwritable or a file, a full disk): one line naming the path
  const fs = err && typeof err.code === 'string' ? FS_ERRORS[err.code] : undefined;
  if (fs) {
    io.err(`error: ${err.syscall ?? 'write'} ${err.path ?? ''}: ${fs} (${err.code}); check that the project's artifacts/ and output folders are writable directories\n`);
    return err.code === 'ENOSPC' || err.code === 'EDQUOT' ? 1 : 2;
  }
  io.err(`error: ${err?.stack ?? String(e)}\n${process.env.XAI_DEBUG ? '' : '(set XAI_DEBUG=1 for source-mapped stack traces)\n'}`);
  return 1;
}
