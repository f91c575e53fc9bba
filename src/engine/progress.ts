// Progress display, a consumer of the run's events. On a TTY: finished stages scroll as log lines and one live
// line per running stage shows items done/total, rate and ETA (redrawn ≤ 10×/s). Elsewhere: plain log lines,
// progress at most every few seconds per stage.
import type { EventBus, RunEvent } from './events.ts';

export interface ProgressOptions {
  tty: boolean;
  write(s: string): void;
  /** Show debug logs. */
  verbose?: boolean;
  /** Terminal width for live lines. */
  columns?: number;
  /** Non-TTY: seconds between progress lines of one stage (default 5). */
  interval?: number;
}

interface Live {
  kind: string;
  start: number;
  done: number;
  total: number;
  unit: string;
  /** Items already done when progress started (resumed), excluded from the rate. */
  base?: number;
  baseTime?: number;
  lastPrinted: number;
}

export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 90) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 90) return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function eta(l: Live, now: number): string {
  if (l.base === undefined || l.baseTime === undefined || l.done <= l.base || l.total <= 0) return '';
  const rate = (l.done - l.base) / ((now - l.baseTime) / 1000);
  if (!(rate > 0)) return '';
  return ` ETA ${fmtSeconds((l.total - l.done) / rate)}`;
}

export function attachProgress(bus: EventBus, opts: ProgressOptions): { stop(): void } {
  const live = new Map<string, Live>();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const width = Math.max(40, (opts.columns && opts.columns > 0 ? opts.columns : 100) - 1);
  const interval = (opts.interval ?? 5) * 1000;

  const liveLine = (id: string, l: Live, now: number) => {
    const el = fmtSeconds((now - l.start) / 1000);
    const prog = l.total > 0 ? ` ${l.done}/${l.total} ${l.unit} ${Math.floor((100 * l.done) / l.total)}%${eta(l, now)}` : '';
    const s = `  ▸ ${id} (${l.kind})${prog} · ${el}`;
    return s.length > width ? s.slice(0, width - 1) + '…' : s;
  };
  const clear = () => {
    if (opts.tty && drawn > 0) opts.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = () => {
    if (!opts.tty) return;
    clear();
    const now = Date.now();
    const lines = [...live.entries()].map(([id, l]) => liveLine(id, l, now));
    if (lines.length) opts.write(lines.join('\n') + '\n');
    drawn = lines.length;
  };
  const say = (s: string) => {
    if (opts.tty) {
      clear();
      opts.write(s + '\n');
      draw();
    } else opts.write(s + '\n');
  };

  const on = (e: RunEvent) => {
    switch (e.type) {
      case 'run-start':
        say(`run ${e.pipeline}: ${e.stages.length} stage(s), jobs ${e.jobs}`);
        if (opts.tty && !timer) {
          timer = setInterval(draw, 100);
          timer.unref();
        }
        break;
      case 'stage-cached':
        say(`  ✓ ${e.stageId} cached (${e.key})`);
        break;
      case 'stage-corrupt':
        say(`  ! ${e.stageId}: cache entry ${e.key} is corrupted (${e.reason}); recomputing`);
        break;
      case 'stage-start':
        live.set(e.stageId, { kind: e.kind, start: e.time, done: 0, total: 0, unit: 'items', lastPrinted: e.time });
        if (opts.tty) draw();
        else say(`  ▸ ${e.stageId} (${e.kind}) running, key ${e.key}`);
        break;
      case 'stage-progress': {
        const l = live.get(e.stageId);
        if (!l) break;
        if (l.base === undefined) {
          l.base = e.done;
          l.baseTime = e.time;
        }
        l.done = e.done;
        l.total = e.total;
        if (e.unit) l.unit = e.unit;
        if (!opts.tty && (e.time - l.lastPrinted >= interval || (e.done === e.total && e.total > 0))) {
          l.lastPrinted = e.time;
          say(`    ${e.stageId}: ${e.done}/${e.total} ${l.unit}${eta(l, e.time)}`);
        }
        break;
      }
      case 'stage-log':
        if (e.level === 'debug' && !opts.verbose) break;
        say(`    ${e.stageId}: ${e.level === 'warn' ? 'warning: ' : ''}${e.message}`);
        break;
      case 'stage-done':
        live.delete(e.stageId);
        say(`  ✓ ${e.stageId} done in ${fmtSeconds(e.seconds)} (${e.key})`);
        break;
      case 'stage-failed':
        live.delete(e.stageId);
        say(e.interrupted ? `  ✗ ${e.stageId} interrupted` : `  ✗ ${e.stageId} FAILED: ${e.error}`);
        break;
      case 'stage-skipped':
        say(`  - ${e.stageId} skipped: ${e.reason}`);
        break;
      case 'run-end':
        if (timer) clearInterval(timer);
        timer = undefined;
        live.clear();
        clear();
        break;
    }
  };
  const off = bus.on(on);
  return {
    stop() {
      off();
      if (timer) clearInterval(timer);
      clear();
    },
  };
}
