// The worker-thread side of the item pool (src/engine/pool.ts): opens the item module's runner once (its model), then
// runs the units the main thread posts. Protocol: workerData { url, factory, config, env }; out { type: 'ready' } once
// the runner is open, { type: 'result', id, outcomes } per unit (files transferred), { type: 'fatal', message } when the
// runner cannot be opened or a unit was interrupted; in { type: 'unit', id, items, indices }, { type: 'close' }.
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from './errors.ts';
import { factoryOf, runUnit, type Outcome } from './executor.ts';

const port = parentPort!;
const { url, factory, config, env } = workerData as { url: string; factory: string; config: unknown; env: { threads?: number; projectRoot: string } };

try {
  const mod = (await import(url)) as { url: string } & Record<string, unknown>;
  const runner = await factoryOf<unknown, unknown>({ module: mod, factory })(config, env);
  port.on('message', async (m: { type: 'unit'; id: number; items: unknown[]; indices: number[] } | { type: 'close' }) => {
    if (m.type === 'close') {
      await runner.close?.();
      port.close();
      return;
    }
    try {
      const outcomes: Outcome[] = await runUnit(runner, m.items, m.indices, { now: () => performance.now(), aborted: () => false });
      const transfer: ArrayBuffer[] = [];
      for (const o of outcomes) {
        if (o.error) delete o.error.cause; // not cloneable in general; the message names it
        for (const f of o.out?.files ?? []) if (f.data.byteOffset === 0 && f.data.byteLength === f.data.buffer.byteLength && f.data.buffer instanceof ArrayBuffer) transfer.push(f.data.buffer);
      }
      port.postMessage({ type: 'result', id: m.id, outcomes }, [...new Set(transfer)]);
    } catch (e) {
      port.postMessage({ type: 'fatal', message: errorMessage(e) });
    }
  });
  port.postMessage({ type: 'ready' });
} catch (e) {
  port.postMessage({ type: 'fatal', message: errorMessage(e) });
}
