// The plumbing `xai run` and `xai sweep` share: a progress display on an event bus, Ctrl-C/SIGTERM → abort (a second
// signal quits at once), and the artifacts lock held by another run reported as a plain error (exit 1).
import { io } from './io.ts';
import type { EventBus } from '../engine/events.ts';

export interface Session {
  /** The bus the progress display listens to. */
  display: EventBus;
  signal: AbortSignal;
  /** Stops the live display (before printing results). */
  stopProgress(): void;
}

export async function withSession(
  opts: { quiet: boolean; verbose: boolean; stopping: string },
  body: (s: Session) => Promise<number>,
): Promise<number> {
  const { EventBus } = await import('../engine/events.ts');
  const { attachProgress } = await import('../engine/progress.ts');
  const { LockHeldError } = await import('../engine/lock.ts');
  const display = new EventBus();
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI;
  const progress = opts.quiet ? undefined : attachProgress(display, { tty, write: (s) => io.err(s), verbose: opts.verbose, columns: process.stderr.columns });
  const ac = new AbortController();
  let signals = 0;
  const onSig = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(130);
    io.err(`\n${sig}: ${opts.stopping}; again to quit now)\n`);
    ac.abort();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  // a closed pipe (`xai run … | head -2`): stop as on Ctrl-C, so the lock is released and the run resumes later
  const offClosed = io.onClosed(() => ac.abort());
  try {
    return await body({ display, signal: ac.signal, stopProgress: () => progress?.stop() });
  } catch (e) {
    progress?.stop();
    if (e instanceof LockHeldError) {
      io.err(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    offClosed();
  }
}
