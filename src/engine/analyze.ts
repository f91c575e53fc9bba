// The analyzer: pipeline file → a validated, typed plan (stage kinds loaded, params validated with defaults,
// inputs resolved, DAG checked). Nothing runs and nothing is written; every problem is a located ConfigError.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, ConfigErrors, didYouMean, errorMessage } from './errors.ts';
import { findCycle, topoOrder } from './dag.ts';
import { clone, loadPipeline, locateParam, type PipelineSpec, type StageSpec } from './pipeline.ts';
import { closeSchema, compile, formatPath, toConfigErrors } from './validate.ts';
import { displayPath, locate, type PathSeg } from './yamlsrc.ts';
import type { StageDef } from './types.ts';

export interface PlanStage {
  id: string;
  spec: StageSpec;
  def: StageDef;
  /** Absolute path of the stage kind's module. */
  modulePath: string;
  /** Params validated against the kind's schema, defaults applied. */
  params: Record<string, unknown>;
  /** Input name → upstream stage id. */
  inputs: Record<string, string>;
  /** Upstream stage ids (unique, in input order). */
  deps: string[];
  /** `file:line:col` of the stage in its pipeline. */
  where: string;
}

export interface Plan {
  root: string;
  pipeline: PipelineSpec;
  /** Stages in a topological order (file order among independent ones). */
  stages: PlanStage[];
  byId: Map<string, PlanStage>;
}

export interface AnalyzeOptions {
  root: string;
  sets?: string[];
}

const posStr = (p: { file: string; line: number; column: number }) => `${p.file}:${p.line}:${p.column}`;

/** Absolute path of a stage kind's module: `uses: cam` → <root>/stages/cam.ts; `uses: ./x.ts` → relative to the pipeline. */
export function resolveKindPath(uses: string, pipelineAbs: string, root: string): string {
  if (uses.startsWith('./') || uses.startsWith('../')) return resolve(dirname(pipelineAbs), uses);
  if (isAbsolute(uses)) return uses;
  return resolve(root, 'stages', `${uses}.ts`);
}

/** Stage kinds available in <root>/stages. */
export function availableKinds(root: string): string[] {
  try {
    return readdirSync(resolve(root, 'stages'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
      .map((f) => f.slice(0, -3))
      .sort();
  } catch {
    return [];
  }
}

const defCache = new Map<string, StageDef>();

/** Imports a stage kind module and checks its default export. */
export async function loadStageDef(modulePath: string): Promise<StageDef> {
  const have = defCache.get(modulePath);
  if (have) return have;
  const mod = (await import(pathToFileURL(modulePath).href)) as { default?: StageDef };
  const def = mod.default;
  const missing = !def || typeof def !== 'object' ? ['default export'] : (['kind', 'version', 'params', 'run'] as const).filter((k) => !def[k]);
  if (missing.length) throw new Error(`stage module does not export a StageDef (missing: ${missing.join(', ')})`);
  if (typeof def!.run !== 'function') throw new Error(`stage module's run is not a function`);
  defCache.set(modulePath, def!);
  return def!;
}

export async function analyze(pipelinePath: string, opts: AnalyzeOptions): Promise<Plan> {
  const root = resolve(opts.root);
  const pipeline = loadPipeline(pipelinePath, { root, sets: opts.sets });
  const src = pipeline.src;
  const errors: ConfigError[] = [];
  const kinds = availableKinds(root);

  // 1. Stage kinds.
  const defs = new Map<string, { def: StageDef; modulePath: string }>();
  const kindOwner = new Map<string, string>();
  for (const st of pipeline.stages) {
    const at = locate(src, ['stages', st.id, 'uses'], 'value');
    const modulePath = resolveKindPath(st.uses, pipeline.abs, root);
    const byName = !st.uses.startsWith('.') && !isAbsolute(st.uses);
    if (!existsSync(modulePath)) {
      errors.push(
        new ConfigError(byName ? `unknown stage kind '${st.uses}'` : `stage module '${st.uses}' not found (looked at ${displayPath(modulePath, root)})`, {
          ...at,
          path: `stages.${st.id}.uses`,
          suggestion: byName ? (didYouMean(st.uses, kinds) ?? (kinds.length ? `known kinds: ${kinds.join(', ')}` : 'no stage kinds in stages/')) : undefined,
        }),
      );
      continue;
    }
    let def: StageDef;
    try {
      def = await loadStageDef(modulePath);
    } catch (e) {
      errors.push(new ConfigError(`cannot load stage kind '${st.uses}' (${displayPath(modulePath, root)}): ${errorMessage(e)}`, { ...at, path: `stages.${st.id}.uses` }));
      continue;
    }
    if (byName && def.kind !== st.uses) {
      errors.push(new ConfigError(`module stages/${st.uses}.ts declares kind '${def.kind}'`, { ...at, path: `stages.${st.id}.uses`, expected: `kind '${st.uses}'` }));
      continue;
    }
    const owner = kindOwner.get(def.kind);
    if (owner && owner !== modulePath) {
      errors.push(new ConfigError(`two different modules declare kind '${def.kind}' (${displayPath(owner, root)}, ${displayPath(modulePath, root)})`, { ...at, path: `stages.${st.id}.uses` }));
      continue;
    }
    kindOwner.set(def.kind, modulePath);
    defs.set(st.id, { def, modulePath });
  }

  // 2. Inputs: references, names, kinds.
  const ids = pipeline.stages.map((s) => s.id);
  for (const st of pipeline.stages) {
    const d = defs.get(st.id)?.def;
    const declared = d?.inputs ?? {};
    for (const [name, ref] of Object.entries(st.inputs)) {
      const at = locate(src, ['stages', st.id, 'inputs', name], 'value');
      const path = `stages.${st.id}.inputs.${name}`;
      if (!ids.includes(ref)) {
        errors.push(new ConfigError(`unknown stage '${ref}'`, { ...at, path, suggestion: didYouMean(ref, ids) ?? `stages: ${ids.join(', ')}` }));
        continue;
      }
      if (ref === st.id) {
        errors.push(new ConfigError(`a stage cannot take its own output (cycle: ${st.id} → ${st.id})`, { ...at, path }));
        continue;
      }
      if (d && !Object.hasOwn(declared, name)) {
        const names = Object.keys(declared);
        errors.push(
          new ConfigError(`stage kind '${d.kind}' has no input '${name}'`, {
            ...locate(src, ['stages', st.id, 'inputs', name], 'key'),
            path,
            suggestion: didYouMean(name, names) ?? (names.length ? `inputs: ${names.join(', ')}` : `it takes no inputs`),
          }),
        );
        continue;
      }
      const want = declared[name]?.kinds;
      const upDef = defs.get(ref)?.def;
      if (want && upDef && !want.includes(upDef.kind)) {
        errors.push(new ConfigError(`input '${name}' takes a stage of kind ${want.join(' or ')}, but '${ref}' is '${upDef.kind}'`, { ...at, path }));
      }
    }
    if (d) {
      for (const [name, decl] of Object.entries(declared)) {
        if (!decl.optional && !Object.hasOwn(st.inputs, name)) {
          errors.push(new ConfigError(`missing required input '${name}' (${decl.description})`, { ...st.where, path: `stages.${st.id}.inputs` }));
        }
      }
    }
  }

  // The export: block names stages of this pipeline.
  pipeline.exports.forEach((x, i) => {
    const stage = x.table.split('.')[0];
    if (!ids.includes(stage)) {
      errors.push(new ConfigError(`export: unknown stage '${stage}'`, { ...locate(src, ['export', i, 'table'], 'value'), path: `export[${i}].table`, suggestion: didYouMean(stage, ids) ?? `stages: ${ids.join(', ')}` }));
    } else if (x.columns && !x.table.includes('.')) {
      errors.push(new ConfigError(`export: columns need one table (<stage>.<table>)`, { ...locate(src, ['export', i, 'columns'], 'key'), path: `export[${i}].columns` }));
    }
  });

  // 3. Cycles.
  const nodes = pipeline.stages.map((s) => ({ id: s.id, deps: [...new Set(Object.values(s.inputs).filter((r) => ids.includes(r) && r !== s.id))] }));
  const cycle = findCycle(nodes);
  if (cycle) {
    const first = pipeline.stages.find((s) => s.id === cycle[1])!;
    const inputName = Object.entries(first.inputs).find(([, r]) => r === cycle[0])?.[0];
    const at = inputName ? locate(src, ['stages', first.id, 'inputs', inputName], 'value') : first.where;
    errors.push(new ConfigError(`dependency cycle: ${cycle.join(' → ')}`, { ...at, path: `stages.${first.id}.inputs` }));
  }

  // 4. Params against each kind's schema (defaults applied), then the kind's own checks.
  const planStages: PlanStage[] = [];
  for (const st of pipeline.stages) {
    const d = defs.get(st.id);
    if (!d) continue;
    const params = clone(st.params);
    const validate = compile(closedSchemaOf(d.def));
    if (!validate(params)) {
      errors.push(...toConfigErrors(validate.errors ?? [], ['stages', st.id, 'params'], (p, at) => locateParam(st, p, at)));
      continue;
    }
    const where = posStr(st.where);
    if (d.def.check) {
      try {
        await d.def.check(params, { projectRoot: root, stageId: st.id, where });
      } catch (e) {
        if (e instanceof ConfigError) errors.push(...locateAll([e], st, pipeline));
        else errors.push(new ConfigError(`check failed: ${errorMessage(e)}`, { ...st.where, path: `stages.${st.id}` }));
        continue;
      }
    }
    planStages.push({
      id: st.id,
      spec: st,
      def: d.def,
      modulePath: d.modulePath,
      params: params as Record<string, unknown>,
      inputs: { ...st.inputs },
      deps: nodes.find((n) => n.id === st.id)!.deps,
      where,
    });
  }
  // 5. Cross-stage checks: an upstream kind checks the params of the stages that consume it (a model's layer names
  //    and classes against `layers:` / `target:`), so these fail here and not after the upstream stages ran.
  if (!errors.length) {
    const byId = new Map(planStages.map((s) => [s.id, s]));
    for (const st of planStages) {
      for (const [input, ref] of Object.entries(st.inputs)) {
        const up = byId.get(ref);
        if (!up?.def.checkConsumer) continue;
        try {
          const found = await up.def.checkConsumer(up.params, { stageId: st.id, kind: st.def.kind, input, params: st.params }, { projectRoot: root, stageId: up.id, where: up.where });
          errors.push(...locateAll((found ?? []) as ConfigError[], st.spec, pipeline));
        } catch (e) {
          if (e instanceof ConfigError) errors.push(...locateAll([e], st.spec, pipeline));
          else errors.push(new ConfigError(`check failed: ${errorMessage(e)}`, { ...st.spec.where, path: `stages.${st.id}` }));
        }
      }
    }
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new ConfigErrors(errors);
  const ordered = topoOrder(planStages);
  return { root, pipeline, stages: ordered, byId: new Map(ordered.map((s) => [s.id, s])) };
}

/** `stages.cam.params.layers[0]` → ['stages', 'cam', 'params', 'layers', 0]. */
function splitPath(path: string): PathSeg[] {
  const out: PathSeg[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

/**
 * Check errors without a file get one: a `stages.<id>.params.<key>` path is located at that key (in the pipeline, a
 * fragment it includes, or `--set`), anything else at the stage. Errors inside ConfigErrors are located one by one.
 */
function locateAll(errs: ConfigError[], stage: StageSpec, pipeline: PipelineSpec): ConfigError[] {
  const out: ConfigError[] = [];
  for (const e of errs) {
    if (e instanceof ConfigErrors) {
      out.push(...locateAll(e.errors, stage, pipeline));
      continue;
    }
    // a stage check that gave `file: ctx.where` (the stage's file:line:col) but a key path: located at the key
    const atStage = !!e.file && e.line === undefined && /:\d+:\d+$/.test(e.file) && !!e.path?.startsWith('stages.');
    if (e.file && !atStage) {
      out.push(e);
      continue;
    }
    const segs = e.path ? splitPath(e.path) : [];
    const id = segs[1];
    const st = segs[0] === 'stages' && typeof id === 'string' ? (pipeline.stages.find((s) => s.id === id) ?? stage) : stage;
    const loc = segs[0] === 'stages' && segs[2] === 'params' && segs.length > 3 ? locateParam(st, segs.slice(3), 'value') : { ...st.where };
    const detail = loc.note ? `${e.detail} [${loc.note}]` : e.detail;
    out.push(new ConfigError(detail, { file: loc.file, line: loc.line, column: loc.column, path: e.path ?? `stages.${st.id}.params`, expected: e.expected, suggestion: e.suggestion }));
  }
  return out;
}

const closedSchemas = new WeakMap<StageDef, Record<string, unknown>>();
function closedSchemaOf(def: StageDef): Record<string, unknown> {
  let s = closedSchemas.get(def);
  if (!s) {
    s = closeSchema({ type: 'object', ...def.params });
    closedSchemas.set(def, s);
  }
  return s;
}

export { formatPath };
