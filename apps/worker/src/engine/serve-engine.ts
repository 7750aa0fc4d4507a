import { parentPort, workerData } from 'node:worker_threads';
import type { SlotEngine, SlotSeat } from './engine.js';
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

/** What a compute thread serves: a one-time preparation, and engines built on demand. */
export interface EngineServer {
  /**
   * Runs once when the thread starts, with `workerData.boot` (e.g. selects the tfjs backend), so
   * that a thread booted ahead of time has paid module loading and backend start-up before a job.
   */
  prepare?(boot: unknown): Promise<void>;
  /** Builds the engine for `init`; called on every `init` message (the previous engine is closed first). */
  create(init: unknown): Promise<SlotEngine>;
}

/**
 * Runs inside a compute thread: prepares, then answers the ThreadEngine's calls one at a time, in
 * order. `init` (re)builds the engine, so one thread serves one job after another.
 */
export function serveEngine(server: EngineServer): void {
  const port = parentPort;
  if (!port) throw new Error('serveEngine must run in a worker thread');
  const prepared = server.prepare ? server.prepare(workerData.boot) : Promise.resolve();
  prepared.catch(() => {});
  let engine: SlotEngine | undefined;
  const current = (): SlotEngine => {
    if (!engine) throw new Error('the compute thread has no engine: send init first');
    return engine;
  };
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (msg: { id: number; method: string; args: unknown[] }) => {
    queue = queue.then(async () => {
      try {
        await prepared;
        let result: unknown = null;
        switch (msg.method) {
          case 'ready':
            break;
          case 'init': {
            const previous = engine;
            engine = undefined;
            await previous?.close();
            engine = await server.create(msg.args[0]);
            break;
          }
          case 'reseat': {
            const e = current();
            if (!e.reseat) throw new Error('this engine cannot change its seat');
            await e.reseat(msg.args[0] as SlotSeat);
            break;
          }
          case 'layout':
            result = await current().layout();
            break;
          case 'gradients':
            result = await current().gradients(msg.args[0] as number);
            break;
          case 'apply':
            result = await current().apply(
              msg.args[0] as number,
              msg.args[1] as Map<string, Float32Array>,
              msg.args[2] as number,
            );
            break;
          case 'snapshot':
            result = await current().snapshot();
            break;
          case 'restore':
            result = await current().restore(msg.args[0] as Parameters<SlotEngine['restore']>[0]);
            break;
          case 'close': {
            const e = engine;
            engine = undefined;
            await e?.close();
            break;
          }
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
