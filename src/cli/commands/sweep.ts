// xai sweep <pipeline> [--grid k=a,b]… [--random k=dist]… [--trials N] [--seed S] [--set k=v]… [--stage id]…
import { io } from '../io.ts';
import { relative } from 'node:path';
import { parseArgs, intOption, queueOption } from '../args.ts';
import { ConfigError } from '../../engine/errors.ts';

export const summary = 'Run a parameter sweep (grid or seeded random search) over cached pipeline runs; print the scoreboard';
export const usage = `Usage: xai sweep <pipeline.yaml> [options]

Runs the pipeline once per combination of parameter values, each as an ordinary cached run with --set overrides:
stages the swept params do not reach (model, dataset, CAMs) are computed once and reused by every combination.
Run ids derive from the overrides, so an interrupted sweep resumes where it stopped and a finished one reruns as
no-op runs. The combinations come from the pipeline's sweep: block, or from --grid/--random (which replace the
block's grid and random). Each combination runs the sweep's target stages (default: the stages of kind scoreboard)
and their upstream stages only.

Results: artifacts/sweeps/<pipeline>/<sweep id>/ (also artifacts/sweeps/<pipeline>/latest/):
  scoreboard.arrow  a row per combination: run_id, status, one column per swept param, avg_iou, avg_time,
                    n_images, against, pareto, seconds, overrides
  pareto.arrow      the Pareto front (max avg_iou — or the --objective —, min avg_time), by time
  pareto.svg        avg_iou (or the objective) vs avg_time, front highlighted
  sweep.json        the combinations, their status and scoreboard entries
The scoreboard is printed at the end (* = on the Pareto front). Every combination's run record is listed by
xai runs <pipeline> and can be diffed with xai compare <run> <run>.

Options:
  --grid stages.<id>.<param>=a,b,c       grid values (YAML each; or a YAML list [a, b]); repeatable, cartesian product
  --random stages.<id>.<param>=<dist>    random search: int(lo,hi), uniform(lo,hi), loguniform(lo,hi),
                                         choice(a,b) or a,b; repeatable
  --trials N                             random trials (default 8 with --random)
  --seed S                               random seed (default 0)
  --set stages.<id>.<param>=<value>      override for every combination (repeatable)
  --stage <id>                           run this stage (and its upstream stages) per combination (repeatable)
  --collect <id>                         the scoreboard stage whose results are collected
  --jobs N                               stages run at once within a combination
  --workers N                            worker threads of per-item stages (as xai run)
  --queue redis://host:port              per-item work of each combination on \`xai worker\` processes (as xai run)
  --parallel N                           combinations run at once (default 1); with --queue, spreads them over the
                                         workers (their LIME times are then measured beside each other)
  --dry-run                              list the combinations and their run ids; run nothing
  --verbose                              show every stage's log lines, cached ones included
  --quiet                                only the scoreboard
  --objective <metric>[:max|min]         what the Pareto front is drawn against, with avg_time (default avg_iou:max);
                                         avg_deletion_auc, avg_insertion_auc, avg_road_combined need a scoreboard
                                         with an evaluate input; forwards_per_image also accepted
  -h, --help                             this help

Sweep block (in the pipeline file):
  sweep:
    grid:
      stages.lime.num_samples: [250, 500, 1000]
      stages.lime.segmentation_fn.name: [quickshift, slic]
    random:                       # crossed with the grid when both are given
      trials: 4
      seed: 0
      params:
        stages.lime.kernel_width: { uniform: [0.1, 0.5] }   # or int, loguniform, choice, or a plain list
    stages: [board]               # default: the scoreboard stages
    collect: board                # default: the first scoreboard stage

Exit codes: 0 ok, 1 a combination failed, 2 invalid pipeline/arguments (nothing runs), 130 interrupted.
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('sweep', argv, {
    grid: { type: 'string', multiple: true },
    random: { type: 'string', multiple: true },
    trials: { type: 'string' },
    seed: { type: 'string' },
    set: { type: 'string', multiple: true },
    stage: { type: 'string', multiple: true },
    collect: { type: 'string' },
    jobs: { type: 'string', short: 'j' },
    workers: { type: 'string' },
    queue: { type: 'string' },
    parallel: { type: 'string' },
    'dry-run': { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
    quiet: { type: 'boolean', short: 'q' },
    objective: { type: 'string' },
  });
  if (positionals.length !== 1) throw new ConfigError(`xai sweep: expected one pipeline file, got ${positionals.length}`, { suggestion: 'xai sweep pipelines/<name>.yaml --grid stages.<id>.<param>=a,b' });
  const jobs = intOption('sweep', 'jobs', values.jobs);
  const workers = intOption('sweep', 'workers', values.workers ?? process.env.XAI_WORKERS);
  const queue = await queueOption(values.queue);
  const parallel = intOption('sweep', 'parallel', values.parallel);
  const trials = intOption('sweep', 'trials', values.trials);
  const seed = intOption('sweep', 'seed', values.seed, -(2 ** 31));
  const sw = await import('../../engine/sweep.ts');
  const grid = ((values.grid as string[] | undefined) ?? []).map(sw.parseGridArg);
  const randomParams = ((values.random as string[] | undefined) ?? []).map(sw.parseRandomArg);
  if ((trials !== undefined || seed !== undefined) && randomParams.length === 0) throw new ConfigError('xai sweep: --trials/--seed go with --random');
  const random = randomParams.length ? { trials: trials ?? 8, seed: seed ?? 0, params: randomParams } : undefined;
  const objective = values.objective === undefined ? sw.DEFAULT_OBJECTIVE : sw.parseObjective(values.objective as string);
  const root = process.cwd();
  const { EventBus } = await import('../../engine/events.ts');
  const { withSession } = await import('../session.ts');
  const verbose = Boolean(values.verbose);
  const quiet = Boolean(values.quiet);
  return withSession({ quiet, verbose, stopping: 'stopping the sweep (finished combinations and chunks are kept; rerun to resume' }, async ({ display, signal, stopProgress }) => {
    // Per combination, the cached stages and the run header are noise: forward the rest to the display.
    const bus = new EventBus();
    bus.on((e) => {
      if (!verbose && (e.type === 'stage-cached' || e.type === 'run-start')) return;
      const { time: _t, ...rest } = e;
      display.emit(rest as never);
    });
    const res = await sw.runSweep({
      root,
      pipeline: positionals[0],
      grid,
      random,
      stages: values.stage as string[] | undefined,
      collect: values.collect as string | undefined,
      sets: values.set as string[] | undefined,
      jobs,
      workers,
      queue,
      parallel,
      signal,
      bus,
      argv: ['sweep', ...argv],
      dryRun: Boolean(values['dry-run']),
      objective,
      onStart: (s) => {
        if (quiet) return;
        io.err(`sweep ${s.pipeline} ${s.sweepId}: ${s.combos.length} combination(s); per combination: ${s.targets.join(', ')} and upstream${s.collect ? `; scoreboard from '${s.collect}'` : ''}\n`);
      },
      onCombination: (i, n, c, r) => {
        if (quiet) return;
        if (!r) io.err(`[${i + 1}/${n}] ${c.id}  ${c.sets.join(' ')}\n`);
        else if (r.status !== 'ok') io.err(`[${i + 1}/${n}] ${c.id} ${r.status}${r.error ? `: ${r.error}` : ''}\n`);
        else io.err(`[${i + 1}/${n}] ${c.id} ok in ${r.seconds?.toFixed(2)}s (computed: ${r.computed?.length ? r.computed.join(', ') : 'nothing, all cached'})\n`);
      },
    });
    stopProgress();
    if (values['dry-run']) {
      for (const c of res.combos) io.out(`${c.id}  ${c.sets.join(' ')}\n`);
      io.out(`${res.combos.length} combination(s); results would go to ${relative(root, res.dir)}/\n`);
      return 0;
    }
    io.out(sw.formatScoreboard(res.keys, res.results, res.front, objective));
    const failed = res.results.filter((r) => r.status === 'failed');
    const where = relative(root, res.dir);
    if (!res.collect) io.out(`(no scoreboard stage among the sweep's stages: no avg_iou / avg_time)\n`);
    io.out(`pareto front (${objective.direction} ${objective.metric}, min avg_time): ${res.front.map((i) => res.results[i].combo.id).join(', ') || 'none'}\n`);
    io.out(`scoreboard: ${where}/scoreboard.arrow  pareto: ${where}/pareto.arrow, ${where}/pareto.svg  (also artifacts/sweeps/${res.pipeline}/latest/)\n`);
    if (res.interrupted) {
      io.err(`interrupted after ${res.seconds.toFixed(1)}s; rerun the same command to resume\n`);
      return 130;
    }
    if (failed.length) {
      io.err(`${failed.length} combination(s) failed: ${failed.map((r) => r.combo.id).join(', ')}\n`);
      return 1;
    }
    if (!quiet) io.err(`sweep done in ${res.seconds.toFixed(2)}s\n`);
    return 0;
  });
}
