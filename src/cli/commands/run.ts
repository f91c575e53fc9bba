// xai run <pipeline> [--set k=v]… [--force <stage>]… [--jobs N] [--wait] [--verify]
import { io } from '../io.ts';
import { dirname, relative } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseArgs, intOption, queueOption } from '../args.ts';
import { ConfigError } from '../../engine/errors.ts';

export const summary = 'Run a pipeline: compute stale stages, reuse cached ones';
export const usage = `Usage: xai run <pipeline.yaml> [options]

Validates the pipeline, then runs its stages in dependency order (independent stages concurrently), reusing
cache entries whose key (kind, version, params, upstream keys, read files) is unchanged. An interrupted run
resumes per-item stages where they stopped. Outputs: artifacts/<pipeline>/<stage>/ (latest view).

Options:
  --set stages.<id>.<param>=<value>  override a param (YAML value; repeatable), recorded in the run record
  --force <stage>                    recompute this stage even if cached ('*' = all; repeatable)
  --jobs N                           stages run at once (default: number of cores, ${availableParallelism()})
  --workers N                        worker threads of per-item stages (cam, lime, …; default: XAI_WORKERS, else the
                                     number of cores); each opens its own model, onnxruntime threads split between them
  --queue redis://host:port          run per-item work (cam, lime, …) on \`xai worker\` processes through this Redis
                                     (default: XAI_QUEUE); artifacts/ must be shared with the workers (see README)
  --wait                             wait for another run's lock instead of failing
  --verify                           re-hash every file of reused cache entries (default: files whose mtime changed)
  --verbose                          show debug logs of stages
  --quiet                            only errors and the final line
  -h, --help                         this help

Exit codes: 0 ok, 1 a stage failed (named) or the artifacts are locked, 2 invalid pipeline/arguments
(nothing runs), 130 interrupted.
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('run', argv, {
    set: { type: 'string', multiple: true },
    force: { type: 'string', multiple: true },
    jobs: { type: 'string', short: 'j' },
    workers: { type: 'string' },
    queue: { type: 'string' },
    wait: { type: 'boolean' },
    verify: { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
    quiet: { type: 'boolean', short: 'q' },
  });
  if (positionals.length !== 1) throw new ConfigError(`xai run: expected one pipeline file, got ${positionals.length}`, { suggestion: 'xai run pipelines/<name>.yaml' });
  const jobs = intOption('run', 'jobs', values.jobs);
  const workers = intOption('run', 'workers', values.workers ?? process.env.XAI_WORKERS);
  const queue = await queueOption(values.queue);
  const root = process.cwd();
  const { analyze } = await import('../../engine/analyze.ts');
  const plan = await analyze(positionals[0], { root, sets: values.set as string[] | undefined });
  const force = (values.force as string[] | undefined) ?? [];
  for (const f of force) {
    if (f !== '*' && f !== 'all' && !plan.byId.has(f)) {
      const { didYouMean } = await import('../../engine/errors.ts');
      throw new ConfigError(`xai run: --force: no stage '${f}' in ${plan.pipeline.file}`, { suggestion: didYouMean(f, plan.byId.keys()) });
    }
  }
  const { executePlan } = await import('../../engine/runner.ts');
  const { withSession } = await import('../session.ts');
  return withSession({ quiet: Boolean(values.quiet), verbose: Boolean(values.verbose), stopping: 'stopping (finished chunks are kept; rerun to resume' }, async ({ display, signal, stopProgress }) => {
    const r = await executePlan(plan, { jobs, workers, queue, force, verify: Boolean(values.verify), wait: Boolean(values.wait), signal, bus: display, argv: ['run', ...argv],
      onWait: (h) => io.err(`waiting for the artifacts lock held by pid ${h.pid} on ${h.host} (since ${h.started}) …\n`),
    });
    stopProgress();
    const counts = Object.values(r.record.stages).reduce<Record<string, number>>((a, s) => ((a[s.status] = (a[s.status] ?? 0) + 1), a), {});
    const parts = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ');
    if (r.interrupted) {
      io.err(`interrupted after ${r.record.seconds.toFixed(1)}s (${parts}); rerun to resume\n`);
      return 130;
    }
    if (!r.ok) {
      for (const f of r.failed) io.err(`error: stage '${f.stageId}' failed: ${f.error}\n`);
      io.err(`run failed in ${r.record.seconds.toFixed(1)}s (${parts}); record ${r.recordFile}\n`);
      return 1;
    }
    io.err(`ok in ${r.record.seconds.toFixed(2)}s (${parts}); outputs in artifacts/${plan.pipeline.name}/\n`);
    if (!values.quiet) io.err((await import('../runs-lib.ts')).outputsSummary(root, r.record));
    if (plan.pipeline.exports.length) {
      const { runExports, ExportRefused } = await import('../../export/index.ts');
      const { openCache } = await import('../../engine/cache.ts');
      try {
        const x = await runExports(openCache(root), r.record, plan.pipeline.exports, root);
        io.err(`exported ${x.files.length} file(s): ${[...new Set(x.files.map((f) => relative(root, dirname(f.path))))].join(', ')}\n`);
        for (const s of x.skipped) io.err(`export skipped ${s}\n`);
      } catch (e) {
        if (e instanceof ExportRefused) throw new ConfigError(e.message, { file: plan.pipeline.file, path: 'export' });
        throw e;
      }
    }
    return 0;
  });
}
