import { createHash } from 'node:crypto';
import { type Logger, silentLogger } from '@lorkd/contracts';
import type { EngineSnapshot, SlotEngine, SlotSeat } from './engine.js';
import type { EngineThreadBoot, EngineThreadInit } from './engine-thread-init.js';

/** A booted compute thread that builds engines on demand (a ThreadEngine in production). */
export interface EngineHost extends SlotEngine {
  /** Builds a new engine from `init`, closing the previous one. */
  init(init: EngineThreadInit): Promise<void>;
  reseat(seat: SlotSeat): Promise<void>;
  /** True once the thread has exited. */
  readonly dead: boolean;
  terminate(): Promise<void>;
}

/** How `acquire` got its engine: a fresh thread, a new engine in a waiting thread, or a built engine reused. */
export type EngineSource = 'cold-thread' | 'warm-thread' | 'reused';

/**
 * One compute thread per worker, kept alive between slot jobs.
 *
 * - The thread is booted when the worker starts (`warm`), so a slot job never waits for module
 *   loading and backend start-up (about 1 s from source, measured).
 * - The engine it built is kept: a job of the same run and stage reuses it (reset to its initial
 *   parameters; the slot then restores the latest checkpoint), even for another seat, since every
 *   seat of a stage trains the same model and data (`reseat` only changes the shard). This is what a
 *   restarted generation hits: the surviving workers keep their models whichever seat they get.
 */
export class EngineCache {
  private host: Promise<EngineHost> | undefined;
  private built: { key: string; initial: EngineSnapshot } | undefined;
  /** Operations on the thread run one at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  /** True while a slot job holds the engine (until its `close()`). */
  private leased = false;

  constructor(
    private readonly boot: (boot: EngineThreadBoot) => Promise<EngineHost>,
    private readonly bootOptions: EngineThreadBoot,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** What identifies a built engine: everything in `init` except the seat. */
  static keyOf(init: EngineThreadInit): string {
    const h = createHash('sha256');
    h.update(JSON.stringify({ spec: init.spec, stage: init.stage, backend: init.backend }));
    for (const [k, v] of init.teacherParams ?? []) {
      h.update(k);
      h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
    return h.digest('hex');
  }

  /** Boots the compute thread ahead of the first job; a failure is logged here and thrown by the next `acquire`. */
  warm(): Promise<EngineHost> {
    if (this.host) return this.host;
    const host = this.boot(this.bootOptions);
    this.host = host;
    host.catch((err: unknown) => {
      this.logger.warn('the compute thread did not start ahead of a job', { error: (err as Error).message });
    });
    return host;
  }

  /** An engine for `init` and how it was obtained; the engine's `close()` only returns it to the cache. */
  acquire(init: EngineThreadInit): Promise<{ engine: SlotEngine; source: EngineSource }> {
    return this.serial(async () => {
      const got = await this.obtain(init);
      this.leased = true;
      return got;
    });
  }

  /**
   * Builds the engine for `init` ahead of a job (a hot spare), unless a job holds the engine now.
   * Resolves to how it was obtained, or undefined when skipped.
   */
  prepare(init: EngineThreadInit): Promise<EngineSource | undefined> {
    return this.serial(async () => {
      if (this.leased) return undefined;
      if (this.built?.key === EngineCache.keyOf(init)) return 'reused';
      return (await this.obtain(init)).source;
    });
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op, op);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async obtain(init: EngineThreadInit): Promise<{ engine: SlotEngine; source: EngineSource }> {
    const pending = this.host;
    let host = await pending?.catch(() => undefined);
    let source: EngineSource = 'warm-thread';
    if (!host || host.dead) {
      this.host = undefined;
      this.built = undefined;
      if (host) await host.terminate();
      source = 'cold-thread';
      host = await this.warm();
    }
    const key = EngineCache.keyOf(init);
    const seat: SlotSeat = { regions: init.regions, replica: init.replica, replicas: init.replicas };
    if (this.built?.key === key) {
      await host.restore(this.built.initial);
      await host.reseat(seat);
      source = 'reused';
    } else {
      this.built = undefined;
      await host.init(init);
      this.built = { key, initial: await host.snapshot() };
    }
    const h = host;
    const engine: SlotEngine = {
      layout: () => h.layout(),
      gradients: (step) => h.gradients(step),
      apply: (step, grads, scale) => h.apply(step, grads, scale),
      snapshot: () => h.snapshot(),
      restore: (s) => h.restore(s),
      reseat: (s) => h.reseat(s),
      close: async () => {
        this.leased = false;
      },
    };
    return { engine, source };
  }

  /** Ends the compute thread (after a failure, or when the worker stops); `warm` boots a new one. */
  async clear(): Promise<void> {
    this.leased = false;
    const pending = this.host;
    this.host = undefined;
    this.built = undefined;
    const host = await pending?.catch(() => undefined);
    await host?.close();
  }
}
