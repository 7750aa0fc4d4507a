import { parentPort, workerData } from 'node:worker_threads';
import type { SlotEngine } from './engine.js';
import type { SerializedError } from './thread-engine.js';

function serialize(err: unknown): SerializedError {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; fields?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(e.fields && typeof e.fields === 'object' ? { fields: JSON.parse(JSON.stringify(e.fields)) } : {}),
    };
  }
  return { name: 'Error', message: String(err) };
}

/**
 * Runs inside a compute thread: builds the engine from `workerData.init` with `factory`, then
 * answers the ThreadEngine's calls one at a time, in order.
 */
export function serveEngine(factory: (init: unknown) => Promise<SlotEngine>): void {
  const port = parentPort;
  if (!port) throw new Error('serveEngine must run in a worker thread');
  const ready = factory(workerData.init);
  ready.catch(() => {});
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (msg: { id: number; method: string; args: unknown[] }) => {
    queue = queue.then(async () => {
      try {
        const engine = await ready;
        let result: unknown;
        switch (msg.method) {
          case 'ready':
            result = null;
            break;
          case 'layout':
            result = await engine.layout();
            break;
          case 'gradients':
            result = await engine.gradients(msg.args[0] as number);
            break;
          case 'apply':
            result = await engine.apply(
              msg.args[0] as number,
              msg.args[1] as Map<string, Float32Array>,
              msg.args[2] as number,
            );
            break;
          case 'snapshot':
            result = await engine.snapshot();
            break;
          case 'restore':
            result = await engine.restore(msg.args[0] as Parameters<SlotEngine['restore']>[0]);
            break;
          case 'close':
            result = await engine.close();
            break;
          default:
            throw new Error(`unknown engine method '${msg.method}'`);
        }
        port.postMessage({ id: msg.id, ok: true, result });
      } catch (err) {
        port.postMessage({ id: msg.id, ok: false, error: serialize(err) });
      }
    });
  });
}
