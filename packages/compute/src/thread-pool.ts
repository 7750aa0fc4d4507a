import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type TransferListItem, Worker } from 'node:worker_threads';
import { type Logger, silentLogger, toValidationIssues, ValidationError } from '@lorkd/contracts';
import { z } from 'zod';
import { ThreadPoolError } from './errors.js';
import { type EntryMessage, type EntryWorkerData, TRANSFER } from './thread-protocol.js';

export const ThreadPoolOptionsSchema = z.object({
  /** Number of worker threads (each gets its own module instance, e.g. its own tfjs). */
  threads: z.number().int().min(1).max(256),
  /** Absolute path or file: URL of the thread module (`.ts` works when running from source through tsx). */
  modulePath: z.union([z.string().min(1), z.instanceof(URL)]),
  /** Structured-cloneable value passed to the module's `setup` in every thread (SharedArrayBuffers are shared). */
  init: z.unknown().optional(),
  /** How long a thread may take to start and run `setup`. */
  startTimeoutMs: z.number().int().positive().default(120_000),
  /** Used in thread names and log lines. */
  name: z.string().min(1).default('lorkd-compute'),
});
export type ThreadPoolOptions = z.input<typeof ThreadPoolOptionsSchema>;

/** What each thread knows about itself; passed to the thread module's `setup`. */
export interface ThreadContext {
  readonly threadIndex: number;
  readonly threads: number;
}

/**
 * The contract of a thread module: `export async function setup(init, context)` returning the task handler.
 * A handler may return `withTransfer(result, [buffers])` to move buffers back instead of copying them.
 */
export type ThreadSetup<Init, Task, Result> = (
  init: Init,
  context: ThreadContext,
) => ThreadHandler<Task, Result> | Promise<ThreadHandler<Task, Result>>;
export type ThreadHandler<Task, Result> = (task: Task) => Result | Promise<Result>;

/** Wraps a handler's result so the listed buffers are transferred (zero-copy) to the main thread. */
export function withTransfer<T>(result: T, transfer: readonly TransferListItem[]): T {
  return { [TRANSFER]: true, result, transfer } as unknown as T;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  readonly index: number;
  readonly worker: Worker;
  busy: boolean;
  readonly pending: Map<number, Pending>;
}

interface Queued {
  task: unknown;
  transfer: readonly TransferListItem[];
  pending: Pending;
}

const TS_EXTENSIONS = /\.(c|m)?tsx?$/;

/**
 * A fixed set of worker threads, each running one instance of a user module. Tasks go to a given thread
 * (`runOn`, `runAll`) or to the first idle one (`run`); one task at a time per thread.
 */
export class ThreadPool<Task = unknown, Result = unknown> {
  private nextId = 1;
  private closed = false;
  private failure: ThreadPoolError | undefined;
  private readonly queue: Queued[] = [];

  private constructor(
    private readonly slots: Slot[],
    private readonly logger: Logger,
  ) {}

  /** Starts the threads and waits until every one has run its module's `setup`. */
  static async create<Task = unknown, Result = unknown>(
    options: ThreadPoolOptions,
    logger: Logger = silentLogger,
  ): Promise<ThreadPool<Task, Result>> {
    const parsed = ThreadPoolOptionsSchema.safeParse(options);
    if (!parsed.success) throw new ValidationError('thread pool options', toValidationIssues(parsed.error));
    const opts = parsed.data;
    const moduleUrl = toModuleUrl(opts.modulePath);
    const entry = entryUrl();
    const needsTs = TS_EXTENSIONS.test(entry.pathname) || TS_EXTENSIONS.test(moduleUrl.pathname);
    // Workers ignore `--import tsx` in execArgv (Node 20), so TypeScript threads start from a tiny bootstrap
    // that registers tsx's loader in the thread, then imports the entry.
    const tsxApi = needsTs ? resolveTsxApi() : undefined;
    const slots: Slot[] = [];
    const starts: Promise<void>[] = [];
    for (let index = 0; index < opts.threads; index++) {
      const workerData: EntryWorkerData = {
        modulePath: moduleUrl.href,
        init: opts.init,
        threadIndex: index,
        threads: opts.threads,
      };
      const common = { workerData, name: `${opts.name}-${index}`, stdout: false, stderr: false };
      const worker =
        tsxApi === undefined
          ? new Worker(entry, common)
          : new Worker(
              `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`,
              { ...common, eval: true, execArgv: ['--conditions=lorkd-source'] },
            );
      const slot: Slot = { index, worker, busy: true, pending: new Map() };
      slots.push(slot);
      starts.push(waitReady(worker, index, opts.startTimeoutMs));
    }
    const pool = new ThreadPool<Task, Result>(slots, logger);
    try {
      await Promise.all(starts);
    } catch (err) {
      await pool.close();
      throw err;
    }
    for (const slot of slots) {
      slot.busy = false;
      pool.attach(slot);
    }
    logger.debug('thread pool started', { threads: opts.threads, module: moduleUrl.href });
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Runs `task` on the first idle thread (FIFO when all are busy). */
  async run(task: Task, transfer: readonly TransferListItem[] = []): Promise<Result> {
    this.assertOpen();
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ task, transfer, pending: { resolve: resolve as (v: unknown) => void, reject } });
      this.drain();
    });
  }

  /** Runs `task` on thread `index`, after the tasks already queued for it. */
  async runOn(index: number, task: Task, transfer: readonly TransferListItem[] = []): Promise<Result> {
    this.assertOpen();
    const slot = this.slots[index];
    if (slot === undefined)
      throw new ThreadPoolError(`no thread ${index} (pool has ${this.slots.length})`, { thread: index });
    return this.send(slot, task, transfer);
  }

  /** Runs `tasks[i]` on thread i, all at once; resolves in thread order. */
  async runAll(tasks: readonly Task[]): Promise<Result[]> {
    if (tasks.length > this.slots.length) {
      throw new ThreadPoolError(`${tasks.length} tasks for ${this.slots.length} threads`, { tasks: tasks.length });
    }
    return Promise.all(tasks.map((t, i) => this.runOn(i, t)));
  }

  /** Stops every thread; pending tasks fail. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new ThreadPoolError('thread pool closed', {});
    for (const q of this.queue.splice(0)) q.pending.reject(err);
    await Promise.all(
      this.slots.map(async (slot) => {
        for (const p of slot.pending.values()) p.reject(err);
        slot.pending.clear();
        await slot.worker.terminate();
      }),
    );
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new ThreadPoolError('thread pool is closed', {});
  }

  private drain(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy || slot.pending.size > 0) continue;
      const q = this.queue.shift() as Queued;
      this.send(slot, q.task, q.transfer).then(q.pending.resolve, q.pending.reject);
    }
  }

  private send(slot: Slot, task: unknown, transfer: readonly TransferListItem[]): Promise<Result> {
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      slot.busy = true;
      const msg: EntryMessage = { type: 'task', id, task };
      slot.worker.postMessage(msg, transfer as TransferListItem[] as never);
    });
  }

  private attach(slot: Slot): void {
    slot.worker.on('message', (msg: EntryMessage) => {
      if (msg.type !== 'result' && msg.type !== 'error') return;
      const p = slot.pending.get(msg.id);
      if (p === undefined) return;
      slot.pending.delete(msg.id);
      slot.busy = slot.pending.size > 0;
      if (msg.type === 'result') p.resolve(msg.result);
      else
        p.reject(
          new ThreadPoolError(`task failed in thread ${slot.index}: ${msg.error.message}`, {
            thread: slot.index,
            remoteStack: msg.error.stack,
            remoteName: msg.error.name,
          }),
        );
      this.drain();
    });
    const fail = (err: ThreadPoolError) => {
      if (this.closed) return;
      this.failure ??= err;
      this.logger.error('compute thread failed', { thread: slot.index, error: err.message });
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
    };
    slot.worker.on('error', (err) =>
      fail(new ThreadPoolError(`thread ${slot.index} crashed: ${err.message}`, { thread: slot.index }, { cause: err })),
    );
    slot.worker.on('exit', (code) =>
      fail(new ThreadPoolError(`thread ${slot.index} exited (code ${code})`, { thread: slot.index, code })),
    );
  }
}

function waitReady(worker: Worker, index: number, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new ThreadPoolError(`thread ${index} did not start within ${timeoutMs} ms`, { thread: index, timeoutMs }));
    }, timeoutMs);
    const onMessage = (msg: EntryMessage) => {
      if (msg.type === 'ready') {
        cleanup();
        resolve();
      } else if (msg.type === 'setup-error') {
        cleanup();
        reject(
          new ThreadPoolError(`thread ${index} failed to set up its module: ${msg.error.message}`, {
            thread: index,
            remoteStack: msg.error.stack,
          }),
        );
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new ThreadPoolError(`thread ${index} failed to start: ${err.message}`, { thread: index }, { cause: err }));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new ThreadPoolError(`thread ${index} exited during start (code ${code})`, { thread: index, code }));
    };
    const cleanup = () => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

function toModuleUrl(path: string | URL): URL {
  if (path instanceof URL) return path;
  if (path.startsWith('file:')) return new URL(path);
  if (!path.startsWith('/')) {
    throw new ValidationError('thread pool options', [
      { path: 'modulePath', message: `must be an absolute path or a file: URL, got '${path}'` },
    ]);
  }
  if (!existsSync(path)) {
    throw new ValidationError('thread pool options', [{ path: 'modulePath', message: `no such file: ${path}` }]);
  }
  return pathToFileURL(path);
}

/** The thread entry next to this file: `.ts` when running from source, `.js` from dist. */
function entryUrl(): URL {
  const self = import.meta.url;
  const ext = TS_EXTENSIONS.test(new URL(self).pathname) ? '.ts' : '.js';
  const url = new URL(`./thread-entry${ext}`, self);
  if (!existsSync(fileURLToPath(url))) throw new ThreadPoolError(`thread entry missing: ${url.href}`, {});
  return url;
}

/** URL of tsx's ESM API (`register()`), resolved from this package (its ESM build: the CJS one misresolves). */
function resolveTsxApi(): string {
  try {
    const resolve = (import.meta as { resolve?: (specifier: string) => string }).resolve;
    if (typeof resolve === 'function') {
      const url = resolve('tsx/esm/api');
      if (url.endsWith('.mjs')) return url;
    }
    const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
    return pathToFileURL(cjs.replace(/index\.cjs$/, 'index.mjs')).href;
  } catch (err) {
    throw new ThreadPoolError(
      'running TypeScript in worker threads needs the tsx package (a dev dependency)',
      {},
      { cause: err },
    );
  }
}
