// A compute-thread engine for ThreadEngine's tests: burns CPU for `init.busyMs` per gradients() call.
import { LorkdError } from '@lorkd/contracts';
import type { EngineSnapshot, SlotEngine } from './engine.js';
import { serveEngine } from './serve-engine.js';

serveEngine({
  async prepare(boot) {
    if ((boot as { failBoot?: boolean } | null)?.failBoot)
      throw new LorkdError('E_BACKEND', "backend 'tensorflow' is not available", { fields: { tier: 'tensorflow' } });
  },
  create: async (init) => {
    const { busyMs, failInit, seat } = init as { busyMs: number; failInit?: boolean; seat?: number };
    if (failInit)
      throw new LorkdError('E_DATASET', 'no dataset at file:///nowhere.npz', {
        fields: { uri: 'file:///nowhere.npz' },
      });
    let w = 0;
    let at = seat ?? 0;
    const engine: SlotEngine = {
      async layout() {
        return [{ group: 'shared', names: ['w'], sizes: [1], length: 1 }];
      },
      async gradients(step) {
        const until = Date.now() + busyMs;
        while (Date.now() < until) {
          // busy: a long synchronous step, as tfjs compute is
        }
        return {
          grads: new Map([['shared', new Float32Array([step + 1 + at])]]),
          loss: 1,
          taskLoss: 1,
          kdLoss: 0,
          samples: 2,
        };
      },
      async apply(_step, grads, scale) {
        w -= ((grads.get('shared') as Float32Array)[0] as number) * scale;
      },
      async snapshot(): Promise<EngineSnapshot> {
        return { params: new Map([['w', new Float32Array([w])]]), optimizer: new Map(), step: 0 };
      },
      async restore(s) {
        w = ((s.params.get('w') as Float32Array)[0] as number) ?? 0;
      },
      async reseat(s) {
        at = s.replica;
      },
      async close() {},
    };
    return engine;
  },
});
