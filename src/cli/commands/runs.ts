// xai runs [pipeline] [--limit N] [--json]
import { io } from '../io.ts';
import { parseArgs, intOption } from '../args.ts';

export const summary = 'List recorded runs (time, status, overrides, key metrics), sweep combinations included';
export const usage = `Usage: xai runs [<pipeline.yaml> | <pipeline name>] [options]

Lists the run records under artifacts/runs/ (oldest first): run id, finish time, status, seconds, the --set
overrides (a sweep combination's swept values) and key metrics (the meta.metrics of the run's stages, e.g. the
scoreboard's avg_iou and avg_time). Without a pipeline, every pipeline's runs. Diff two with xai compare <run> <run>.

Options:
  --limit N     only the N most recent runs per pipeline (default 30)
  --sweeps      only runs of sweep combinations
  --json        machine-readable output
  -h, --help    this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('runs', argv, { limit: { type: 'string', short: 'n' }, json: { type: 'boolean' }, sweeps: { type: 'boolean' } });
  const limit = intOption('runs', 'limit', values.limit) ?? 30;
  const root = process.cwd();
  const lib = await import('../runs-lib.ts');
  const { ConfigError } = await import('../../engine/errors.ts');
  if (positionals.length > 1) throw new ConfigError(`xai runs: expected at most one pipeline, got ${positionals.length}`);
  const known = lib.allPipelines(root);
  const pipes = positionals.length ? [await lib.pipelineName(root, positionals[0])] : known;
  if (positionals.length && !/\.ya?ml$/.test(positionals[0]) && !known.includes(pipes[0])) {
    const { didYouMean } = await import('../../engine/errors.ts');
    throw new ConfigError(`xai runs: no pipeline '${positionals[0]}' has runs`, { suggestion: didYouMean(positionals[0], known) ?? (known.length ? `pipelines with runs: ${known.join(', ')}` : 'no runs recorded yet (xai run <pipeline.yaml>)') });
  }
  const width = Math.max(60, process.stdout.columns || Number(process.env.COLUMNS) || 100);
  const json: unknown[] = [];
  const lines: string[] = [];
  let total = 0;
  for (const p of pipes) {
    let runs = lib.listRuns(root, p);
    if (values.sweeps) runs = runs.filter((r) => r.sweep);
    const hidden = Math.max(0, runs.length - limit);
    runs = runs.slice(hidden);
    total += runs.length;
    if (values.json) {
      for (const r of runs) json.push({ pipeline: p, run_id: r.runId, finished: r.finished, status: r.status, seconds: r.seconds, overrides: r.overrides, sweep: r.sweep ?? null, metrics: lib.runMetrics(root, r) });
      continue;
    }
    if (!runs.length) {
      if (positionals.length) lines.push(`${p}: no runs recorded`);
      continue;
    }
    lines.push(`${p}${hidden ? ` (${hidden} older not shown; --limit)` : ''}`);
    const rows = runs.map((r) => {
      const m = lib.runMetrics(root, r);
      const metrics = Object.entries(m).slice(0, 3).map(([k, v]) => `${k.replace(/^[^.]*\./, '')}=${lib.fmtNum(v)}`).join(' ');
      return {
        id: r.runId,
        when: r.finished.replace('T', ' ').slice(0, 16),
        status: r.status + (r.sweep ? '·sweep' : ''),
        secs: r.seconds.toFixed(1) + 's',
        over: r.overrides.length ? r.overrides.map(lib.shortOverride).join(' ') : '-',
        metrics: metrics || '-',
      };
    });
    const w = (k: keyof (typeof rows)[number]) => Math.max(...rows.map((r) => r[k].length));
    const idW = Math.min(36, w('id'));
    const metricsW = Math.max(16, width - (idW + w('when') + w('status') + w('secs') + 10));
    for (const r of rows) {
      lines.push(`  ${lib.cut(r.id, idW).padEnd(idW)}  ${r.when}  ${r.status.padEnd(w('status'))}  ${r.secs.padStart(w('secs'))}  ${lib.cut(r.metrics, metricsW)}`.trimEnd());
      if (r.over !== '-') lines.push(`    ${lib.cut(r.over, width - 4)}`);
    }
  }
  if (values.json) {
    io.out(JSON.stringify(json, null, 2) + '\n');
    return 0;
  }
  if (total === 0 && !positionals.length) lines.push('no runs recorded yet (artifacts/runs/)');
  io.out(lines.join('\n') + '\n');
  return 0;
}
