// xai status <pipeline> [--set k=v]… [--json]
import { io } from '../io.ts';
import { parseArgs } from '../args.ts';
import { ConfigError } from '../../engine/errors.ts';

export const summary = 'Show each stage as cached / stale / missing, and why';
export const usage = `Usage: xai status <pipeline.yaml> [--set stages.<id>.<param>=<value>]… [--json] [--verify]

For each stage: cached (a complete entry exists for its current key), stale (it ran before with other inputs:
lists which param, code version, upstream output or read file changed, old → new) or missing (never ran, or its
cache entry was removed). Nothing is run.

Options:
  --set stages.<id>.<param>=<value>  evaluate with an override (as xai run would)
  --json                             machine-readable output
  --verify                           re-hash every file of cache entries
  -h, --help                         this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('status', argv, { set: { type: 'string', multiple: true }, json: { type: 'boolean' }, verify: { type: 'boolean' } });
  if (positionals.length !== 1) throw new ConfigError(`xai status: expected one pipeline file, got ${positionals.length}`);
  const { analyze } = await import('../../engine/analyze.ts');
  const { computeStatus } = await import('../../engine/status.ts');
  const plan = await analyze(positionals[0], { root: process.cwd(), sets: values.set as string[] | undefined });
  const st = await computeStatus(plan, { verify: Boolean(values.verify) });
  if (values.json) {
    io.out(JSON.stringify({ pipeline: plan.pipeline.name, stages: st }, null, 2) + '\n');
    return 0;
  }
  const w = Math.max(...st.map((s) => s.id.length));
  const lines = [`${plan.pipeline.file} (pipeline '${plan.pipeline.name}')`];
  for (const s of st) {
    lines.push(`  ${s.id.padEnd(w)}  ${s.status.padEnd(7)}  ${s.key ?? ''}`.trimEnd());
    for (const r of s.reasons) lines.push(`  ${' '.repeat(w)}    ${r}`);
  }
  const n = (k: string) => st.filter((s) => s.status === k).length;
  lines.push(`${n('cached')} cached, ${n('stale')} stale, ${n('missing')} missing`);
  io.out(lines.join('\n') + '\n');
  return 0;
}
