// xai report <pipeline-or-run> [--out DIR] [--images N] [--top N] [--title T] [--open-path]
import { io } from '../io.ts';
import { parseArgs, intOption } from '../args.ts';
import { ConfigError } from '../../engine/errors.ts';

export const summary = 'Build the HTML report (static site) of a run: CAM/LIME per image, dissection units, comparisons, scoreboard';
export const usage = `Usage: xai report <pipeline.yaml | pipeline name | run record .json | run id> [options]

Builds a self-contained static site (index.html + assets, images and SVG charts next to it; no network access,
opens from disk) from the outputs of a run: the pipeline's latest run (stages that failed in it show their last
successful output), or the run a record file / run id names. Sections appear when the run has the stages:
per-image CAM and LIME overlays, Grad-CAM vs LIME IoU chart and ranking, Network Dissection per layer (concept
histograms, units per category, sortable/filterable units table with each unit's top images), two-dissection
concept comparison, scoreboard with Pareto plot, and the run metadata (config, versions, times, cache hits).

Options:
  --out DIR        site directory (default artifacts/reports/<pipeline>/)
  --images N       images in the per-image gallery (default 24)
  --top N          top-activating images drawn per unit (default 5)
  --title TEXT     page title
  -h, --help       this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('report', argv, {
    out: { type: 'string', short: 'o' },
    images: { type: 'string' },
    top: { type: 'string' },
    title: { type: 'string' },
  });
  if (positionals.length !== 1) throw new ConfigError(`xai report: expected one pipeline file, pipeline name, run record or run id, got ${positionals.length}`, { suggestion: 'see xai report --help' });
  const { reportFromRun } = await import('../../report/index.ts');
  const { relative } = await import('node:path');
  const root = process.cwd();
  if (typeof values.out === 'string') {
    const { writableDirProblem } = await import('../../engine/paths.ts');
    const problem = writableDirProblem(values.out);
    if (problem) throw new ConfigError(`xai report: --out ${values.out}: ${problem}`);
  }
  const t0 = Date.now();
  const r = await reportFromRun({
    root,
    target: positionals[0],
    out: typeof values.out === 'string' ? values.out : undefined,
    maxImages: intOption('report', 'images', values.images),
    topImages: intOption('report', 'top', values.top),
    title: typeof values.title === 'string' ? values.title : undefined,
    log: (m) => io.err(`report: ${m}\n`),
  });
  if (r.missing.length) io.err(`report: no outputs for stage(s) ${r.missing.join(', ')} (failed or not run): left out\n`);
  io.err(`report of ${r.run.pipeline} (run ${r.run.runId}): ${r.sections.length} section(s) [${r.sections.join(', ')}], ${r.files} files in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  const rel = relative(root, r.index);
  io.out(`${rel.startsWith('..') ? r.index : rel}\n`);
  return 0;
}
