// xai export <pipeline.yaml> <stage>[.<table>] | <pipeline.yaml|run-id>  [--format F] [--out PATH] [--columns a,b]
import { io } from '../io.ts';
import { relative } from 'node:path';
import { parseArgs } from '../args.ts';
import { ConfigError, didYouMean } from '../../engine/errors.ts';

export const summary = 'Write stage tables as Parquet, CSV, NumPy (.npy) or JSON Lines, for other tools';
export const usage = `Usage: xai export <pipeline.yaml> <stage>[.<table>] [options]
       xai export <pipeline.yaml | run-id> [options]

With a stage, exports that stage's latest outputs (its last successful run): one table, or all its tables. With a
pipeline file or a run id alone, exports every table of that run (the pipeline's latest run).

Formats (docs/export.md):
  parquet   every column, types kept; tensors as list columns with their shape in the file's key-value metadata
            (xai.shape.<column>) and in the embedded Arrow schema (pyarrow restores arrow.fixed_shape_tensor)
  csv       scalar columns only (a table with tensor or list columns is refused, naming them; see --columns)
  npy       tensor columns: one NumPy array [rows, ...shape] per column
  jsonl     one JSON object per row; tensors as nested arrays of their shape

Options:
  --format F       parquet (default), csv, npy or jsonl
  --out PATH       a directory (default exports/<pipeline>/), or for one table a file ending in the format's extension
  --columns a,b    only these columns (one table)
  -h, --help       this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('export', argv, { format: { type: 'string' }, out: { type: 'string' }, columns: { type: 'string' } });
  const { FORMATS, ExportRefused, exportEntries, exportTable } = await import('../../export/index.ts');
  const format = (values.format ?? 'parquet') as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw new ConfigError(`xai export: --format must be one of ${FORMATS.join(', ')}, got '${String(values.format)}'`, { suggestion: didYouMean(String(values.format), FORMATS) });
  if (positionals.length < 1 || positionals.length > 2) throw new ConfigError('xai export: expected <pipeline.yaml> <stage>[.<table>], or <pipeline.yaml | run-id>', { suggestion: 'see xai export --help' });
  const outOpt = typeof values.out === 'string' ? values.out : undefined;
  const columns = typeof values.columns === 'string' ? values.columns.split(',').map((c) => c.trim()).filter(Boolean) : undefined;
  const root = process.cwd();
  const { openCache } = await import('../../engine/cache.ts');
  const cache = openCache(root);
  const t0 = performance.now();
  const show = (files: { path: string; rows: number }[]) => {
    for (const f of files) io.out(`${relative(root, f.path) || f.path}  (${f.rows} rows)\n`);
  };
  try {
    if (positionals.length === 2) {
      // one stage of the pipeline's current state
      const { loadPipeline } = await import('../../engine/pipeline.ts');
      const { readState } = await import('../../engine/runs.ts');
      const p = loadPipeline(positionals[0], { root });
      const [stageId, tableName] = splitTarget(positionals[1]);
      const ids = p.stages.map((s) => s.id);
      if (!ids.includes(stageId)) throw new ConfigError(`xai export: no stage '${stageId}' in ${p.file}`, { suggestion: didYouMean(stageId, ids) ?? `stages: ${ids.join(', ')}` });
      const s = readState(cache, p.name)?.stages[stageId];
      const e = s && cache.get(s.kind, s.key);
      if (!e) throw new ConfigError(`xai export: stage '${stageId}' has no outputs yet`, { suggestion: `run: xai run ${p.file}` });
      const out = outOpt ?? `exports/${p.name}`;
      if (tableName !== undefined) {
        if (!e.hasTable(tableName)) throw new ConfigError(`xai export: stage '${stageId}' has no table '${tableName}'`, { suggestion: didYouMean(tableName, e.tables) ?? `tables: ${e.tables.join(', ') || 'none'}` });
        show(await exportTable(e, stageId, tableName, format, outOpt ?? `${out}/${stageId}`, columns));
      } else {
        if (columns) throw new ConfigError('xai export: --columns needs one table (<stage>.<table>)');
        const r = await exportEntries([{ stage: stageId, entry: e }], format, out);
        show(r.files);
        for (const s of r.skipped) io.err(`skipped ${s}\n`);
      }
    } else {
      // a whole run
      if (columns) throw new ConfigError('xai export: --columns needs one table (<pipeline.yaml> <stage>.<table>)');
      const rec = await runOf(root, positionals[0]);
      const entries = Object.entries(rec.stages).flatMap(([stage, s]) => {
        const e = s.key && (s.status === 'done' || s.status === 'cached') ? cache.get(s.kind, s.key) : undefined;
        return e ? [{ stage, entry: e }] : [];
      });
      const r = await exportEntries(entries, format, outOpt ?? `exports/${rec.pipeline}`);
      show(r.files);
      for (const s of r.skipped) io.err(`skipped ${s}\n`);
      io.err(`exported ${r.files.length} file(s) of run ${rec.runId} in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
    }
  } catch (e) {
    if (e instanceof ExportRefused) throw new ConfigError(`xai export: ${e.message}`);
    throw e;
  }
  return 0;
}

function splitTarget(t: string): [string, string | undefined] {
  const dot = t.indexOf('.');
  return dot < 0 ? [t, undefined] : [t.slice(0, dot), t.slice(dot + 1)];
}

/** A run record from a pipeline file (its latest run) or a run id (or unique prefix). */
async function runOf(root: string, ref: string) {
  if (/\.ya?ml$/.test(ref)) {
    const { loadPipeline } = await import('../../engine/pipeline.ts');
    const { readLatestRun } = await import('../../engine/runs.ts');
    const { openCache } = await import('../../engine/cache.ts');
    const p = loadPipeline(ref, { root });
    const r = readLatestRun(openCache(root), p.name);
    if (!r) throw new ConfigError(`xai export: pipeline '${p.name}' has no run yet`, { suggestion: `run it first: xai run ${p.file}` });
    return r;
  }
  const { findRun } = await import('../runs-lib.ts');
  return findRun(root, ref);
}
