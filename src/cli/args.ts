// Argument parsing for sub-commands: node:util parseArgs with errors turned into ConfigError (exit 2) and
// nearest-option suggestions.
import { parseArgs as nodeParseArgs } from 'node:util';
import { ConfigError, didYouMean } from '../engine/errors.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Parses `argv` against `options`; unknown options and missing values throw ConfigError naming `command`. */
export function parseArgs(command: string, argv: string[], options: Record<string, OptionSpec>): Parsed {
  // `--count -5`: a negative number after an option that takes a value is that value (node's parser calls it
  // ambiguous); the option's own check then says what is expected
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([^=]+)$/.exec(argv[i])?.[1];
    if (name && options[name]?.type === 'string' && /^-\d/.test(argv[i + 1] ?? '')) args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  try {
    const r = nodeParseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    const msg = (e as Error).message;
    const m = /Unknown option '(-{1,2}[^']+)'/.exec(msg);
    if (m) {
      const names = Object.keys(options).map((o) => `--${o}`);
      throw new ConfigError(`xai ${command}: unknown option '${m[1]}'`, {
        suggestion: didYouMean(m[1], names) ?? `see xai ${command} --help`,
      });
    }
    throw new ConfigError(`xai ${command}: ${msg.split('\n')[0]}`, { suggestion: `see xai ${command} --help` });
  }
}

/** Reads a positive integer option. */
export function intOption(command: string, name: string, v: unknown, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`xai ${command}: --${name} must be an integer >= ${min}, got '${String(v)}'`);
  return n;
}

/** The --queue option (or XAI_QUEUE): a redis://host:port URL, checked; undefined when neither is given. */
export async function queueOption(v: unknown): Promise<string | undefined> {
  const url = (v as string | undefined) ?? (process.env.XAI_QUEUE || undefined);
  if (!url) return undefined;
  const { redisOptions } = await import('../engine/queue.ts');
  try {
    redisOptions(url);
  } catch (e) {
    throw new ConfigError((e as Error).message, { expected: 'redis://host:port' });
  }
  return url;
}
