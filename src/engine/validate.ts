// JSON-schema validation (ajv) turned into located, readable ConfigErrors with nearest-key suggestions.
import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction, Ajv as AjvClass } from 'ajv';
import { ConfigError, didYouMean } from './errors.ts';
import type { PathSeg } from './yamlsrc.ts';

// ajv is CommonJS; under NodeNext the class is the module's `default`.
type AjvInstance = AjvClass;
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as new (opts: object) => AjvInstance;

let ajv: AjvInstance | undefined;
/** The shared ajv instance: all errors, defaults applied, lenient about unknown schema keywords. */
export function getAjv(): AjvInstance {
  ajv ??= new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false, allowUnionTypes: true });
  return ajv;
}

const compiled = new WeakMap<object, ValidateFunction>();
/** Compiles a schema once (by object identity). */
export function compile(schema: Record<string, unknown>): ValidateFunction {
  const have = compiled.get(schema);
  if (have) return have;
  const v = getAjv().compile(schema);
  compiled.set(schema, v);
  return v;
}

/**
 * "Closed by default": a deep copy of `schema` where every object schema that lists `properties` and says nothing
 * about `additionalProperties`/`patternProperties` rejects unknown keys (so misspelt params are caught). Children
 * of `allOf` are left open (closing them would reject each other's keys).
 */
export function closeSchema<T>(schema: T): T {
  const walk = (s: unknown, inAllOf: boolean): unknown => {
    if (Array.isArray(s)) return s.map((x) => walk(x, inAllOf));
    if (!s || typeof s !== 'object') return s;
    const o = s as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (k === 'properties' || k === 'definitions' || k === '$defs' || k === 'patternProperties' || k === 'dependentSchemas') {
        out[k] = v && typeof v === 'object' ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, walk(pv, false)])) : v;
      } else if (k === 'allOf') out[k] = walk(v, true);
      else if (['items', 'additionalItems', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'additionalProperties', 'contains', 'prefixItems'].includes(k)) {
        out[k] = walk(v, false);
      } else out[k] = v;
    }
    if (!inAllOf && out.properties && out.additionalProperties === undefined && out.patternProperties === undefined && out.unevaluatedProperties === undefined) {
      out.additionalProperties = false;
    }
    return out;
  };
  return walk(schema, false) as T;
}

/** `a.b[0].c` */
export function formatPath(path: readonly PathSeg[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else s += s ? `.${seg}` : seg;
  }
  return s;
}

export function pointerToPath(pointer: string): PathSeg[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function short(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  if (s === undefined) s = String(v);
  return s.length > 40 ? s.slice(0, 39) + '…' : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'object') return 'mapping';
  return typeof v;
}

/** Locates a path (relative to the validated value) in its source file. */
export type Locator = (path: PathSeg[], at: 'key' | 'value') => { file?: string; line?: number; column?: number; note?: string };

/**
 * ajv errors → ConfigErrors, one per offending place, most specific first. `prefix` is the key path of the
 * validated value in the file (e.g. ['stages', 'lime', 'params']).
 */
export function toConfigErrors(errors: readonly ErrorObject[], prefix: PathSeg[], locate: Locator): ConfigError[] {
  // anyOf/oneOf wrappers are noise when a branch error at the same place explains more; keep them only alone.
  const byPlace = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const place = e.keyword === 'additionalProperties' ? `${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}` : e.instancePath;
    const list = byPlace.get(place) ?? [];
    list.push(e);
    byPlace.set(place, list);
  }
  const out: ConfigError[] = [];
  for (const list of byPlace.values()) {
    const specific = list.filter((e) => !['anyOf', 'oneOf', 'if'].includes(e.keyword));
    const chosen = specific.length ? specific : list;
    // For a failed anyOf of types, several `type` errors at the same place: merge them.
    const types = chosen.filter((e) => e.keyword === 'type').map((e) => String((e.params as { type: string | string[] }).type));
    const seen = new Set<string>();
    for (const e of chosen) {
      if (e.keyword === 'type' && types.length > 1) {
        if (seen.has('type')) continue;
        seen.add('type');
        out.push(one({ ...e, params: { type: types.join(' or ') } }, prefix, locate));
        continue;
      }
      const sig = `${e.keyword}:${e.message}`;
      if (seen.has(sig)) continue;
      seen.add(sig);
      out.push(one(e, prefix, locate));
      if (list.length > 1 && e.keyword === 'additionalProperties') break;
    }
  }
  return out;
}

function one(e: ErrorObject, prefix: PathSeg[], locate: Locator): ConfigError {
  const path = pointerToPath(e.instancePath);
  const parent = e.parentSchema as Record<string, unknown> | undefined;
  const p = e.params as Record<string, unknown>;
  let at: 'key' | 'value' = 'value';
  let detail: string;
  let expected: string | undefined;
  let suggestion: string | undefined;
  let full = [...prefix, ...path];
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      full = [...full, key];
      path.push(key);
      at = 'key';
      detail = 'unknown key';
      const keys = Object.keys((parent?.properties as object) ?? {});
      suggestion = didYouMean(key, keys) ?? (keys.length ? `valid keys: ${keys.join(', ')}` : undefined);
      break;
    }
    case 'required': {
      detail = `missing required key '${String(p.missingProperty)}'`;
      at = path.length ? 'key' : 'value';
      break;
    }
    case 'type': {
      // ['integer', 'string'] → 'integer or string'
      expected = (Array.isArray(p.type) ? p.type : String(p.type).split(',')).map((t) => (t === 'object' ? 'mapping' : String(t))).join(' or ');
      detail = `expected ${expected}, got ${typeName(e.data)} ${short(e.data)}`;
      break;
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]) ?? [];
      expected = `one of ${allowed.map((a) => short(a)).join(', ')}`;
      detail = `expected ${expected}, got ${short(e.data)}`;
      if (typeof e.data === 'string') suggestion = didYouMean(e.data, allowed.filter((a): a is string => typeof a === 'string'));
      break;
    }
    case 'const':
      expected = short(p.allowedValue);
      detail = `expected ${expected}, got ${short(e.data)}`;
      break;
    case 'propertyNames': {
      detail = `invalid key '${String(p.propertyName)}'`;
      full = [...full, String(p.propertyName)];
      path.push(String(p.propertyName));
      at = 'key';
      break;
    }
    case 'pattern':
      detail = `expected a string matching ${String(p.pattern)}, got ${short(e.data)}`;
      break;
    default:
      detail = `${e.message ?? 'invalid'}, got ${short(e.data)}`;
  }
  const loc = locate(path, at);
  const where = loc.note ? ` [${loc.note}]` : '';
  return new ConfigError(detail + where, { file: loc.file, line: loc.line, column: loc.column, path: formatPath(full), expected, suggestion });
}
