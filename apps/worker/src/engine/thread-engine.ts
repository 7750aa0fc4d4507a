import { Worker } from 'node:worker_threads';
import { type Logger, LorkdError } from '@lorkd/contracts';
import type { EngineSnapshot, GroupLayout, SlotEngine, SlotSeat, StepGradients } from './engine.js';

/** An error raised inside the compute thread, carried over with its name, code and fields. */
export class EngineThreadError extends LorkdError {
  readonly remoteName: string;
  constructor(remote: { name: string; code?: string; message: string; fields?: Record<string, unknown> }) {
    super(remote.code ?? 'E_ENGINE', remote.message, { fields: { ...(remote.fields ?? {}), remoteName: remote.name } });
    this.remoteName = remote.name;
  }
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: SerializedError };
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  fields?: Record<string, unknown>;
}

export interface ThreadBootOptions {
  /** Module (file URL) that calls `serveEngine(server)` when imported. */
  readonly entry: URL;
  /** Passed to the server's `prepare` inside the thread (structured-cloneable). */
  readonly boot?: unknown;
  readonly logger: Logger;
  /** Extra node flags for the thread; `--conditions=lorkd-source` is added when running from source. */
  readonly execArgv?: readonly string[];
}

export interface ThreadEngineOptions extends ThreadBootOptions {
  /** Passed to the server's `create` inside the thread (structured-cloneable). */
  readonly init: unknown;
}

/**
 * A SlotEngine whose model, data and optimiser live in a worker thread: the calling thread only
 * passes step numbers and gradient buffers, so its event loop stays free for BullMQ lock renewal,
 * heartbeats and collectives while a step computes. A thread is booted once (modules loaded, backend
 * selected) and can build one engine after another with `init`.
 */
export class ThreadEngine implements SlotEngine {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (msg: Reply) => {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(new EngineThreadError(msg.error));
    });
    const failAll = (err: Error) => {
      this.exited = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => failAll(err));
    worker.on('exit', (code) => failAll(new Error(`the compute thread exited (code ${code})`)));
  }

  /** Starts a thread and waits until it is prepared (no engine yet: `init` builds one). */
  static async boot(options: ThreadBootOptions): Promise<ThreadEngine> {
    const fromSource = options.entry.pathname.endsWith('.ts');
    const execArgv = [...(fromSource ? ['--conditions=lorkd-source'] : []), ...(options.execArgv ?? [])];
    const worker = new Worker(new URL('./thread-boot.mjs', import.meta.url), {
      workerData: { entry: options.entry.href, boot: options.boot ?? null },
      execArgv,
    });
    const engine = new ThreadEngine(worker);
    try {
      await engine.call('ready', []);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    options.logger.debug('compute thread ready', { threadId: worker.threadId });
    return engine;
  }

  /** Boots a thread and builds its engine. */
  static async start(options: ThreadEngineOptions): Promise<ThreadEngine> {
    const engine = await ThreadEngine.boot(options);
    try {
      await engine.init(options.init);
    } catch (err) {
      await engine.terminate();
      throw err;
    }
    return engine;
  }

  /** Whether the thread is gone (crashed or terminated). */
  get dead(): boolean {
    return this.exited !== undefined;
  }

  /** Builds a new engine in this thread from `init` (closing the previous one). */
  init(init: unknown): Promise<void> {
    return this.call('init', [init]);
  }

  private call<T>(method: string, args: unknown[]): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  layout(): Promise<readonly GroupLayout[]> {
    return this.call('layout', []);
  }
  gradients(step: number): Promise<StepGradients> {
    return this.call('gradients', [step]);
  }
  apply(step: number, grads: Map<string, Float32Array>, scale: number): Promise<void> {
    return this.call('apply', [step, grads, scale]);
  }
  snapshot(): Promise<EngineSnapshot> {
    return this.call('snapshot', []);
  }
  restore(snapshot: EngineSnapshot): Promise<void> {
    return this.call('restore', [snapshot]);
  }
  reseat(seat: SlotSeat): Promise<void> {
    return this.call('reseat', [seat]);
  }
  /** Closes the engine and ends the thread. */
  async close(): Promise<void> {
    if (!this.exited) {
      try {
        await this.call('close', []);
      } catch {
        // the thread is going away anyway
      }
    }
    await this.terminate();
  }
  /** Ends the thread without closing the engine first. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
