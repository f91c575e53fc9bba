// Parameter sweeps (`xai sweep`, a pipeline's `sweep:` block): expansion of a grid (cartesian product, the first key
// varying slowest, as itertools.product / Hydra's --multirun) and of a seeded random search (n trials drawn from
// choice / int / uniform / loguniform distributions), crossed when both are given. Each combination is an ordinary
// run of the pipeline with `--set` overrides, so the content-addressed cache reuses every stage the overrides do not
// reach (model, dataset, CAMs) and computes only what changes. A combination's run id derives from the pipeline name
// and its overrides: a killed sweep resumes where it stopped (finished combinations are cache hits, the interrupted
// one resumes per item) and a finished sweep reruns as no-op runs. Results: artifacts/sweeps/<pipeline>/<sweep id>/
// (scoreboard.arrow — a row per combination —, pareto.arrow, pareto.svg, sweep.json) and a `latest` link.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYamlValue } from 'yaml';
import { ConfigError, ConfigErrors, didYouMean } from './errors.ts';
import { locate, type YamlSource } from './yamlsrc.ts';
import type { Plan } from './analyze.ts';
import type { Json } from './types.ts';
import { openCache, type Cache, type CacheEntry } from './cache.ts';
import { readRun } from './runs.ts';
import { mulberry32 } from '../algo/mulberry32.ts';

export type Dist = { choice: unknown[] } | { int: [number, number] } | { uniform: [number, number] } | { loguniform: [number, number] };

export interface SweepSpec {
  /** Key (`stages.<id>.<param path>`) → values, in order. */
  grid: [string, unknown[]][];
  random?: { trials: number; seed: number; params: [string, Dist][] };
  /** Stages to run in each combination (with their upstream stages); default: the stages of kind scoreboard, else all. */
  stages?: string[];
  /** Stage whose meta.scoreboard is collected (default: the only/first stage of kind scoreboard). */
  collect?: string;
}

export interface Combination {
  /** Run id derived from the pipeline name and the overrides. */
  id: string;
  /** Swept key → value. */
  values: Record<string, unknown>;
  /** `--set` strings of the swept values (YAML flow values). */
  sets: string[];
}

/** A `--set` value: JSON is YAML, so strings stay strings ("250" vs 250) and lists/maps round-trip. */
export function setString(key: string, v: unknown): string {
  return `${key}=${JSON.stringify(v)}`;
}

/** Value as shown in tables and run ids. */
export function showValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Run id of a combination: readable slug of the values + a hash of the pipeline name and every override. */
export function combinationId(pipeline: string, baseSets: readonly string[], sets: readonly string[], values: readonly unknown[]): string {
  const h = createHash('sha256').update(JSON.stringify({ pipeline, sets: [...baseSets, ...sets].sort() })).digest('hex').slice(0, 8);
  // a negative number keeps its sign as 'neg' (a leading '-' would read as an option on the command line)
  const slug = values.map((v) => (typeof v === 'number' && v < 0 ? `neg${showValue(-v)}` : showValue(v))).join('_').replace(/[^A-Za-z0-9_.+=-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return `${slug ? slug + '.' : ''}${h}`;
}

/** mulberry32 (src/algo/mulberry32.ts). */
export const rng = mulberry32;

/** One draw from a distribution; floats are rounded to 4 significant digits (readable, stable run ids). */
export function draw(d: Dist | unknown[], r: () => number): unknown {
  const u = r();
  if (Array.isArray(d)) return d[Math.floor(u * d.length)];
  if ('choice' in d) return d.choice[Math.floor(u * d.choice.length)];
  if ('int' in d) {
    const [a, b] = d.int[0] <= d.int[1] ? d.int : [d.int[1], d.int[0]];
    return a + Math.floor(u * (b - a + 1));
  }
  if ('uniform' in d) return Number((d.uniform[0] + u * (d.uniform[1] - d.uniform[0])).toPrecision(4));
  const [a, b] = d.loguniform;
  return Number(Math.exp(Math.log(a) + u * (Math.log(b) - Math.log(a))).toPrecision(4));
}

/** Swept keys in order (grid keys, then random ones not in the grid). */
export function sweptKeys(spec: SweepSpec): string[] {
  const keys = spec.grid.map(([k]) => k);
  for (const [k] of spec.random?.params ?? []) if (!keys.includes(k)) keys.push(k);
  return keys;
}

/** Expands a sweep into its combinations: grid × random trials; duplicates (same overrides) once. */
export function expand(spec: SweepSpec, pipeline: string, baseSets: readonly string[] = []): Combination[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [k, values] of spec.grid) points = points.flatMap((p) => values.map((v) => ({ ...p, [k]: v })));
  if (spec.random) {
    const r = rng(spec.random.seed);
    const trials: Record<string, unknown>[] = [];
    for (let t = 0; t < spec.random.trials; t++) trials.push(Object.fromEntries(spec.random.params.map(([k, d]) => [k, draw(d, r)])));
    points = points.flatMap((p) => trials.map((t) => ({ ...p, ...t })));
  }
  const keys = sweptKeys(spec);
  const seen = new Set<string>();
  const out: Combination[] = [];
  for (const p of points) {
    const used = keys.filter((k) => Object.hasOwn(p, k));
    const sets = used.map((k) => setString(k, p[k]));
    const id = combinationId(pipeline, baseSets, sets, used.map((k) => p[k]));
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, values: Object.fromEntries(used.map((k) => [k, p[k]])), sets });
  }
  return out;
}

/** Splits `a,b,[c,d],"e,f"` on top-level commas. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '{' || ch === '(') depth++;
    else if (ch === ']' || ch === '}' || ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim());
}

function keyOf(arg: string, opt: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--${opt} '${arg}': expected stages.<stage id>.<param>=<values>`, { file: `--${opt}` });
  const key = arg.slice(0, eq).trim();
  if (!/^stages\.[A-Za-z_][A-Za-z0-9_-]*\..+/.test(key)) throw new ConfigError(`--${opt} '${arg}': the key must be stages.<stage id>.<param path>`, { file: `--${opt}`, path: key });
  return [key, arg.slice(eq + 1)];
}

const yamlValue = (s: string, where: string) => {
  try {
    return parseYamlValue(s) as unknown;
  } catch (e) {
    throw new ConfigError(`${where}: '${s}' is not a valid YAML value: ${(e as Error).message.split('\n')[0]}`);
  }
};

/** `--grid stages.lime.num_samples=250,500,1000` (YAML values; `k=[a, b]` as a YAML list too; list values: `k=[a],[a, b]`). */
export function parseGridArg(arg: string): [string, unknown[]] {
  const [key, rest] = keyOf(arg, 'grid');
  // a,b,c → three values; a single YAML list [a, b] → its items (one list value: [[a, b]])
  const parts = splitTop(rest.trim()).map((x) => yamlValue(x, `--grid ${key}`));
  const values = parts.length === 1 && Array.isArray(parts[0]) ? parts[0] : parts;
  if (!Array.isArray(values) || values.length === 0) throw new ConfigError(`--grid ${key}: no values`, { file: '--grid' });
  return [key, values];
}

/**
 * `--random stages.lime.kernel_width=uniform(0.1,0.5)`, `=loguniform(1e-3,1)`, `=int(100,1000)`, `=choice(a,b)` or
 * `=a,b,c` (a choice).
 */
export function parseRandomArg(arg: string): [string, Dist] {
  const [key, rest] = keyOf(arg, 'random');
  const m = /^\s*(int|uniform|loguniform|choice)\s*\((.*)\)\s*$/.exec(rest);
  // name(…) that is not a distribution is a mistake, not a literal string value
  const call = /^\s*([A-Za-z_]\w*)\s*\(.*\)\s*$/.exec(rest);
  if (!m && call) {
    throw new ConfigError(`--random ${key}: unknown distribution '${call[1]}'`, {
      file: '--random',
      expected: 'uniform(low, high), loguniform(low, high), int(low, high), choice(a, b, …) or a,b,c',
      suggestion: didYouMean(call[1], ['int', 'uniform', 'loguniform', 'choice']),
    });
  }
  if (!m) return [key, { choice: splitTop(rest).map((x) => yamlValue(x, `--random ${key}`)) }];
  const args = splitTop(m[2]).map((x) => yamlValue(x, `--random ${key}`));
  if (m[1] === 'choice') return [key, { choice: args }];
  if (args.length !== 2 || !args.every((x) => typeof x === 'number')) throw new ConfigError(`--random ${key}: ${m[1]}(low, high) takes two numbers, got '${m[2]}'`, { file: '--random' });
  const pair = args as [number, number];
  if (m[1] === 'int') {
    if (!pair.every(Number.isInteger)) throw new ConfigError(`--random ${key}: int(low, high) takes integers`, { file: '--random' });
    return [key, { int: pair }];
  }
  if (m[1] === 'loguniform' && !(pair[0] > 0 && pair[1] > 0)) throw new ConfigError(`--random ${key}: loguniform bounds must be > 0`, { file: '--random' });
  return [key, m[1] === 'uniform' ? { uniform: pair } : { loguniform: pair }];
}

/** The `sweep:` block of a pipeline (already schema-validated by the pipeline loader) as a SweepSpec. */
export function specFromBlock(block: Record<string, unknown> | undefined): SweepSpec {
  if (!block) return { grid: [] };
  const grid = Object.entries((block.grid as Record<string, unknown[]> | undefined) ?? {});
  const random = block.random as { trials: number; seed?: number; params: Record<string, Dist | unknown[]> } | undefined;
  return {
    grid,
    ...(random ? { random: { trials: random.trials, seed: random.seed ?? 0, params: Object.entries(random.params).map(([k, d]) => [k, Array.isArray(d) ? { choice: d } : d] as [string, Dist]) } } : {}),
    ...(block.stages ? { stages: block.stages as string[] } : {}),
    ...(block.collect ? { collect: block.collect as string } : {}),
  };
}

/** Checks that swept keys name stages of the pipeline (located in the sweep block when they come from it). */
export function checkKeys(spec: SweepSpec, stageIds: string[], src: YamlSource | undefined, fromBlock: Set<string>): void {
  const errors: ConfigError[] = [];
  const entries: [string, 'grid' | 'random'][] = [...spec.grid.map(([k]) => [k, 'grid'] as [string, 'grid']), ...(spec.random?.params ?? []).map(([k]) => [k, 'random'] as [string, 'random'])];
  for (const [k, where] of entries) {
    const id = k.split('.')[1];
    if (stageIds.includes(id)) continue;
    const at = src && fromBlock.has(k) ? locate(src, where === 'grid' ? ['sweep', 'grid', k] : ['sweep', 'random', 'params', k], 'key') : { file: `--${where}` };
    errors.push(new ConfigError(`no stage '${id}' in the pipeline`, { ...at, path: k, suggestion: didYouMean(id, stageIds) ?? `stages: ${stageIds.join(', ')}` }));
  }
  for (const [field, ids] of [['stages', spec.stages ?? []], ['collect', spec.collect ? [spec.collect] : []]] as const) {
    for (const id of ids) {
      if (stageIds.includes(id)) continue;
      const at = src && fromBlock.has(`:${field}`) ? locate(src, ['sweep', field], 'value') : { file: '--stage' };
      errors.push(new ConfigError(`no stage '${id}' in the pipeline`, { ...at, path: `sweep.${field}`, suggestion: didYouMean(id, stageIds) ?? `stages: ${stageIds.join(', ')}` }));
    }
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new ConfigErrors(errors);
}

/** The plan restricted to `targets` and their upstream stages (in the plan's order). */
export function prunePlan(plan: Plan, targets: readonly string[]): Plan {
  const keep = new Set<string>();
  const visit = (id: string) => {
    if (keep.has(id)) return;
    keep.add(id);
    for (const d of plan.byId.get(id)?.deps ?? []) visit(d);
  };
  targets.forEach(visit);
  const stages = plan.stages.filter((s) => keep.has(s.id));
  return { ...plan, stages, byId: new Map(stages.map((s) => [s.id, s])) };
}

// ------------------------------------------------------------------------------------------------------------------
// Results

export interface ComboResult {
  combo: Combination;
  status: 'ok' | 'failed' | 'interrupted' | 'pending';
  seconds?: number;
  /** The collected stage's meta.scoreboard. */
  scoreboard?: { avg_iou?: number | null; avg_time?: number | null; forwards_per_image?: number | null; n_images?: number; against?: string; [k: string]: Json | undefined };
  /** Stages computed (not cached) in this execution. */
  computed?: string[];
  error?: string;
}

/** Whether the JSON schema of the param a swept key names (`stages.<id>.<path>`) allows `type`. */
export function paramAllows(plan: Plan, key: string, type: string): boolean {
  const [, id, ...path] = key.split('.');
  let s = plan.byId.get(id)?.def.params as Record<string, any> | undefined;
  for (const p of path) s = s?.properties?.[p];
  const t = s?.type;
  return Array.isArray(t) ? t.includes(type) : t === type;
}

/** Directory of a sweep's results. */
export function sweepDir(root: string, pipeline: string, sweepId: string): string {
  return join(root, 'artifacts', 'sweeps', pipeline, sweepId);
}

/** Sweep id: hash of the pipeline name, the base overrides and the combinations' ids. */
export function sweepId(pipeline: string, baseSets: readonly string[], combos: readonly Combination[]): string {
  return createHash('sha256').update(JSON.stringify({ pipeline, baseSets, ids: combos.map((c) => c.id) })).digest('hex').slice(0, 10);
}

/** What the Pareto front maximises or minimises against avg_time: a board column (default avg_iou, max). */
export interface Objective {
  metric: string;
  direction: 'max' | 'min';
}
const EVAL_BOARD_COLUMNS = ['avg_deletion_auc', 'avg_insertion_auc', 'avg_road_combined'];
export const DEFAULT_OBJECTIVE: Objective = { metric: 'avg_iou', direction: 'max' };
/** Board columns an objective may name (the evaluate means join the board when the scoreboard has an evaluate input). */
export const OBJECTIVE_METRICS = ['avg_iou', 'avg_deletion_auc', 'avg_insertion_auc', 'avg_road_combined', 'forwards_per_image'] as const;

/** `--objective <metric>[:max|min]` (default direction: max). */
export function parseObjective(arg: string): Objective {
  const m = /^([a-z_]+)(?::(max|min))?$/.exec(arg.trim());
  if (!m || !(OBJECTIVE_METRICS as readonly string[]).includes(m[1])) {
    throw new ConfigError(`--objective ${arg}: expected <metric>[:max|min]`, { file: '--objective', expected: `a metric among ${OBJECTIVE_METRICS.join(', ')}` });
  }
  return { metric: m[1], direction: (m[2] as 'max' | 'min' | undefined) ?? 'max' };
}

/** Builds the scoreboard table (a row per combination) and the indices of its Pareto front (objective vs avg_time). */
export async function scoreboardTable(keys: string[], results: ComboResult[], integerKeys: ReadonlySet<string> = new Set(), objective: Objective = DEFAULT_OBJECTIVE) {
  const { Bool, Field, Float64, Int32, Int64, Schema, Utf8 } = await import('apache-arrow');
  const { tableFromRows } = await import('../arrow/io.ts');
  const { paretoFront } = await import('../algo/compare/index.ts');
  const colName = (k: string) => k.replace(/^stages\./, '');
  const colType = (k: string) => {
    const vs = results.map((r) => r.combo.values[k]).filter((v) => v !== undefined && v !== null);
    // a swept column keeps its parameter's type: an integer param's values stay integers (Int64), other numbers Float64
    if (vs.length && vs.every((v) => typeof v === 'number')) return integerKeys.has(k) && vs.every((v) => Number.isInteger(v)) ? new Int64() : new Float64();
    if (vs.length && vs.every((v) => typeof v === 'boolean')) return new Bool();
    return new Utf8();
  };
  const fields = [
    new Field('run_id', new Utf8(), false),
    new Field('status', new Utf8(), false),
    ...keys.map((k) => new Field(colName(k), colType(k), true)),
    new Field('avg_iou', new Float64(), true),
    new Field('avg_time', new Float64(), true),
    new Field('forwards_per_image', new Float64(), true),
    ...EVAL_BOARD_COLUMNS.map((c) => new Field(c, new Float64(), true)),
    new Field('n_images', new Int32(), true),
    new Field('against', new Utf8(), true),
    new Field('pareto', new Bool(), false),
    new Field('seconds', new Float64(), true),
    new Field('overrides', new Utf8(), false),
  ];
  const schema = new Schema(fields);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
  // the front maximises its first coordinate: a minimised objective enters negated
  const sign = objective.direction === 'max' ? 1 : -1;
  const points = results.map((r) => ({ iou: r.status === 'ok' ? sign * num(r.scoreboard?.[objective.metric]) : NaN, time: r.status === 'ok' ? num(r.scoreboard?.avg_time) : NaN }));
  const order = paretoFront(points);
  const front = new Set(order);
  const rows = results.map((r, i) => {
    const row: Record<string, unknown> = {
      run_id: r.combo.id,
      status: r.status,
      avg_iou: r.scoreboard?.avg_iou ?? null,
      avg_time: r.scoreboard?.avg_time ?? null,
      forwards_per_image: r.scoreboard?.forwards_per_image ?? null,
      ...Object.fromEntries(EVAL_BOARD_COLUMNS.map((c) => [c, r.scoreboard?.[c] ?? null])),
      n_images: r.scoreboard?.n_images ?? null,
      against: r.scoreboard?.against ?? null,
      pareto: front.has(i),
      seconds: r.seconds ?? null,
      overrides: r.combo.sets.join(' '),
    };
    for (const k of keys) {
      const v = r.combo.values[k];
      const t = colType(k);
      row[colName(k)] = v === undefined ? null : t instanceof Utf8 ? showValue(v) : v;
    }
    return row;
  });
  const table = tableFromRows(rows, schema);
  const pareto = tableFromRows(order.map((i) => rows[i]), schema);
  return { table, pareto, rows, front: order };
}

/** Narrow text table of the scoreboard: one line per combination, swept values, avg_iou, avg_time, n, Pareto mark. */
export function formatScoreboard(keys: string[], results: ComboResult[], front: number[], objective: Objective = DEFAULT_OBJECTIVE): string {
  const extra = objective.metric === 'avg_iou' ? [] : [objective.metric];
  const short = (k: string) => {
    const parts = k.replace(/^stages\./, '').split('.');
    return parts.slice(-2).join('.');
  };
  const head = ['run id', ...keys.map(short), 'avg_iou', ...extra, 'avg_time', 'n', 'pareto'];
  const f = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '-');
  const lines = results.map((r, i) => [
    r.combo.id,
    ...keys.map((k) => (r.combo.values[k] === undefined ? '-' : showValue(r.combo.values[k]))),
    r.status === 'ok' ? f(r.scoreboard?.avg_iou, 4) : r.status,
    ...extra.map((m) => (r.status === 'ok' ? f(r.scoreboard?.[m], 4) : '')),
    r.status === 'ok' ? f(r.scoreboard?.avg_time, 3) : '',
    r.status === 'ok' ? String(r.scoreboard?.n_images ?? '-') : '',
    front.includes(i) ? '*' : '',
  ]);
  const widths = head.map((h, j) => Math.min(40, Math.max(h.length, ...lines.map((l) => l[j].length))));
  const numeric = (j: number) => j >= head.length - 4 - extra.length && j < head.length - 1;
  const fmt = (cells: string[]) =>
    cells
      .map((c, j) => {
        const s = c.length > widths[j] ? c.slice(0, widths[j] - 1) + '…' : c;
        return numeric(j) ? s.padStart(widths[j]) : s.padEnd(widths[j]);
      })
      .join('  ')
      .trimEnd();
  return [fmt(head), widths.map((w) => '─'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n') + '\n';
}

/** Writes a sweep's result files and points artifacts/sweeps/<pipeline>/latest at them. */
export async function writeSweepResults(dir: string, info: Record<string, Json>, keys: string[], results: ComboResult[], integerKeys?: ReadonlySet<string>, objective: Objective = DEFAULT_OBJECTIVE) {
  const { tableToBytes } = await import('../arrow/io.ts');
  const { scatterChart } = await import('../viz/svg.ts');
  mkdirSync(dir, { recursive: true });
  const { table, pareto, front } = await scoreboardTable(keys, results, integerKeys, objective);
  const y = objective.metric;
  const atomic = async (name: string, data: Uint8Array | string) => {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, data);
    renameSync(tmp, join(dir, name));
  };
  // the tables follow the project's Arrow conventions (src/arrow/conventions.ts): sweep metadata, column descriptions
  const { conform } = await import('../arrow/conventions.ts');
  const { toolVersions } = await import('./runs.ts');
  const columns: Record<string, string> = {
    run_id: "the combination's run id (xai runs / xai compare)",
    status: 'ok, failed, interrupted or pending',
    avg_time: "seconds per image of the combination's lime stage (its timings, measured alone)",
    pareto: `on the Pareto front (${objective.direction} ${y}, min avg_time)`,
    seconds: "the combination's run time [s]",
    overrides: "the combination's --set overrides",
    ...Object.fromEntries(keys.map((k) => [k.replace(/^stages\./, ''), `swept value of ${k}`])),
  };
  const meta = (name: string) => ({ stage: 'sweep', kind: 'sweep', key: String(info.sweep_id ?? ''), pipeline: String(info.pipeline ?? ''), version: toolVersions(process.cwd()).xai ?? 'unknown', table: name, params: { keys, base_sets: info.base_sets ?? [] }, columns });
  await atomic('scoreboard.arrow', tableToBytes(conform(table, meta('scoreboard'))));
  await atomic('pareto.arrow', tableToBytes(conform(pareto, meta('pareto'))));
  const ok = results.map((r, i) => ({ r, i })).filter(({ r }) => r.status === 'ok' && typeof r.scoreboard?.[y] === 'number' && typeof r.scoreboard?.avg_time === 'number');
  if (ok.length) {
    const svg = scatterChart({
      title: y === 'avg_iou' ? 'LIME configurations: IoU vs time per image' : `LIME configurations: ${y} (${objective.direction}) vs time per image`,
      points: ok.map(({ r }) => ({ x: r.scoreboard!.avg_time as number, y: r.scoreboard![y] as number, label: r.combo.id })),
      xLabel: 'avg_time (s per image)',
      yLabel: y,
      pareto: front.map((i) => ok.findIndex((o) => o.i === i)).filter((i) => i >= 0),
    });
    await atomic('pareto.svg', svg);
  }
  const json = {
    ...info,
    objective: objective as unknown as Json,
    keys,
    combinations: results.map((r, i) => ({ run_id: r.combo.id, values: r.combo.values as Record<string, Json>, sets: r.combo.sets, status: r.status, seconds: r.seconds ?? null, computed: r.computed ?? null, error: r.error ?? null, scoreboard: (r.scoreboard ?? null) as Json, pareto: front.includes(i) })),
  };
  await atomic('sweep.json', JSON.stringify(json, null, 2) + '\n');
  const link = join(dir, '..', 'latest');
  const target = dir.split('/').pop()!;
  try {
    if (lstatSync(link).isSymbolicLink()) rmSync(link);
  } catch {
    /* absent */
  }
  if (!existsSync(link)) symlinkSync(target, link, 'dir');
  return { front };
}

/** The latest sweep of a pipeline: its directory (artifacts/sweeps/<pipeline>/latest) and sweep.json, or undefined. */
export function readLatestSweep(root: string, pipeline: string): { dir: string; sweep: Record<string, any> } | undefined {
  const dir = sweepDir(root, pipeline, 'latest');
  const sweep = readSweep(dir);
  return sweep ? { dir, sweep } : undefined;
}

/** Reads a sweep's sweep.json. */
export function readSweep(dir: string): Record<string, any> | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Running a sweep

export interface SweepOptions {
  root: string;
  /** Pipeline file. */
  pipeline: string;
  /** Grid / random from the command line: when either is given, they replace the block's grid and random. */
  grid?: [string, unknown[]][];
  random?: { trials: number; seed: number; params: [string, Dist][] };
  /** Command-line targets / collected stage (replace the block's). */
  stages?: string[];
  collect?: string;
  /** `--set` overrides applied to every combination. */
  sets?: string[];
  jobs?: number;
  /** Passed to every combination's run (RunOptions.workers / queue). */
  workers?: number;
  queue?: string;
  /**
   * Combinations run at once (default 1). With `queue`, more than one spreads the combinations over the workers; the
   * runs share the artifacts lock and their common stages (computed once), and each combination's LIME time is then
   * measured beside the others'.
   */
  parallel?: number;
  signal?: AbortSignal;
  bus?: import('./events.ts').EventBus;
  argv?: string[];
  /** Only expand and validate. */
  dryRun?: boolean;
  /** What the Pareto front is drawn against (with avg_time); default avg_iou, max. */
  objective?: Objective;
  onStart?(info: { pipeline: string; sweepId: string; dir: string; combos: Combination[]; targets: string[]; collect?: string }): void;
  onCombination?(i: number, n: number, combo: Combination, result?: ComboResult): void;
}

export interface SweepResult {
  pipeline: string;
  sweepId: string;
  dir: string;
  keys: string[];
  combos: Combination[];
  results: ComboResult[];
  front: number[];
  targets: string[];
  collect?: string;
  interrupted: boolean;
  seconds: number;
}

export async function runSweep(opts: SweepOptions): Promise<SweepResult> {
  const t0 = Date.now();
  const { analyze } = await import('./analyze.ts');
  const baseSets = opts.sets ?? [];
  const base = await analyze(opts.pipeline, { root: opts.root, sets: baseSets });
  const name = base.pipeline.name;
  const blockSpec = specFromBlock(base.pipeline.sweep);
  const fromBlock = new Set<string>();
  const cliSweep = Boolean(opts.grid?.length || opts.random);
  if (!cliSweep) {
    for (const [k] of blockSpec.grid) fromBlock.add(k);
    for (const [k] of blockSpec.random?.params ?? []) fromBlock.add(k);
  }
  if (!opts.stages && blockSpec.stages) fromBlock.add(':stages');
  if (!opts.collect && blockSpec.collect) fromBlock.add(':collect');
  const spec: SweepSpec = {
    grid: cliSweep ? (opts.grid ?? []) : blockSpec.grid,
    ...(cliSweep ? (opts.random ? { random: opts.random } : {}) : blockSpec.random ? { random: blockSpec.random } : {}),
    ...((opts.stages ?? blockSpec.stages) ? { stages: opts.stages ?? blockSpec.stages } : {}),
    ...((opts.collect ?? blockSpec.collect) ? { collect: opts.collect ?? blockSpec.collect } : {}),
  };
  if (spec.grid.length === 0 && !spec.random) {
    throw new ConfigError(`nothing to sweep: ${base.pipeline.file} has no sweep: block with grid/random, and no --grid/--random was given`, {
      suggestion: 'xai sweep <pipeline> --grid stages.<id>.<param>=a,b',
    });
  }
  const ids = base.stages.map((s) => s.id);
  checkKeys(spec, ids, base.pipeline.src, fromBlock);
  const scoreboards = base.stages.filter((s) => s.def.kind === 'scoreboard').map((s) => s.id);
  const targets = spec.stages ?? (scoreboards.length ? scoreboards : ids);
  const closure = new Set(prunePlan(base, targets).stages.map((s) => s.id));
  const collect = spec.collect ?? scoreboards.find((id) => closure.has(id));
  if (collect && !closure.has(collect)) {
    throw new ConfigError(`the collected stage '${collect}' is not among the stages the sweep runs (${targets.join(', ')} and their upstream stages)`, { path: 'sweep.collect' });
  }
  const combos = expand(spec, name, baseSets);
  const keys = sweptKeys(spec);
  const sid = sweepId(name, baseSets, combos);
  const dir = sweepDir(opts.root, name, sid);
  opts.onStart?.({ pipeline: name, sweepId: sid, dir, combos, targets, collect });

  // Validate every combination before anything runs (a bad value in the 5th combination must not waste four runs).
  const plans: Plan[] = [];
  for (const c of combos) {
    try {
      plans.push(prunePlan(await analyze(opts.pipeline, { root: opts.root, sets: [...baseSets, ...c.sets] }), targets));
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`combination ${c.id} (${c.sets.join(' ')}): ${e.message}`);
      if (e instanceof ConfigErrors) throw new ConfigError(`combination ${c.id} (${c.sets.join(' ')}):\n${e.message}`);
      throw e;
    }
  }
  const results: ComboResult[] = combos.map((combo) => ({ combo, status: 'pending' }));
  const intKeys = new Set(keys.filter((k) => paramAllows(base, k, 'integer')));
  const info = { pipeline: name, file: base.pipeline.file, sweep_id: sid, base_sets: baseSets, targets, collect: collect ?? null } as Record<string, Json>;
  if (opts.dryRun) return { pipeline: name, sweepId: sid, dir, keys, combos, results, front: [], targets, collect, interrupted: false, seconds: (Date.now() - t0) / 1000 };

  const { executePlan, openRunSession } = await import('./runner.ts');
  const { openCache } = await import('./cache.ts');
  const store = openCache(opts.root);
  let interrupted = false;
  let front: number[] = [];
  const parallel = Math.max(1, Math.min(opts.parallel ?? 1, combos.length));
  const session = parallel > 1 ? await openRunSession(opts.root, `xai ${(opts.argv ?? []).join(' ')}`.trim()) : undefined;
  let written: Promise<unknown> = Promise.resolve();
  const runCombination = async (i: number): Promise<void> => {
    const c = combos[i];
    opts.onCombination?.(i, combos.length, c);
    const r = await executePlan(plans[i], {
      runId: c.id,
      latest: false,
      sweep: { id: sid, values: c.values as Record<string, Json>, sets: c.sets, index: i, of: combos.length, ...(parallel > 1 ? { parallel } : {}) },
      jobs: opts.jobs,
      workers: opts.workers,
      queue: opts.queue,
      signal: opts.signal,
      bus: session && opts.bus ? await comboBus(opts.bus, c.id) : opts.bus,
      argv: opts.argv,
      ...(session ? { session } : {}),
    });
    const res = results[i];
    res.status = r.ok ? 'ok' : r.interrupted ? 'interrupted' : 'failed';
    res.seconds = r.record.seconds;
    res.computed = Object.entries(r.record.stages).filter(([, s]) => s.status === 'done').map(([id]) => id);
    if (!r.ok && !r.interrupted) res.error = r.failed.map((f) => `${f.stageId}: ${f.error}`).join('; ');
    if (r.ok && collect) {
      const s = r.record.stages[collect];
      const e = s?.key ? store.get(s.kind, s.key) : undefined;
      const sb = e && boardOf(store, e);
      if (sb) res.scoreboard = sb as ComboResult['scoreboard'];
    }
    // one writer at a time (combinations may finish together)
    written = written.then(async () => ({ front } = await writeSweepResults(dir, info, keys, results, intKeys, opts.objective)));
    await written;
    opts.onCombination?.(i, combos.length, c, res);
    if (r.interrupted) interrupted = true;
  };
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < combos.length && !interrupted) {
          if (opts.signal?.aborted) {
            interrupted = true;
            break;
          }
          await runCombination(next++);
        }
      }),
    );
  } finally {
    session?.close();
  }
  if (!interrupted && combos.length) ({ front } = await writeSweepResults(dir, { ...info, finished: new Date().toISOString() }, keys, results, intKeys, opts.objective));
  return { pipeline: name, sweepId: sid, dir, keys, combos, results, front, targets, collect, interrupted, seconds: (Date.now() - t0) / 1000 };
}

/** Events of one of several combinations running at once, forwarded with its stage ids prefixed by the run id. */
async function comboBus(to: import('./events.ts').EventBus, runId: string): Promise<import('./events.ts').EventBus> {
  const { EventBus } = await import('./events.ts');
  const bus = new EventBus();
  bus.on((e) => {
    const { time: _t, ...rest } = e as typeof e & { stageId?: string };
    to.emit((typeof rest.stageId === 'string' && rest.stageId !== '-' ? { ...rest, stageId: `${runId}/${rest.stageId}` } : rest) as never);
  });
  return bus;
}

/**
 * A scoreboard entry's board (meta.scoreboard) with its avg_time joined in: the timed upstream's seconds per item
 * (meta.scoreboard.time_of names it), read now, so a recomputed (--force) LIME shows its new time. Timings are kept out
 * of the board's own results, which stay byte-reproducible. undefined when the entry has no board.
 */
export function boardOf(cache: Cache, e: CacheEntry): Record<string, Json> | undefined {
  const sb = e.meta.scoreboard;
  if (!sb || typeof sb !== 'object' || Array.isArray(sb)) return undefined;
  const src = sb.time_of as { kind?: string; key?: string } | undefined;
  const timed = src?.kind && src.key ? cache.get(src.kind, src.key) : undefined;
  const secs = timed ? secondsPerItem(timed) : undefined;
  const { time_of: _, ...rest } = sb;
  return { ...rest, avg_time: secs === undefined ? null : Math.round(secs * 1e4) / 1e4, ...(timed ? { timed_alone: Boolean(timed.timings.alone) } : {}) };
}

/** Seconds per item of an entry's ctx.map work (its tables' mean item times, summed: e.g. LIME's segments + explanations). */
export function secondsPerItem(e: CacheEntry): number | undefined {
  const items = Object.values(e.timings?.items ?? {});
  return items.length ? items.reduce((a, t) => a + t.mean_ms, 0) / 1000 : undefined;
}

/** `<kind>/<key>` of every stage of every combination of each pipeline's latest sweep (kept by `xai gc`). */
export function latestSweepKeys(root: string): string[] {
  const store = openCache(root);
  const base = join(root, 'artifacts', 'sweeps');
  const out: string[] = [];
  let pipes: string[] = [];
  try {
    pipes = readdirSync(base);
  } catch {
    return out;
  }
  for (const p of pipes) {
    const s = readSweep(join(base, p, 'latest'));
    for (const c of (s?.combinations ?? []) as { run_id: string }[]) {
      const rec = readRun(store, p, c.run_id); // undefined: record gone
      for (const st of Object.values(rec?.stages ?? {})) if (st.key) out.push(`${st.kind}/${st.key}`);
    }
  }
  return out;
}
