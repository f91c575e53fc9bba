// `xai status`: for each stage of a plan, cached / stale / missing, and why (what changed since the stage's last
// successful execution, old → new), computed without running anything.
import { ArtifactStore, type CacheEntry } from './cache.ts';
import { diffCode } from './codegraph.ts';
import { canonicalJson, HashMemo } from './fingerprint.ts';
import { readState, type StageState } from './runs.ts';
import { keyFor } from './runner.ts';
import type { Plan } from './analyze.ts';

export type StageStatusKind = 'cached' | 'stale' | 'missing';

export interface StageStatus {
  id: string;
  kind: string;
  status: StageStatusKind;
  /** Current key, when computable (all upstreams cached). */
  key?: string;
  /** Key of the last successful execution. */
  previousKey?: string;
  reasons: string[];
}

function short(v: unknown): string {
  const s = v === undefined ? '(unset)' : canonicalJson(v);
  return s.length > 60 ? s.slice(0, 59) + '…' : s;
}

/** Leaf-level differences between two params objects: `path: old → new`. */
export function diffParams(oldP: unknown, newP: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(oldP) && isObj(newP)) {
    const keys = [...new Set([...Object.keys(oldP), ...Object.keys(newP)])].sort();
    return keys.flatMap((k) => diffParams(oldP[k], newP[k], prefix ? `${prefix}.${k}` : k));
  }
  if (canonicalJson(oldP ?? null) === canonicalJson(newP ?? null) && (oldP === undefined) === (newP === undefined)) return [];
  return [`${prefix || '(params)'}: ${short(oldP)} → ${short(newP)}`];
}

export async function computeStatus(plan: Plan, opts: { verify?: boolean } = {}): Promise<StageStatus[]> {
  const store = new ArtifactStore(plan.root);
  const memo = new HashMemo(store.memoFile);
  const prev = readState(store, plan.pipeline.name);
  const manifests = new Map<string, CacheEntry>();
  const result = new Map<string, StageStatus>();
  const out: StageStatus[] = [];
  for (const st of plan.stages) {
    const before: StageState | undefined = prev?.stages[st.id];
    const s: StageStatus = { id: st.id, kind: st.def.kind, status: 'missing', reasons: [], previousKey: before?.key };
    const reasons: string[] = [];
    // What changed in the stage itself.
    if (before) {
      if (before.kind !== st.def.kind) reasons.push(`kind: ${before.kind} → ${st.def.kind}`);
      else if (before.version !== st.def.version) reasons.push(`code version: ${before.version} → ${st.def.version}`);
      reasons.push(...diffParams(before.params, st.params).map((d) => `param ${d}`));
      for (const [name, id] of Object.entries(st.inputs)) {
        const was = before.inputs[name];
        if (!was) reasons.push(`input ${name}: (none) → ${id}`);
        else if (was.stage !== id) reasons.push(`input ${name}: ${was.stage} → ${id}`);
      }
      for (const name of Object.keys(before.inputs)) if (!Object.hasOwn(st.inputs, name)) reasons.push(`input ${name}: ${before.inputs[name].stage} → (none)`);
    }
    const upNotReady = st.deps.filter((d) => result.get(d)?.status !== 'cached');
    if (upNotReady.length) {
      for (const d of upNotReady) reasons.push(`upstream '${d}' is ${result.get(d)?.status ?? 'missing'}`);
      s.status = before ? 'stale' : 'missing';
      if (!before) reasons.unshift('never run');
      s.reasons = reasons;
      result.set(st.id, s);
      out.push(s);
      continue;
    }
    let k: Awaited<ReturnType<typeof keyFor>>;
    try {
      k = await keyFor(st, manifests, memo, plan.root);
    } catch (e) {
      s.status = before ? 'stale' : 'missing';
      s.reasons = [...reasons, `cannot compute its key: ${(e as Error).message}`];
      result.set(st.id, s);
      out.push(s);
      continue;
    }
    const { key, reads, upstreamKeys, code } = k;
    s.key = key;
    const m = store.get(st.def.kind, key);
    const problem = m ? await store.verify(m, { full: opts.verify, memo }) : undefined;
    if (m && !problem) {
      s.status = 'cached';
      manifests.set(st.id, m);
      if (before && before.key !== key) s.reasons = [`(an older entry; last run used ${before.key})`];
    } else {
      if (problem) reasons.unshift(`cache entry corrupted: ${problem}`);
      if (before) {
        for (const [name, k] of Object.entries(upstreamKeys)) {
          const was = before.inputs[name]?.key;
          if (was && was !== k) reasons.push(`upstream '${st.inputs[name]}' output changed: ${was} → ${k}`);
        }
        if (before.code) reasons.push(...diffCode(before.code, code));
        const oldReads = before.reads ?? {};
        for (const p of new Set([...Object.keys(oldReads), ...Object.keys(reads)])) {
          if (oldReads[p] !== reads[p]) reasons.push(`read ${p}: ${(oldReads[p] ?? '(none)').slice(0, 16)} → ${(reads[p] ?? '(none)').slice(0, 16)}`);
        }
      }
      if (before && before.key === key && !problem) {
        s.status = 'missing';
        reasons.unshift('cache entry was removed');
      } else if (before) {
        s.status = 'stale';
        if (reasons.length === 0) reasons.push('key changed (engine or key inputs)');
      } else {
        s.status = 'missing';
        reasons.unshift('never run');
      }
      s.reasons = reasons;
    }
    result.set(st.id, s);
    out.push(s);
  }
  await memo.save().catch(() => undefined);
  return out;
}
