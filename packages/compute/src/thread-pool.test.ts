import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ThreadPoolError } from './errors.js';
import { ThreadPool } from './thread-pool.js';

const echo = fileURLToPath(new URL('../test-fixtures/echo-thread.ts', import.meta.url));

describe('ThreadPool', () => {
  it('runs a TypeScript module in every thread, routes tasks, shares memory and transfers results', async () => {
    const shared = new SharedArrayBuffer(3 * 4);
    const pool = await ThreadPool.create<Record<string, unknown>, Record<string, unknown>>({
      threads: 3,
      modulePath: echo,
      init: { offset: 1, shared },
    });
    try {
      expect(pool.size).toBe(3);
      const all = await pool.runAll([
        { kind: 'double', value: 1 },
        { kind: 'double', value: 2 },
        { kind: 'double', value: 3 },
      ]);
      expect(all).toEqual([
        { value: 3, thread: 0, threads: 3 },
        { value: 5, thread: 1, threads: 3 },
        { value: 7, thread: 2, threads: 3 },
      ]);
      const any = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.run({ kind: 'double', value: i })));
      expect(any.map((r) => r.value)).toEqual(Array.from({ length: 10 }, (_, i) => 2 * i + 1));
      expect(new Set(any.map((r) => r.thread)).size).toBeGreaterThan(1);
      const buf = (await pool.runOn(2, { kind: 'buffer', length: 4 })) as { data: Float32Array };
      expect(Array.from(buf.data)).toEqual([3, 3, 3, 3]);
      await pool.runAll([0, 1, 2].map((t) => ({ kind: 'write-shared', value: 10 + t })));
      expect(Array.from(new Int32Array(shared))).toEqual([10, 11, 12]);
      const err = await pool.runOn(1, { kind: 'fail', message: 'bad shard' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ThreadPoolError);
      expect((err as Error).message).toMatch(/task failed in thread 1: bad shard/);
      // The thread survives a failing task.
      expect(await pool.runOn(1, { kind: 'double', value: 0 })).toMatchObject({ value: 1, thread: 1 });
    } finally {
      await pool.close();
    }
    await expect(pool.run({ kind: 'double', value: 1 })).rejects.toThrow(/closed/);
  }, 120_000);

  it('reports a module whose setup throws, and bad options, clearly', async () => {
    await expect(
      ThreadPool.create({ threads: 1, modulePath: echo, init: { offset: -1, shared: new SharedArrayBuffer(4) } }),
    ).rejects.toThrow(/failed to set up its module: offset must be >= 0/);
    await expect(ThreadPool.create({ threads: 1, modulePath: 'relative/path.ts' })).rejects.toThrow(/absolute path/);
    await expect(ThreadPool.create({ threads: 0, modulePath: echo })).rejects.toThrow(/threads/);
  }, 120_000);
});
