import { silentLogger } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { EngineThreadError, ThreadEngine } from './thread-engine.js';

const entry = new URL('./busy-engine.fixture.ts', import.meta.url);

describe('ThreadEngine', () => {
  it('runs engine calls in a thread while the calling event loop keeps ticking', async () => {
    const engine = await ThreadEngine.start({ entry, init: { busyMs: 400 }, logger: silentLogger });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 20);
      const g = await engine.gradients(2);
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(5);
      expect(g.grads.get('shared')).toEqual(new Float32Array([3]));
      expect(await engine.layout()).toEqual([{ group: 'shared', names: ['w'], sizes: [1], length: 1 }]);
      await engine.apply(0, g.grads, 0.5);
      const snap = await engine.snapshot();
      expect(snap.params.get('w')).toEqual(new Float32Array([-1.5]));
      await engine.restore({ ...snap, params: new Map([['w', new Float32Array([4])]]) });
      expect((await engine.snapshot()).params.get('w')).toEqual(new Float32Array([4]));
    } finally {
      await engine.close();
    }
  });

  it('carries an engine start-up error over with its code and fields', async () => {
    const err = await ThreadEngine.start({ entry, init: { busyMs: 0, failInit: true }, logger: silentLogger }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineThreadError);
    expect(err).toMatchObject({ code: 'E_DATASET', message: 'no dataset at file:///nowhere.npz' });
    expect((err as EngineThreadError).fields).toMatchObject({ uri: 'file:///nowhere.npz' });
  });
});
