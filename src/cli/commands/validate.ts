// xai validate <pipeline> [--set k=v]…
import { io } from '../io.ts';
import { parseArgs } from '../args.ts';
import { ConfigError } from '../../engine/errors.ts';

export const summary = 'Check a pipeline (YAML, schemas, stage kinds, references, cycles) without running it';
export const usage = `Usage: xai validate <pipeline.yaml> [--set stages.<id>.<param>=<value>]… [--json]

Loads the pipeline, merges included config fragments and --set overrides, validates it and every stage's params
against their JSON schemas (defaults applied), resolves stage kinds and inputs and checks the graph for cycles.
Nothing is run or written. Errors name file:line:column, the key path, what was expected and the nearest valid key.

Options:
  --set stages.<id>.<param>=<value>  override a param (YAML value; repeatable)
  --json                             print the resolved config as JSON
  -h, --help                         this help

Exit codes: 0 valid, 2 invalid.
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('validate', argv, { set: { type: 'string', multiple: true }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new ConfigError(`xai validate: expected one pipeline file, got ${positionals.length}`);
  const { analyze } = await import('../../engine/analyze.ts');
  const plan = await analyze(positionals[0], { root: process.cwd(), sets: values.set as string[] | undefined });
  if (values.json) {
    const config = {
      name: plan.pipeline.name,
      fail_on_item_error: plan.pipeline.failOnItemError,
      stages: Object.fromEntries(plan.stages.map((s) => [s.id, { uses: s.spec.uses, kind: s.def.kind, version: s.def.version, inputs: s.inputs, params: s.params }])),
    };
    io.out(JSON.stringify(config, null, 2) + '\n');
    return 0;
  }
  io.out(`${plan.pipeline.file}: ok — pipeline '${plan.pipeline.name}', ${plan.stages.length} stage(s) in order: ${plan.stages.map((s) => `${s.id} (${s.def.kind})`).join(', ')}\n`);
  return 0;
}
