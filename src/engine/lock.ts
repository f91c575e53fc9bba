// artifacts/lock: one `xai run` (or `xai gc --yes`) at a time per artifacts folder. The lock file names its holder
// (pid, host, start time, command); a lock whose pid is dead on this host is stale and taken over.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
  command: string;
}

export class LockHeldError extends Error {
  readonly exitCode = 1;
  constructor(
    readonly lockFile: string,
    readonly holder: LockInfo,
  ) {
    super(
      `artifacts are locked by another xai process: pid ${holder.pid} on ${holder.host}, started ${holder.started} (${holder.command}).` +
        ` Wait for it to finish, or rerun with --wait; if that process is gone, delete ${lockFile}.`,
    );
    this.name = 'LockHeldError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): { info: LockInfo; raw: string } | undefined {
  try {
    const raw = readFileSync(file, 'utf8');
    return { info: JSON.parse(raw) as LockInfo, raw };
  } catch {
    return undefined;
  }
}

export interface Lock {
  info: LockInfo;
  /** Set when a stale lock was taken over. */
  tookOver?: LockInfo;
  release(): void;
}

/** Tries once to take the lock; throws LockHeldError when a live process holds it. */
export function acquireLock(file: string, command: string): Lock {
  mkdirSync(dirname(file), { recursive: true });
  const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command };
  let tookOver: LockInfo | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify(info) + '\n');
      closeSync(fd);
      let released = false;
      return {
        info,
        tookOver,
        release() {
          if (released) return;
          released = true;
          const cur = readLock(file);
          if (cur && cur.info.pid === info.pid && cur.info.started === info.started) {
            try {
              unlinkSync(file);
            } catch {
              /* already gone */
            }
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const cur = readLock(file);
    if (!cur) continue; // vanished or half-written: retry
    const h = cur.info;
    if (h.host === hostname() && !alive(h.pid)) {
      // Stale: move it aside atomically; only one contender's rename succeeds.
      const aside = `${file}.stale.${process.pid}`;
      try {
        renameSync(file, aside);
        const moved = readLock(aside);
        if (moved && moved.raw !== cur.raw) {
          // We moved someone else's fresh lock: put it back if the slot is still free.
          try {
            renameSync(aside, file);
          } catch {
            /* ignore */
          }
          continue;
        }
        unlinkSync(aside);
        tookOver = h;
      } catch {
        /* someone else handled it */
      }
      continue;
    }
    throw new LockHeldError(file, h);
  }
  const cur = readLock(file);
  throw new LockHeldError(file, cur?.info ?? { pid: -1, host: '?', started: '?', command: '?' });
}

/** Takes the lock, polling every `intervalMs` while a live process holds it (with `wait`), else throwing at once. */
export async function lock(file: string, command: string, opts: { wait?: boolean; intervalMs?: number; onWait?: (h: LockInfo) => void } = {}): Promise<Lock> {
  let told = false;
  for (;;) {
    try {
      return acquireLock(file, command);
    } catch (e) {
      if (!(e instanceof LockHeldError) || !opts.wait) throw e;
      if (!told) opts.onWait?.(e.holder);
      told = true;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
    }
  }
}
