// Pipeline files: parse, check their shape, merge `include:` fragments and `--set` overrides into each stage's
// params while remembering where every value came from (for located errors).
import { RESERVED_NAMES } from './cache.ts';
import { createHash } from 'node:crypto';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYamlValue } from 'yaml';
import { ConfigError, ConfigErrors, didYouMean } from './errors.ts';
import { compile, formatPath, toConfigErrors } from './validate.ts';
import { displayPath, loadYaml, locate, type PathSeg, type Pos, type YamlSource } from './yamlsrc.ts';
import { sweepSchema } from './sweep-schema.ts';

export const STAGE_ID = '^[A-Za-z_][A-Za-z0-9_-]*$';
export const PIPELINE_NAME = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';
/** JSON schema of a pipeline file. */
export const pipelineSchema = {
  type: 'object',
  required: ['stages'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: PIPELINE_NAME },
    description: { type: 'string' },
    fail_on_item_error: { type: 'boolean' },
    /** Parameter sweep run by `xai sweep` (src/engine/sweep.ts); `xai run` ignores it. */
    sweep: sweepSchema,
    /** Tables `xai run` exports after a successful run (src/export; docs/export.md). */
    export: {
      type: 'array',
      items: {
        type: 'object',
        required: ['table'],
        additionalProperties: false,
        properties: {
          table: { type: 'string', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_][A-Za-z0-9_.-]*)?$', description: '<stage> (all its tables) or <stage>.<table>' },
          format: { enum: ['parquet', 'csv', 'npy', 'jsonl'], default: 'parquet' },
          out: { type: 'string', minLength: 1, description: 'directory (default exports/<pipeline>/)' },
          columns: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        },
      },
    },
    stages: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: STAGE_ID },
      additionalProperties: {
        type: 'object',
        required: ['uses'],
        additionalProperties: false,
        properties: {
          uses: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          params: { type: 'object' },
          include: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 } }] },
          inputs: { type: 'object', propertyNames: { pattern: STAGE_ID }, additionalProperties: { type: 'string' } },
        },
      },
    },
  },
} as const;

/** Where a params value came from. */
export type Origin = { src: YamlSource; path: PathSeg[]; via?: string } | { set: string };

/** One stage as written (params merged, not yet validated against the stage kind's schema). */
export interface StageSpec {
  id: string;
  uses: string;
  description?: string;
  /** Merged params: fragments (in order), then local `params`, then `--set`. */
  params: Record<string, unknown>;
  inputs: Record<string, string>;
  /** Fragment files merged into this stage, as displayed. */
  includes: string[];
  origins: Map<string, Origin>;
  /** Position of the stage's key in the pipeline file. */
  where: Pos;
}

export interface PipelineSpec {
  name: string;
  description?: string;
  failOnItemError: boolean;
  /** Absolute path and displayed path of the pipeline file. */
  abs: string;
  file: string;
  /** sha256 of the pipeline file text. */
  fileHash: string;
  /** sha256 of every fragment file used, by displayed path. */
  fragments: Record<string, string>;
  src: YamlSource;
  stages: StageSpec[];
  /** The `--set` overrides applied, as given. */
  overrides: string[];
  /** The `sweep:` block as written (validated against sweepSchema), for `xai sweep`. */
  sweep?: Record<string, unknown>;
  /** The `export:` block: tables `xai run` writes for other tools after a successful run. */
  exports: ExportSpec[];
}

export interface ExportSpec {
  /** `<stage>` or `<stage>.<table>`. */
  table: string;
  format: 'parquet' | 'csv' | 'npy' | 'jsonl';
  out?: string;
  columns?: string[];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge: mappings merge key by key (keys of `over` win, key order: base's then new ones); anything else is replaced. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = Object.hasOwn(base, k) ? deepMerge(base[k], v) : clone(v);
    return out;
  }
  return clone(over);
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

const pkey = (path: readonly PathSeg[]) => path.join('\u0001');

/** Records origins of every path of `value` (at params path `at`), dropping older origins below replaced values. */
function recordOrigins(origins: Map<string, Origin>, at: PathSeg[], value: unknown, origin: (p: PathSeg[]) => Origin): void {
  const k = pkey(at);
  if (!isPlainObject(value)) {
    const prefix = k + '\u0001';
    for (const key of [...origins.keys()]) if (key.startsWith(prefix)) origins.delete(key);
  }
  origins.set(k, origin(at));
  if (isPlainObject(value)) for (const [kk, v] of Object.entries(value)) recordOrigins(origins, [...at, kk], v, origin);
  else if (Array.isArray(value)) value.forEach((v, i) => recordOrigins(origins, [...at, i], v, origin));
}

/** Position of params path `path` of a stage (the deepest recorded origin), for error messages. */
export function locateParam(stage: StageSpec, path: PathSeg[], at: 'key' | 'value'): { file?: string; line?: number; column?: number; note?: string } {
  for (let n = path.length; n >= 0; n--) {
    const o = stage.origins.get(pkey(path.slice(0, n)));
    if (!o) continue;
    if ('set' in o) return { file: '--set', note: o.set };
    const rest = path.slice(n);
    const pos = locate(o.src, [...o.path, ...rest], rest.length ? at : n === path.length ? at : 'value');
    return { ...pos, note: o.via };
  }
  return { ...stage.where };
}

interface LoadOptions {
  root: string;
  /** `--set` overrides: `stages.<id>.<param path>=<YAML value>`. */
  sets?: string[];
}

/** Loads a pipeline file: YAML → shape check → fragments merged → `--set` applied. Throws ConfigError(s). */
export function loadPipeline(pipelinePath: string, opts: LoadOptions): PipelineSpec {
  const root = opts.root;
  const abs = isAbsolute(pipelinePath) ? pipelinePath : resolve(root, pipelinePath);
  const src = loadYaml(abs, root, 'pipeline file');
  const file = src.file;
  const value = src.value;
  if (!isPlainObject(value)) throw new ConfigError(`expected a mapping with 'stages:', got ${value === null ? 'an empty file' : typeof value}`, { file, line: 1, column: 1 });
  const validate = compile(pipelineSchema as unknown as Record<string, unknown>);
  if (!validate(value)) {
    throw new ConfigErrors(toConfigErrors(validate.errors ?? [], [], (p, at) => locate(src, p, at)));
  }
  const name = (value.name as string | undefined) ?? basename(abs, extname(abs));
  if (!new RegExp(PIPELINE_NAME).test(name)) {
    throw new ConfigError(`pipeline name '${name}' (from the file name) is not valid; set 'name:'`, { file, line: 1, column: 1, expected: PIPELINE_NAME });
  }
  if (RESERVED_NAMES.includes(name)) {
    throw new ConfigError(`pipeline name '${name}' is reserved by the artifacts layout`, { ...locate(src, ['name'], 'value'), path: 'name', suggestion: 'choose another name' });
  }
  const fragments: Record<string, string> = {};
  const errors: ConfigError[] = [];
  const stages: StageSpec[] = [];
  for (const [id, raw] of Object.entries(value.stages as Record<string, Record<string, unknown>>)) {
    const where = locate(src, ['stages', id], 'key');
    const origins = new Map<string, Origin>();
    let params: Record<string, unknown> = {};
    const includes: string[] = [];
    try {
      const inc = raw.include === undefined ? [] : Array.isArray(raw.include) ? (raw.include as string[]) : [raw.include as string];
      inc.forEach((p, i) => {
        const incPath: PathSeg[] = Array.isArray(raw.include) ? ['stages', id, 'include', i] : ['stages', id, 'include'];
        const merged = loadFragment(p, { root, from: src, fromPath: incPath, stack: [abs], fragments, includes });
        params = deepMerge(params, merged.value) as Record<string, unknown>;
        for (const [k, o] of merged.origins) {
          if (!isPlainObject(merged.value) || k === '') continue;
          origins.set(k, o);
        }
      });
      if (raw.params !== undefined) {
        params = deepMerge(params, raw.params) as Record<string, unknown>;
        recordOrigins(origins, [], raw.params, (p) => ({ src, path: ['stages', id, 'params', ...p] }));
      }
    } catch (e) {
      if (e instanceof ConfigErrors) errors.push(...e.errors);
      else if (e instanceof ConfigError) errors.push(e);
      else throw e;
    }
    if (!origins.has('')) origins.set('', { src, path: raw.params !== undefined ? ['stages', id, 'params'] : ['stages', id] });
    stages.push({
      id,
      uses: raw.uses as string,
      description: raw.description as string | undefined,
      params,
      inputs: (raw.inputs as Record<string, string> | undefined) ?? {},
      includes,
      origins,
      where,
    });
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new ConfigErrors(errors);
  const overrides = opts.sets ?? [];
  for (const s of overrides) applySet(stages, s);
  return {
    name,
    description: value.description as string | undefined,
    failOnItemError: (value.fail_on_item_error as boolean | undefined) ?? false,
    abs,
    file,
    fileHash: sha256(src.text),
    fragments,
    src,
    stages,
    overrides,
    ...(value.sweep !== undefined ? { sweep: value.sweep as Record<string, unknown> } : {}),
    exports: ((value.export as Partial<ExportSpec>[] | undefined) ?? []).map((x) => ({ ...x, format: x.format ?? 'parquet' }) as ExportSpec),
  };
}

interface FragmentCtx {
  root: string;
  from: YamlSource;
  fromPath: PathSeg[];
  /** Absolute paths of the files including this one (cycle detection). */
  stack: string[];
  fragments: Record<string, string>;
  includes: string[];
}

/**
 * Loads a params fragment: a YAML mapping, optionally with its own `include:` (a path or list) merged first.
 * Paths starting with ./ or ../ are relative to the including file, others to the project root.
 */
function loadFragment(p: string, c: FragmentCtx): { value: unknown; origins: Map<string, Origin> } {
  const at = locate(c.from, c.fromPath, 'value');
  const abs = isAbsolute(p) ? p : p.startsWith('./') || p.startsWith('../') ? resolve(dirname(c.from.abs), p) : resolve(c.root, p);
  if (c.stack.includes(abs)) {
    const chain = [...c.stack.slice(c.stack.indexOf(abs)), abs].map((f) => displayPath(f, c.root)).join(' → ');
    throw new ConfigError(`include cycle: ${chain}`, { ...at, path: formatPath(c.fromPath) });
  }
  let src: YamlSource;
  try {
    src = loadYaml(abs, c.root, 'config fragment');
  } catch (e) {
    if (e instanceof ConfigError && /not found/.test(e.detail)) {
      throw new ConfigError(`config fragment '${p}' not found (looked at ${displayPath(abs, c.root)})`, { ...at, path: formatPath(c.fromPath) });
    }
    throw e;
  }
  c.fragments[src.file] = sha256(src.text);
  if (!c.includes.includes(src.file)) c.includes.push(src.file);
  const value = src.value ?? {};
  if (!isPlainObject(value)) {
    throw new ConfigError(`a config fragment must be a mapping of params, got ${Array.isArray(value) ? 'a list' : typeof value}`, { file: src.file, line: 1, column: 1 });
  }
  const origins = new Map<string, Origin>();
  let merged: Record<string, unknown> = {};
  const via = `included from ${c.from.file}`;
  if (value.include !== undefined) {
    const inc = value.include;
    const list = Array.isArray(inc) ? inc : [inc];
    list.forEach((q, i) => {
      if (typeof q !== 'string' || !q) {
        throw new ConfigError(`expected a fragment path (string)`, { ...locate(src, Array.isArray(inc) ? ['include', i] : ['include'], 'value'), path: 'include' });
      }
      const sub = loadFragment(q, { ...c, from: src, fromPath: Array.isArray(inc) ? ['include', i] : ['include'], stack: [...c.stack, abs] });
      merged = deepMerge(merged, sub.value) as Record<string, unknown>;
      for (const [k, o] of sub.origins) if (k !== '') origins.set(k, o);
    });
  }
  const own = Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'include'));
  merged = deepMerge(merged, own) as Record<string, unknown>;
  for (const [k, v] of Object.entries(own)) recordOrigins(origins, [k], v, (pp) => ({ src, path: pp, via }));
  return { value: merged, origins };
}

/** Applies one `--set stages.<id>.<param path>=<YAML value>` (a `params.` segment after the id is optional). */
function applySet(stages: StageSpec[], s: string): void {
  const eq = s.indexOf('=');
  const fail = (msg: string, suggestion?: string) => new ConfigError(msg, { file: '--set', path: eq > 0 ? s.slice(0, eq) : s, suggestion });
  if (eq <= 0) throw fail(`expected stages.<stage id>.<param>=<value>, got '${s}'`);
  const keyPath = s.slice(0, eq).trim();
  let value: unknown;
  try {
    value = parseYamlValue(s.slice(eq + 1));
  } catch (e) {
    throw fail(`value is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const segs = keyPath.split('.');
  if (segs[0] !== 'stages' || segs.length < 3) throw fail(`expected stages.<stage id>.<param>=<value>`);
  const stage = stages.find((st) => st.id === segs[1]);
  if (!stage) {
    throw fail(`no stage '${segs[1]}' in the pipeline`, didYouMean(segs[1], stages.map((st) => st.id)) ?? `stages: ${stages.map((st) => st.id).join(', ')}`);
  }
  let rest = segs.slice(2);
  if (rest[0] === 'params' && rest.length > 1 && !Object.hasOwn(stage.params, 'params')) rest = rest.slice(1);
  if (rest.some((x) => x === '')) throw fail(`empty segment in key path`);
  // Walk/create containers; numeric segments index into existing lists.
  let cur: Record<string, unknown> | unknown[] = stage.params;
  const path: PathSeg[] = [];
  for (let i = 0; i < rest.length; i++) {
    const seg = rest[i];
    const last = i === rest.length - 1;
    const key: PathSeg = Array.isArray(cur) && /^\d+$/.test(seg) ? Number(seg) : seg;
    path.push(key);
    if (last) {
      (cur as Record<string, unknown>)[key as string] = clone(value);
      break;
    }
    let next = (cur as Record<string, unknown>)[key as string];
    if (next === null || typeof next !== 'object') {
      next = {};
      (cur as Record<string, unknown>)[key as string] = next;
    }
    cur = next as Record<string, unknown>;
  }
  recordOrigins(stage.origins, path, value, () => ({ set: s }));
}
