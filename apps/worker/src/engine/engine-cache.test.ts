import { silentLogger } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { EngineCache } from './engine-cache.js';
import type { EngineThreadInit } from './engine-thread-init.js';
import { ThreadEngine } from './thread-engine.js';

const entry = new URL('./busy-engine.fixture.ts', import.meta.url);

/** A fixture init: `name` stands in for the run (spec), the seat is the replica index. */
function init(name: string, replica: number, extra: Record<string, unknown> = {}): EngineThreadInit {
  return {
    spec: { name } as unknown as EngineThreadInit['spec'],
    stage: 'student',
    regions: ['a'],
    replica,
    replicas: 3,
    backend: 'cpu',
    busyMs: 0,
    seat: replica,
    ...extra,
  } as EngineThreadInit;
}

describe('EngineCache', () => {
  it('boots ahead, reuses a built engine for another seat of the same run, rebuilds for another run', async () => {
    let boots = 0;
    const cache = new EngineCache(
      async (boot) => {
        boots++;
        return ThreadEngine.boot({ entry, boot, logger: silentLogger });
      },
      { backend: 'cpu' },
    );
    try {
      await cache.warm();
      expect(boots).toBe(1);

      const first = await cache.acquire(init('run-a', 0));
      expect(first.source).toBe('warm-thread');
      // seat 0 of step 4: gradient 4 + 1 + 0
      expect((await first.engine.gradients(4)).grads.get('shared')).toEqual(new Float32Array([5]));
      const g = await first.engine.gradients(1);
      await first.engine.apply(1, g.grads, 1);
      expect((await first.engine.snapshot()).params.get('w')).toEqual(new Float32Array([-2]));
      await first.engine.close(); // back to the cache, thread alive

      // same run, another seat: the built engine is reset to its initial parameters and re-seated
      const second = await cache.acquire(init('run-a', 2));
      expect(second.source).toBe('reused');
      expect((await second.engine.snapshot()).params.get('w')).toEqual(new Float32Array([0]));
      expect((await second.engine.gradients(4)).grads.get('shared')).toEqual(new Float32Array([7]));

      // another run: a new engine in the same thread
      const third = await cache.acquire(init('run-b', 1));
      expect(third.source).toBe('warm-thread');
      expect((await third.engine.gradients(4)).grads.get('shared')).toEqual(new Float32Array([6]));
      expect(boots).toBe(1);

      // a failed build leaves no engine behind; after clear() the next job boots a fresh thread
      await expect(cache.acquire(init('run-c', 0, { failInit: true }))).rejects.toMatchObject({ code: 'E_DATASET' });
      await cache.clear();
      const fourth = await cache.acquire(init('run-c', 0));
      expect(fourth.source).toBe('cold-thread');
      expect(boots).toBe(2);
    } finally {
      await cache.clear();
    }
  });

  it('prepares an engine ahead of a job, never under a job that holds one', async () => {
    const cache = new EngineCache((boot) => ThreadEngine.boot({ entry, boot, logger: silentLogger }), {
      backend: 'cpu',
    });
    try {
      expect(await cache.prepare(init('run-a', 0))).toBe('cold-thread'); // not warmed first
      expect(await cache.prepare(init('run-a', 1))).toBe('reused'); // already built: nothing to do
      const job = await cache.acquire(init('run-a', 2));
      expect(job.source).toBe('reused');
      expect(await cache.prepare(init('run-b', 0))).toBeUndefined(); // the job holds the engine
      expect((await job.engine.gradients(4)).grads.get('shared')).toEqual(new Float32Array([7]));
      await job.engine.close();
      expect(await cache.prepare(init('run-b', 0))).toBe('warm-thread');
    } finally {
      await cache.clear();
    }
  });

  it('surfaces a thread that could not boot at the job that needs it', async () => {
    const cache = new EngineCache((boot) => ThreadEngine.boot({ entry, boot, logger: silentLogger }), {
      backend: 'tensorflow',
      failBoot: true,
    } as never);
    await expect(cache.warm()).rejects.toMatchObject({ code: 'E_BACKEND' });
    await expect(cache.acquire(init('run-a', 0))).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: "backend 'tensorflow' is not available",
    });
    await cache.clear();
  });

  it('keys built engines by run, stage and backend but not by seat', () => {
    const a = EngineCache.keyOf(init('run-a', 0));
    expect(EngineCache.keyOf(init('run-a', 2))).toBe(a);
    expect(EngineCache.keyOf({ ...init('run-a', 0), regions: ['b'] })).toBe(a);
    expect(EngineCache.keyOf(init('run-b', 0))).not.toBe(a);
    expect(EngineCache.keyOf({ ...init('run-a', 0), stage: 'teacher' })).not.toBe(a);
    expect(EngineCache.keyOf({ ...init('run-a', 0), backend: 'wasm' })).not.toBe(a);
    expect(EngineCache.keyOf({ ...init('run-a', 0), teacherParams: new Map([['w', new Float32Array([1])]]) })).not.toBe(
      a,
    );
  });
});
