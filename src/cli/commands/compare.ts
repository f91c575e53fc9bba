// xai compare <run> <run> [--only-changed] [--pipeline name] [--json]
import { io } from '../io.ts';
import { parseArgs } from '../args.ts';
import { ConfigError } from '../../engine/errors.ts';

export const summary = 'Diff two runs side by side: parameters, metrics, stages (--only-changed)';
export const usage = `Usage: xai compare <run> <run> [options]

Shows two run records side by side (like dvc params diff / metrics diff): every stage parameter of the resolved
configs (stage.param.path), the key metrics (meta.metrics of their stages) with the change B − A, and each stage's
cache key and status (same key = the same outputs). A run is named by its id or a unique prefix (see xai runs);
'latest' with --pipeline.

Options:
  --only-changed     only rows that differ
  --pipeline <name>  look the runs up in this pipeline only
  --json             machine-readable output
  -h, --help         this help
`;

type Flat = Map<string, string>;

function flatten(v: unknown, prefix: string, out: Flat): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, typeof v === 'string' ? v : JSON.stringify(v));
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('compare', argv, { 'only-changed': { type: 'boolean' }, pipeline: { type: 'string', short: 'p' }, json: { type: 'boolean' } });
  if (positionals.length !== 2) throw new ConfigError(`xai compare: expected two runs, got ${positionals.length}`, { suggestion: 'xai compare <run id> <run id> (ids from xai runs)' });
  const root = process.cwd();
  const lib = await import('../runs-lib.ts');
  const pipeline = values.pipeline as string | undefined;
  const a = lib.findRun(root, positionals[0], pipeline);
  const b = lib.findRun(root, positionals[1], pipeline);
  const only = Boolean(values['only-changed']);

  const pa: Flat = new Map(), pb: Flat = new Map();
  for (const [id, s] of Object.entries(a.config.stages)) flatten(s.params, id, pa);
  for (const [id, s] of Object.entries(b.config.stages)) flatten(s.params, id, pb);
  const keys = [...new Set([...pa.keys(), ...pb.keys()])];
  const params = keys.map((k) => ({ key: k, a: pa.get(k), b: pb.get(k), changed: pa.get(k) !== pb.get(k) })).filter((r) => !only || r.changed);
  const ma = lib.runMetrics(root, a), mb = lib.runMetrics(root, b);
  const mkeys = [...new Set([...Object.keys(ma), ...Object.keys(mb)])];
  const metrics = mkeys.map((k) => ({ key: k, a: ma[k], b: mb[k], delta: ma[k] !== undefined && mb[k] !== undefined ? mb[k] - ma[k] : undefined })).filter((r) => !only || r.a !== r.b);
  const sids = [...new Set([...Object.keys(a.stages), ...Object.keys(b.stages)])];
  const stages = sids
    .map((id) => ({ key: id, a: a.stages[id], b: b.stages[id] }))
    .map((r) => ({ ...r, changed: r.a?.key !== r.b?.key }))
    .filter((r) => !only || r.changed);

  if (values.json) {
    io.out(JSON.stringify({ a: { run_id: a.runId, pipeline: a.pipeline, overrides: a.overrides }, b: { run_id: b.runId, pipeline: b.pipeline, overrides: b.overrides }, params, metrics, stages: stages.map((s) => ({ stage: s.key, a: s.a ? { key: s.a.key, status: s.a.status } : null, b: s.b ? { key: s.b.key, status: s.b.status } : null, changed: s.changed })) }, null, 2) + '\n');
    return 0;
  }
  const width = Math.max(60, process.stdout.columns || Number(process.env.COLUMNS) || 100);
  const nameW = Math.min(36, Math.max(12, ...params.map((p) => p.key.length + 2), ...metrics.map((m) => m.key.length + 2)));
  const colW = Math.max(12, Math.floor((width - nameW - 6) / 2));
  const line = (name: string, x: string, y: string, mark = ' ') => `${mark} ${lib.cut(name, nameW).padEnd(nameW)} ${lib.cut(x, colW).padEnd(colW)} ${lib.cut(y, colW)}`.trimEnd();
  const out: string[] = [];
  out.push(line('', `A ${a.runId}`, `B ${b.runId}`));
  out.push(line('', `${a.pipeline}, ${a.finished.replace('T', ' ').slice(0, 16)}, ${a.status}`, `${b.pipeline}, ${b.finished.replace('T', ' ').slice(0, 16)}, ${b.status}`));
  out.push(line('overrides', a.overrides.map(lib.shortOverride).join(' ') || '-', b.overrides.map(lib.shortOverride).join(' ') || '-', a.overrides.join() !== b.overrides.join() ? '*' : ' '));
  out.push('', `params${only ? ' (changed)' : ''}: ${params.filter((p) => p.changed).length} of ${keys.length} differ`);
  for (const p of params) out.push(line(p.key, p.a ?? '∅', p.b ?? '∅', p.changed ? '*' : ' '));
  out.push('', `metrics${only ? ' (changed)' : ''}:${metrics.length ? '' : ' none'}`);
  for (const m of metrics) {
    const d = m.delta === undefined ? '' : m.delta === 0 ? '' : ` (${m.delta > 0 ? '+' : ''}${lib.fmtNum(m.delta)})`;
    out.push(line(m.key, m.a === undefined ? '∅' : lib.fmtNum(m.a), (m.b === undefined ? '∅' : lib.fmtNum(m.b)) + d, m.a !== m.b ? '*' : ' '));
  }
  out.push('', `stages${only ? ' (changed)' : ''}: ${stages.filter((s) => s.changed).length} with different outputs`);
  const st = (s: { key?: string; status: string; seconds?: number } | undefined) => (s ? `${s.status}${s.status === 'done' && s.seconds !== undefined ? ` ${s.seconds.toFixed(1)}s` : ''} ${s.key?.slice(0, 12) ?? ''}` : '∅');
  for (const s of stages) out.push(line(s.key, st(s.a), st(s.b), s.changed ? '*' : ' '));
  out.push('', '* = differs');
  io.out(out.join('\n') + '\n');
  return 0;
}
