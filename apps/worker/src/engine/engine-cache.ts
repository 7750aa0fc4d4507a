import { createHash } from 'node:crypto';
import type { EngineSnapshot, SlotEngine } from './engine.js';
import type { EngineThreadInit } from './engine-thread-init.js';

/**
 * Keeps the last compute engine of a worker alive between slot jobs: a restarted generation that
 * gives this worker the same seat again reuses the built model and loaded data instead of paying
 * thread start-up, data loading and model building again. A reused engine is reset to its initial
 * parameters (the slot then restores the latest checkpoint, if any).
 */
export class EngineCache {
  private entry: { key: string; engine: SlotEngine; initial: EngineSnapshot } | undefined;

  constructor(private readonly start: (init: EngineThreadInit) => Promise<SlotEngine>) {}

  static keyOf(init: EngineThreadInit): string {
    const h = createHash('sha256');
    h.update(
      JSON.stringify({ spec: init.spec, stage: init.stage, regions: init.regions, r: init.replica, n: init.replicas }),
    );
    for (const [k, v] of init.teacherParams ?? []) {
      h.update(k);
      h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
    return h.digest('hex');
  }

  /** An engine for `init`; its `close()` only returns it to the cache. */
  async acquire(init: EngineThreadInit): Promise<SlotEngine> {
    const key = EngineCache.keyOf(init);
    if (this.entry?.key === key) {
      await this.entry.engine.restore(this.entry.initial);
    } else {
      await this.clear();
      const engine = await this.start(init);
      this.entry = { key, engine, initial: await engine.snapshot() };
    }
    const engine = this.entry.engine;
    return {
      layout: () => engine.layout(),
      gradients: (step) => engine.gradients(step),
      apply: (step, grads, scale) => engine.apply(step, grads, scale),
      snapshot: () => engine.snapshot(),
      restore: (s) => engine.restore(s),
      close: async () => {},
    };
  }

  /** Closes the cached engine (e.g. after a failure, or when the worker stops). */
  async clear(): Promise<void> {
    const e = this.entry;
    this.entry = undefined;
    await e?.engine.close();
  }
}
