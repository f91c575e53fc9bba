// Where CLI output goes. Commands write through these (not process.stdout directly) so tests can run main()
// in-process and capture it. A closed pipe (`xai show … | head -3`) ends the output quietly: further writes to that
// stream are dropped instead of crashing with EPIPE, and listeners (a running `xai run`) are told, so a run stops as
// on Ctrl-C and releases its lock.
const closed = { out: false, err: false };
const listeners: (() => void)[] = [];

function watch(stream: NodeJS.WriteStream, which: 'out' | 'err'): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (closed[which]) return;
    closed[which] = true;
    for (const l of listeners.splice(0)) l();
  });
}
watch(process.stdout, 'out');
watch(process.stderr, 'err');

export const io = {
  out(s: string): void {
    if (!closed.out) process.stdout.write(s);
  },
  err(s: string): void {
    if (!closed.err) process.stderr.write(s);
  },
  /** Calls `fn` once when stdout or stderr turns out to be a closed pipe. */
  onClosed(fn: () => void): () => void {
    listeners.push(fn);
    return () => {
      const i = listeners.indexOf(fn);
      if (i >= 0) listeners.splice(i, 1);
    };
  },
};
