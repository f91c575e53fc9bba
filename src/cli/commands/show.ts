// xai show <pipeline.yaml> <stage>[.<table>] | xai show <file.arrow>   [--limit N] [--columns a,b] [--json]
import { io } from '../io.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, intOption } from '../args.ts';
import { ConfigError, didYouMean } from '../../engine/errors.ts';

export const summary = 'Print an output table (schema + rows) of a stage, or an .arrow file';
export const usage = `Usage: xai show <pipeline.yaml> <stage>[.<table>] [options]
       xai show <file.arrow> [options]

Shows the latest outputs of a stage (its last successful run): with a table name, the table's schema and rows;
without, the stage's tables (row counts), files and meta, and its table when it has just one.

Options:
  --limit N        rows to print (default 20)
  --columns a,b    only these columns
  --json           JSON output (schema + rows)
  -h, --help       this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('show', argv, { limit: { type: 'string', short: 'n' }, columns: { type: 'string' }, json: { type: 'boolean' } });
  const limit = intOption('show', 'limit', values.limit, 0) ?? 20;
  const columns = typeof values.columns === 'string' ? values.columns.split(',').map((c) => c.trim()).filter(Boolean) : undefined;
  const root = process.cwd();
  if (positionals.length === 1 && positionals[0].endsWith('.arrow')) {
    if (!existsSync(positionals[0])) throw new ConfigError(`xai show: file not found: ${positionals[0]}`);
    return printTable(positionals[0], { limit, columns, json: Boolean(values.json) });
  }
  if (positionals.length !== 2) throw new ConfigError(`xai show: expected <pipeline.yaml> <stage>[.<table>] or <file.arrow>`, { suggestion: 'see xai show --help' });
  const [pipelineFile, target] = positionals;
  const dot = target.indexOf('.');
  const stageId = dot < 0 ? target : target.slice(0, dot);
  const tableName = dot < 0 ? undefined : target.slice(dot + 1);
  const { loadPipeline } = await import('../../engine/pipeline.ts');
  const { openCache, timingNote } = await import('../../engine/cache.ts');
  const { readState } = await import('../../engine/runs.ts');
  const { boardOf } = await import('../../engine/sweep.ts');
  const p = loadPipeline(pipelineFile, { root });
  const ids = p.stages.map((s) => s.id);
  if (!ids.includes(stageId)) throw new ConfigError(`xai show: no stage '${stageId}' in ${p.file}`, { suggestion: didYouMean(stageId, ids) ?? `stages: ${ids.join(', ')}` });
  const store = openCache(root);
  const s = readState(store, p.name)?.stages[stageId];
  const e = s && store.get(s.kind, s.key);
  if (!s || !e) throw new ConfigError(`xai show: stage '${stageId}' has no outputs yet`, { suggestion: `run: xai run ${p.file}` });
  const tables = e.tables;
  if (tableName !== undefined) {
    const path = e.tablePath(tableName);
    if (!path) throw new ConfigError(`xai show: stage '${stageId}' has no table '${tableName}'`, { suggestion: didYouMean(tableName, tables) ?? `tables: ${tables.join(', ') || 'none'}` });
    return printTable(path, { limit, columns, json: Boolean(values.json) });
  }
  const files = e.files();
  const size = (rel: string) => e.manifest.files.find((f) => f.path === rel)?.size ?? 0;
  const tm = e.timings;
  if (values.json) {
    io.out(JSON.stringify({ stage: stageId, kind: e.kind, key: e.key, dir: e.dir, tables: Object.fromEntries(tables.map((t) => [t, { rows: e.rows(t) }])), files: files.map((f) => ({ path: f, size: size(f) })), meta: e.meta, map: e.manifest.map, timings: tm }, null, 2) + '\n');
    return 0;
  }
  const lines = [`${stageId} (${e.kind} v${e.manifest.version}) key ${e.key}`, `  dir: ${e.dir}`, `  finished ${tm.finished} in ${tm.seconds.toFixed(2)}s${timingNote(tm)}`];
  for (const [t, it] of Object.entries(tm.items ?? {})) {
    const ph = Object.entries(it.phases ?? {}).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
    lines.push(`    ${t}: ${it.mean_ms.toFixed(1)} ms/item over ${it.n}${ph ? ` (${ph})` : ''}`);
  }
  const board = boardOf(store, e);
  if (board) {
    const src = e.meta.scoreboard as { time_of?: { stage?: string } };
    lines.push(`  board: avg_iou ${board.avg_iou} (against ${board.against}), avg_time ${board.avg_time ?? '–'} s/image (${src.time_of?.stage ?? 'lime'}'s timings${board.timed_alone ? ', computed alone' : ''}), ${board.forwards_per_image} forwards/image, ${board.n_images} images`);
  }
  lines.push(`  tables:${tables.length ? '' : ' none'}`);
  for (const name of tables) lines.push(`    ${name}: ${e.rows(name)} rows`);
  if (files.length) {
    lines.push(`  files: ${files.length}`);
    for (const f of files.slice(0, 20)) lines.push(`    ${f} (${size(f)} B)`);
    if (files.length > 20) lines.push(`    … ${files.length - 20} more`);
  }
  if (Object.keys(e.meta).length) {
    lines.push('  meta:');
    for (const [k, v] of Object.entries(e.meta)) {
      const sv = JSON.stringify(v);
      lines.push(`    ${k}: ${sv.length > 100 ? sv.slice(0, 99) + '…' : sv}`);
    }
  }
  io.out(lines.join('\n') + '\n');
  const main = tables.filter((t) => !(t.endsWith('_errors') && e.rows(t) === 0));
  if (main.length === 1) {
    io.out(`\n${main[0]}:\n`);
    return printTable(e.tablePath(main[0])!, { limit, columns, json: false });
  }
  return 0;
}

async function printTable(file: string, o: { limit: number; columns?: string[]; json: boolean }): Promise<number> {
  const { readArrowHead, formatTable, tableToJsonRows } = await import('../../arrow/io.ts');
  let t, rows;
  try {
    // the first rows only, read batch by batch (a table of any size is shown in bounded memory)
    ({ head: t, rows } = await readArrowHead(file, o.limit));
  } catch (e) {
    throw new ConfigError(`xai show: ${file} is not a readable Arrow IPC file (truncated or corrupt: ${(e as Error).message})`, {
      suggestion: 'if it is a cache entry, `xai run <pipeline> --verify` re-checks every entry against its checksums and recomputes a corrupt one',
    });
  }
  try {
    if (o.json) {
      const schema = t.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable }));
      io.out(JSON.stringify({ file, rows, schema, data: tableToJsonRows(t, { limit: o.limit, columns: o.columns }) }) + '\n');
    } else io.out(formatTable(t, { limit: o.limit, columns: o.columns, totalRows: rows }));
  } catch (e) {
    throw new ConfigError(`xai show: ${(e as Error).message}`);
  }
  return 0;
}
