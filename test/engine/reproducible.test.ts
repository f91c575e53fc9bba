// The demo pipeline (every stage kind, made small with --set) in two separate copies of the project with different
// --jobs: every result table of every entry is byte-identical, the keys are the same, and the timings are present in
// their own place (the manifests), not in any table. On the same run: every table follows the Arrow conventions
// (docs/export.md), and `xai export` writes the run in every format, read back by DuckDB (and pyarrow where present).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { DataType, Type, type Field as ArrowField } from 'apache-arrow';
import { readArrowFile } from '../../src/arrow/io.ts';
import { tensorShape } from '../../src/arrow/conventions.ts';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectCopy, repo, xai } from './helpers.ts';

const a = projectCopy();
const b = projectCopy();
after(() => {
  a.cleanup();
  b.cleanup();
});

const small = ['stages.shapes.count=40', 'stages.heldout.count=4', 'stages.lime.num_samples=100', 'stages.activations.batchSize=20', 'stages.descriptions.top_k=10'].flatMap((s) => ['--set', s]);

/** kind/key → table file → sha256, and kind/key → manifest, for every committed entry of a project. */
function entries(dir: string) {
  const tables: Record<string, Record<string, string>> = {};
  const manifests: Record<string, any> = {};
  const cache = join(dir, 'artifacts', 'cache');
  for (const kind of readdirSync(cache)) {
    for (const key of readdirSync(join(cache, kind))) {
      const m = JSON.parse(readFileSync(join(cache, kind, key, 'manifest.json'), 'utf8'));
      manifests[`${kind}/${key}`] = m;
      tables[`${kind}/${key}`] = Object.fromEntries(
        Object.values(m.tables as Record<string, { file: string }>).map((t) => [t.file, createHash('sha256').update(readFileSync(join(cache, kind, key, t.file))).digest('hex')]),
      );
    }
  }
  return { tables, manifests };
}

test('the demo twice, --jobs 1 and --jobs 4, in two project copies: every result table byte-identical; timings in the manifests', { skip: !existsSync(join(repo, 'models/demo/model.onnx')) && 'no demo model' }, () => {
  const r1 = xai(a.dir, ['run', 'pipelines/demo.yaml', '--jobs', '1', ...small]);
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = xai(b.dir, ['run', 'pipelines/demo.yaml', '--jobs', '4', ...small]);
  assert.equal(r2.code, 0, r2.stderr);
  const ea = entries(a.dir), eb = entries(b.dir);
  assert.deepEqual(Object.keys(eb.tables).sort(), Object.keys(ea.tables).sort(), 'the same keys');
  assert.ok(Object.keys(ea.tables).length >= 12, Object.keys(ea.tables).join(' '));
  let n = 0;
  for (const [entry, files] of Object.entries(ea.tables)) {
    assert.deepEqual(eb.tables[entry], files, entry);
    n += Object.keys(files).length;
  }
  assert.ok(n >= 20, `${n} tables compared`);
  // and every other file (PNG overlays, CSV tallies, images, JSON) except the report's pages, which show timings
  for (const [entry, m] of Object.entries(ea.manifests)) {
    if (m.kind === 'report') continue;
    const sums = (x: any) => Object.fromEntries((x.files as { path: string; sha256: string }[]).map((f) => [f.path, f.sha256]));
    assert.deepEqual(sums(eb.manifests[entry]), sums(m), entry);
  }
  // no table has a timing column
  for (const m of Object.values(ea.manifests)) {
    assert.ok(m.timings && typeof m.timings.seconds === 'number' && m.timings.finished, `${m.kind} timings`);
  }
  // per-item times of ctx.map tables, and LIME's phases, are in the manifests
  const lime = Object.values(ea.manifests).find((m: any) => m.kind === 'lime') as any;
  assert.equal(lime.timings.items.explanations.n, 4);
  assert.ok(lime.timings.items.explanations.phases.perturbation_prediction > 0);
  assert.equal(lime.timings.alone, true, 'the scored LIME stage computes alone');
  const cam = Object.values(ea.manifests).find((m: any) => m.kind === 'cam') as any;
  assert.ok(cam.timings.stage.ms_per_image, 'the cam stage records its phase times with ctx.timing');
  // with --jobs 4, stages computed beside each other say so; the scored LIME stage had nothing beside it
  const limeB = Object.values(eb.manifests).find((m: any) => m.kind === 'lime') as any;
  assert.equal(limeB.timings.alone, true);
  assert.equal(limeB.timings.beside, undefined);
  for (const m of Object.values(eb.manifests) as any[]) assert.ok(!(m.timings.beside ?? []).includes(limeB.stageId), `${m.stageId} beside lime`);
  for (const m of Object.values(ea.manifests) as any[]) assert.equal(m.timings.beside, undefined, `--jobs 1: ${m.stageId} had nothing beside it`);
});

/** Every list type inside a field's type has its child named `item`. */
function listChildrenNamedItem(t: DataType): boolean {
  if (t.typeId === Type.List || t.typeId === Type.FixedSizeList) {
    const c = (t as unknown as { children: ArrowField[] }).children[0];
    return c.name === 'item' && listChildrenNamedItem(c.type);
  }
  return true;
}

test('every table the demo writes: xai.* metadata, a description per column, tensors as arrow.fixed_shape_tensor, list children item', { skip: !existsSync(join(repo, 'models/demo/model.onnx')) && 'no demo model' }, () => {
  const { manifests } = entries(a.dir);
  let tables = 0, tensors = 0;
  const problems: string[] = [];
  for (const m of Object.values(manifests) as any[]) {
    for (const [name, t] of Object.entries(m.tables as Record<string, { file: string }>)) {
      tables++;
      const schema = readArrowFile(join(a.dir, 'artifacts/cache', m.kind, m.key, t.file)).schema;
      const where = `${m.stageId}.${name}`;
      const md = schema.metadata;
      for (const [k, v] of [['xai.stage', m.stageId], ['xai.kind', m.kind], ['xai.key', m.key], ['xai.pipeline', 'demo'], ['xai.table', name]]) if (md.get(k) !== v) problems.push(`${where}: ${k} = ${md.get(k)}, expected ${v}`);
      if (!md.get('xai.version')) problems.push(`${where}: no xai.version`);
      if (JSON.stringify(JSON.parse(md.get('xai.params') ?? 'null')) !== JSON.stringify(m.params)) problems.push(`${where}: xai.params differ from the manifest's`);
      for (const f of schema.fields) {
        if (!f.metadata.get('xai.description')) problems.push(`${where}.${f.name}: no description`);
        if (!listChildrenNamedItem(f.type)) problems.push(`${where}.${f.name}: a list child is not named item`);
        if (f.type.typeId === Type.FixedSizeList) {
          const s = tensorShape(f);
          if (!s) problems.push(`${where}.${f.name}: a FixedSizeList that is not arrow.fixed_shape_tensor`);
          else if (s.shape.reduce((x, y) => x * y, 1) !== (f.type as any).listSize || s.shape.length !== s.dim_names.length) problems.push(`${where}.${f.name}: shape ${JSON.stringify(s)} does not fit`);
          else tensors++;
        }
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(tables >= 20 && tensors >= 4, `${tables} tables, ${tensors} tensor columns`);
});

test("xai export of the demo's run in every format; DuckDB reads every Parquet file with the Arrow tables' rows and values", { skip: !existsSync(join(repo, 'models/demo/model.onnx')) && 'no demo model' }, async () => {
  const out = (f: string) => join(a.dir, 'exp', f);
  for (const f of ['parquet', 'csv', 'npy', 'jsonl']) {
    const r = xai(a.dir, ['export', 'pipelines/demo.yaml', '--format', f, '--out', out(f)]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Error|\n\s+at /);
  }
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const rec = JSON.parse(readFileSync(join(a.dir, 'artifacts/runs/demo/latest.json'), 'utf8'));
  let checked = 0;
  for (const [stage, s] of Object.entries(rec.stages as Record<string, { kind: string; key: string }>)) {
    const m = JSON.parse(readFileSync(join(a.dir, 'artifacts/cache', s.kind, s.key, 'manifest.json'), 'utf8'));
    for (const [name, t] of Object.entries(m.tables as Record<string, { file: string; rows: number }>)) {
      if (name.endsWith('_errors') && t.rows === 0) continue;
      const table = readArrowFile(join(a.dir, 'artifacts/cache', s.kind, s.key, t.file));
      const pq = join(out('parquet'), stage, `${name}.parquet`);
      assert.ok(existsSync(pq), pq);
      // a checksum per column: numbers summed, strings by length, lists and tensors by the sum of their values
      const exprs: string[] = [];
      const expected: number[] = [];
      for (const f of table.schema.fields) {
        const col = table.getChild(f.name)!;
        const q = `"${f.name}"`;
        let sum = 0;
        if (DataType.isFloat(f.type) || DataType.isInt(f.type) || DataType.isBool(f.type)) {
          exprs.push(`coalesce(sum(${q}::DOUBLE), 0)`);
          for (let i = 0; i < table.numRows; i++) sum += Number(col.get(i) ?? 0);
        } else if (DataType.isUtf8(f.type)) {
          exprs.push(`coalesce(sum(length(${q})), 0)::DOUBLE`);
          for (let i = 0; i < table.numRows; i++) sum += [...((col.get(i) as string | null) ?? '')].length;
        } else if (f.type.typeId === Type.List || f.type.typeId === Type.FixedSizeList) {
          exprs.push(`coalesce(sum(list_sum(${q}::DOUBLE[])), 0)`);
          for (let i = 0; i < table.numRows; i++) for (const v of Array.from((col.get(i) as { toArray(): ArrayLike<number> } | null)?.toArray() ?? [])) sum += Number(v);
        } else continue;
        expected.push(sum);
      }
      const row = (await con.runAndReadAll(`select count(*)::DOUBLE, ${exprs.join(', ')} from '${pq}'`)).getRows()[0].map(Number);
      assert.equal(row[0], table.numRows, `${stage}.${name}: rows`);
      expected.forEach((e, j) => assert.ok(Math.abs(row[j + 1] - e) <= 1e-6 * Math.max(1, Math.abs(e)), `${stage}.${name}: checksum of column ${j}: ${row[j + 1]} vs ${e}`));
      checked++;
      // the other formats: CSV for scalar tables, NPY per tensor column, JSON Lines always
      const scalar = table.schema.fields.every((f) => f.type.typeId !== Type.List && f.type.typeId !== Type.FixedSizeList && f.type.typeId !== Type.Struct);
      assert.equal(existsSync(join(out('csv'), stage, `${name}.csv`)), scalar, `${stage}.${name}.csv`);
      for (const f of table.schema.fields) if (tensorShape(f)) assert.ok(existsSync(join(out('npy'), stage, `${name}.${f.name}.npy`)), `${stage}.${name}.${f.name}.npy`);
      const lines = readFileSync(join(out('jsonl'), stage, `${name}.jsonl`), 'utf8').split('\n').filter(Boolean);
      assert.equal(lines.length, table.numRows, `${stage}.${name}.jsonl`);
    }
  }
  assert.ok(checked >= 20, `${checked} Parquet tables checked`);
  con.closeSync();
  // pyarrow, where it is installed: a CAM map comes back as a FixedShapeTensorArray of the map's shape
  const py = spawnSync('python3', ['-c', 'import pyarrow'], { encoding: 'utf8' });
  if (py.status !== 0) {
    console.log('# pyarrow check skipped: python3 cannot import pyarrow here (Debian 12 has no python3-pyarrow)');
    return;
  }
  const camFile = join(a.dir, 'artifacts/demo/cams/cams.arrow');
  const r = spawnSync('python3', ['-c', `import pyarrow.ipc as ipc; t = ipc.open_file(${JSON.stringify(camFile)}).read_all(); print(type(t.column("cam").type).__name__, t.column("cam").combine_chunks().to_numpy_ndarray().shape)`], { encoding: 'utf8' });
  assert.match(r.stdout, /FixedShapeTensorType \(\d+, 128, 128\)/, r.stderr);
});
