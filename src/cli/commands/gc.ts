// xai gc [--yes]
import { io } from '../io.ts';
import { parseArgs } from '../args.ts';

export const summary = 'Delete cache entries that no pipeline\'s latest outputs use (dry run unless --yes)';
export const usage = `Usage: xai gc [--yes] [--wait]

Lists cache entries not used by any pipeline's current state (the last successful execution of
each of its stages, as recorded under artifacts/runs/) nor by the combinations of its latest sweep, and work
directories of interrupted executions that the latest run of no pipeline refers to. Dry run: prints what would be
deleted and the space freed. With --yes, deletes them (taking the artifacts lock).

Options:
  --yes        really delete
  --wait       wait for a running xai run's lock
  -h, --help   this help
`;

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) (n /= 1024), i++;
  return `${i === 0 ? n : n.toFixed(1)} ${u[i]}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs('gc', argv, { yes: { type: 'boolean', short: 'y' }, wait: { type: 'boolean' } });
  const root = process.cwd();
  const { ArtifactStore, dirSize } = await import('../../engine/cache.ts');
  const { listPipelines, readState, readLatestRun } = await import('../../engine/runs.ts');
  const { lock, LockHeldError } = await import('../../engine/lock.ts');
  const store = new ArtifactStore(root);
  let held;
  if (values.yes) {
    try {
      held = await lock(`${store.dir}/lock`, 'xai gc --yes', { wait: Boolean(values.wait) });
    } catch (e) {
      if (e instanceof LockHeldError) {
        io.err(`error: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  }
  try {
    const keep = new Set<string>();
    const keepWork = new Set<string>();
    for (const p of listPipelines(store)) {
      for (const s of Object.values(readState(store, p)?.stages ?? {})) keep.add(`${s.kind}/${s.key}`);
      for (const s of Object.values(readLatestRun(store, p)?.stages ?? {})) if (s.key) keepWork.add(`${s.kind}/${s.key}`);
    }
    // The entries of each pipeline's latest sweep (artifacts/sweeps/<pipeline>/latest) are kept too, so the sweep reruns as no-ops.
    for (const k of (await import('../../engine/sweep.ts')).latestSweepKeys(root)) keep.add(k);
    const { safeName } = await import('../../engine/cache.ts');
    const norm = (k: Set<string>) => new Set([...k].map((x) => { const i = x.lastIndexOf('/'); return `${safeName(x.slice(0, i))}/${x.slice(i + 1)}`; }));
    const keepC = norm(keep);
    const keepW = norm(new Set([...keep, ...keepWork]));
    // a work dir is kept only while a latest run refers to it and it holds something to resume (an empty one — a stage
    // that failed before writing anything — is an orphan)
    const drop = store.list().filter((e) => !(e.area === 'cache' ? keepC : keepW).has(`${e.kind}/${e.key}`) || (e.area === 'work' && dirSize(e.dir) === 0));
    let total = 0;
    for (const e of drop) {
      const size = dirSize(e.dir);
      total += size;
      io.out(`${values.yes ? 'delete' : 'would delete'} ${e.area}/${e.kind}/${e.key} (${human(size)})${e.area === 'cache' && !e.complete ? ' [incomplete]' : ''}\n`);
      if (values.yes) await store.discard(e.dir);
    }
    if (values.yes) {
      store.cleanTrash();
      // Forget memoised hashes of files that no longer exist.
      const { HashMemo } = await import('../../engine/fingerprint.ts');
      const { existsSync } = await import('node:fs');
      const memo = new HashMemo(store.memoFile);
      memo.prune((abs) => existsSync(abs));
      await memo.save();
    }
    const kept = store.list().filter((e) => e.area === 'cache').length;
    io.out(
      drop.length === 0
        ? `nothing to delete (${kept} cache entries in use)\n`
        : values.yes
          ? `deleted ${drop.length} entries, freed ${human(total)}\n`
          : `${drop.length} entries, ${human(total)} would be freed; rerun with --yes to delete\n`,
    );
    return 0;
  } finally {
    held?.release();
  }
}
