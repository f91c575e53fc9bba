// xai worker --queue redis://host:port [--concurrency N]
import { io } from '../io.ts';
import { parseArgs, intOption, queueOption } from '../args.ts';
import { ConfigError } from '../../engine/errors.ts';

export const summary = 'Run per-item work (cam, lime, …) for `xai run --queue` from a Redis queue';
export const usage = `Usage: xai worker --queue redis://host:port [--concurrency N] [--threads N] [--verbose]

Takes units of per-item work (batches of images of the cam and lime stages) that \`xai run … --queue\` enqueues on a
BullMQ queue in Redis, and runs them: each opens the stage's model once and writes the unit's results next to the
stage's work directory, so the worker must see the coordinator's artifacts/ at the same path (a shared file system,
e.g. NFS) and the models at the paths the pipeline names. Start as many as you like, on any machine; a worker that
dies mid-unit has its unit re-queued to another one. Runs until Ctrl-C / SIGTERM.

Options:
  --queue redis://host:port   the Redis the coordinator uses (default: XAI_QUEUE)
  --concurrency N             units at once in this process (default 1; onnxruntime threads are split between them)
  --threads N                 onnxruntime threads per unit (default: cores / concurrency; with several workers on
                              one machine, give each cores / workers)
  --verbose                   log each unit
  -h, --help                  this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs('worker', argv, {
    queue: { type: 'string' },
    concurrency: { type: 'string' },
    threads: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
  });
  if (positionals.length) throw new ConfigError(`xai worker: unexpected argument '${positionals[0]}'`);
  const url = await queueOption(values.queue);
  if (!url) throw new ConfigError('xai worker: --queue redis://host:port is required', { expected: 'redis://host:port (or XAI_QUEUE)' });
  const concurrency = intOption('worker', 'concurrency', values.concurrency) ?? 1;
  const threads = intOption('worker', 'threads', values.threads);
  const { runWorker } = await import('../../engine/queue.ts');
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const lockMs = process.env.XAI_QUEUE_LOCK_MS ? intOption('worker', 'XAI_QUEUE_LOCK_MS', process.env.XAI_QUEUE_LOCK_MS, 100) : undefined;
  try {
    await runWorker({ url, concurrency, threads, lockMs, signal: ac.signal, log: (m) => (values.verbose || !m.startsWith('unit ')) && io.err(`${m}\n`) });
  } catch (e) {
    io.err(`error: ${(e as Error).message}\n`);
    return 1;
  }
  return 0;
}
