import { parentPort, type TransferListItem, workerData } from 'node:worker_threads';
import { type EntryMessage, type EntryWorkerData, TRANSFER, toRemoteError } from './thread-protocol.js';

// Entry of every ThreadPool thread: imports the user module, runs its `setup`, then serves tasks one by one.
const data = workerData as EntryWorkerData;
const port = parentPort;
if (port === null) throw new Error('thread-entry must run inside a worker thread');

type Handler = (task: unknown) => unknown;

async function start(): Promise<Handler | undefined> {
  try {
    const mod = (await import(data.modulePath)) as {
      setup?: (init: unknown, ctx: unknown) => Handler | Promise<Handler>;
    };
    if (typeof mod.setup !== 'function') {
      throw new Error(`thread module ${data.modulePath} must export a function 'setup(init, context)'`);
    }
    const handler = await mod.setup(data.init, { threadIndex: data.threadIndex, threads: data.threads });
    if (typeof handler !== 'function')
      throw new Error(`setup() of ${data.modulePath} must return the task handler function`);
    return handler;
  } catch (err) {
    port?.postMessage({ type: 'setup-error', error: toRemoteError(err) } satisfies EntryMessage);
    return undefined;
  }
}

const handler = await start();
if (handler !== undefined) {
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (msg: EntryMessage) => {
    if (msg.type !== 'task') return;
    chain = chain.then(async () => {
      try {
        const out = await handler(msg.task);
        if (out !== null && typeof out === 'object' && (out as Record<string, unknown>)[TRANSFER] === true) {
          const { result, transfer } = out as unknown as { result: unknown; transfer: TransferListItem[] };
          port.postMessage({ type: 'result', id: msg.id, result } satisfies EntryMessage, transfer as never);
        } else {
          port.postMessage({ type: 'result', id: msg.id, result: out } satisfies EntryMessage);
        }
      } catch (err) {
        port.postMessage({ type: 'error', id: msg.id, error: toRemoteError(err) } satisfies EntryMessage);
      }
    });
  });
  port.postMessage({ type: 'ready' } satisfies EntryMessage);
}
