// Exporting committed tables for other tools (`xai export`, a pipeline's `export:` block): entries are read through
// the engine's Cache interface; each table goes to one file per format (NPY: one per tensor column).
import { mkdirSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { writableDirProblem } from '../engine/paths.ts';
import type { Table } from 'apache-arrow';
import type { Cache, CacheEntry } from '../engine/cache.ts';
import type { ExportSpec } from '../engine/pipeline.ts';
import type { RunRecord } from '../engine/runs.ts';
import { ExportRefused, toCsv, toJsonl, toNpy, toParquet, type Format } from './formats.ts';

export { ExportRefused, FORMATS, type Format } from './formats.ts';

export const EXTENSION: Record<Format, string> = { parquet: '.parquet', csv: '.csv', npy: '.npy', jsonl: '.jsonl' };

export interface ExportedFile {
  stage: string;
  table: string;
  path: string;
  rows: number;
  column?: string;
}

/** Checks up front that `dir` can be created and written (src/engine/paths.ts); throws ExportRefused naming why. */
export function checkWritableDir(dir: string): void {
  const problem = writableDirProblem(dir);
  if (problem) throw new ExportRefused(`${problem} (--out ${dir})`);
}

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  checkWritableDir(dirname(path));
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/**
 * Writes one table of an entry. `out` is a file when it ends with the format's extension (NPY: a table with one
 * tensor column), else a directory that receives `<table><ext>` (NPY: `<table>.<column>.npy`). `columns` selects
 * columns first. Throws ExportRefused when the format cannot hold the table.
 */
export async function exportTable(e: CacheEntry, stage: string, table: string, format: Format, out: string, columns?: string[]): Promise<ExportedFile[]> {
  let t: Table = await e.table(table);
  if (columns?.length) {
    const names = t.schema.fields.map((f) => f.name);
    const missing = columns.filter((c) => !names.includes(c));
    if (missing.length) throw new ExportRefused(`table ${stage}.${table} has no column ${missing.join(', ')} (columns: ${names.join(', ')})`);
    t = t.select(columns);
  }
  const ext = EXTENSION[format];
  const asFile = extname(out) === ext;
  const target = (suffix = '') => (asFile ? out : join(out, `${table}${suffix}${ext}`));
  const rows = t.numRows;
  switch (format) {
    case 'parquet':
      await writeAtomic(target(), await toParquet(t));
      return [{ stage, table, path: target(), rows }];
    case 'csv':
      await writeAtomic(target(), toCsv(t));
      return [{ stage, table, path: target(), rows }];
    case 'jsonl':
      await writeAtomic(target(), toJsonl(t));
      return [{ stage, table, path: target(), rows }];
    case 'npy': {
      const arrays = toNpy(t);
      if (asFile && arrays.length > 1) throw new ExportRefused(`table ${stage}.${table} has ${arrays.length} tensor columns (${arrays.map((a) => a.column).join(', ')}): give a directory as --out, or --columns`);
      const written: ExportedFile[] = [];
      for (const a of arrays) {
        const p = asFile ? out : target(`.${a.column}`);
        await writeAtomic(p, a.bytes);
        written.push({ stage, table, path: p, rows, column: a.column });
      }
      return written;
    }
  }
}

/**
 * Writes every table of several entries into `<outDir>/<stage>/…`. Tables the format cannot hold (CSV: tensor
 * columns; NPY: no tensor) are skipped and reported, as are empty `<table>_errors` tables.
 */
export async function exportEntries(entries: { stage: string; entry: CacheEntry }[], format: Format, outDir: string): Promise<{ files: ExportedFile[]; skipped: string[] }> {
  checkWritableDir(outDir); // a bad --out fails the export; a table the format cannot hold is only skipped
  const files: ExportedFile[] = [];
  const skipped: string[] = [];
  for (const { stage, entry } of entries) {
    for (const table of entry.tables) {
      if (table.endsWith('_errors') && entry.rows(table) === 0) continue;
      try {
        files.push(...(await exportTable(entry, stage, table, format, join(outDir, stage))));
      } catch (err) {
        if (!(err instanceof ExportRefused)) throw err;
        skipped.push(`${stage}.${table}: ${err.message}`);
      }
    }
  }
  return { files, skipped };
}

/**
 * A pipeline's `export:` block after a successful run: each item's table(s) of the run's entries. A table the format
 * cannot hold fails the item with the reason (the run's results stay committed).
 */
export async function runExports(cache: Cache, rec: RunRecord, specs: readonly ExportSpec[], root: string): Promise<{ files: ExportedFile[]; skipped: string[] }> {
  const files: ExportedFile[] = [];
  const skipped: string[] = [];
  for (const x of specs) {
    const dot = x.table.indexOf('.');
    const stage = dot < 0 ? x.table : x.table.slice(0, dot);
    const s = rec.stages[stage];
    const e = s?.key ? cache.get(s.kind, s.key) : undefined;
    if (!e) {
      skipped.push(`${x.table}: stage '${stage}' has no outputs in this run`);
      continue;
    }
    const out = join(root, x.out ?? join('exports', rec.pipeline));
    if (dot < 0) {
      const r = await exportEntries([{ stage, entry: e }], x.format, out);
      files.push(...r.files);
      skipped.push(...r.skipped);
    } else {
      const table = x.table.slice(dot + 1);
      if (!e.hasTable(table)) throw new ExportRefused(`stage '${stage}' has no table '${table}' (tables: ${e.tables.join(', ')})`);
      files.push(...(await exportTable(e, stage, table, x.format, join(out, stage), x.columns)));
    }
  }
  return { files, skipped };
}
