import { startRedisServer } from '@lorkd/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sharedRedis } from '../test-support/redis.js';
import { Collective, partBounds, sumInOrder } from './collective.js';
import { ClusterUsageError, CollectiveTimeoutError, GenerationFencedError, RedisUnavailableError } from './errors.js';
import { roundToHalf } from './fp16.js';
import { GenerationFence } from './generation-fence.js';
import { RedisConnections } from './redis-connections.js';

/** Deterministic pseudo-random data per rank, with a wide dynamic range so summation order matters. */
function bufferFor(rank: number, length: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let x = (rank + 1) * 2654435761 + seed * 97;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out[i] = ((x / 2 ** 31 - 0.5) * 10 ** ((i % 7) - 3)) as number;
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

describe('Collective', () => {
  let env: Awaited<ReturnType<typeof sharedRedis>>;
  let fence: GenerationFence;
  const open: Collective[] = [];
  beforeEach(async () => {
    env = await sharedRedis('coll');
    fence = await GenerationFence.create({ connections: env.connections, prefix: env.prefix });
    await fence.advance('run', 0);
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
    await env.cleanup();
  });

  async function ranks(n: number, extra: Record<string, unknown> = {}, generation = 0): Promise<Collective[]> {
    const made = await Promise.all(
      Array.from({ length: n }, (_, rank) =>
        Collective.create({
          connections: env.connections,
          prefix: env.prefix,
          runId: 'run',
          generation,
          rank,
          timeoutMs: 5000,
          pollMs: 100,
          ...extra,
        }),
      ),
    );
    open.push(...made);
    return made;
  }

  it('partBounds splits evenly and covers the buffer', () => {
    expect(partBounds(10, 4)).toEqual([
      [0, 3],
      [3, 6],
      [6, 8],
      [8, 10],
    ]);
    expect(partBounds(2, 4)).toEqual([
      [0, 1],
      [1, 2],
      [2, 2],
      [2, 2],
    ]);
  });

  for (const algorithm of ['direct', 'reduce-scatter'] as const) {
    it(`${algorithm}: equals the fixed-order local sum bit for bit on every rank (1-4 ranks, odd sizes, chunks)`, async () => {
      const all = await ranks(4, { chunkBytes: 1024, algorithm });
      for (const n of [1, 2, 3, 4]) {
        for (const length of [0, 1, 3, 257, 1000, 4099]) {
          const group = all.slice(0, n);
          const ids = group.map((c) => c.rank);
          const inputs = ids.map((r) => bufferFor(r, length, n));
          const expected = sumInOrder(inputs, length);
          // start ranks in reverse order so arrival order differs from rank order
          const results = await Promise.all(
            [...group].reverse().map((c) => c.allReduce('shared', ids, length, inputs[c.rank] as Float32Array)),
          );
          for (const r of results) expect(sameBits(r, expected)).toBe(true);
        }
      }
    });
  }

  it('auto picks an algorithm consistently; repeated calls on a group in one step work', async () => {
    const all = await ranks(3, { directMaxBytes: 100 });
    const ids = [0, 1, 2];
    for (const length of [10, 5000]) {
      for (let rep = 0; rep < 2; rep++) {
        const inputs = ids.map((r) => bufferFor(r, length, rep));
        const results = await Promise.all(
          all.map((c) => c.allReduce('shared', ids, 7, inputs[c.rank] as Float32Array)),
        );
        for (const r of results) expect(sameBits(r, sumInOrder(inputs, length))).toBe(true);
      }
    }
  });

  it('runs subgroups concurrently (shared + per-expert groups), a group of one returns at once', async () => {
    const all = await ranks(4);
    const groups: Record<string, number[]> = { 'expert:brain': [0, 2], 'expert:lung': [1, 2, 3], 'expert:knee': [3] };
    const input = (r: number, g: string) => bufferFor(r, 501, g.length);
    const results = await Promise.all(
      all.map(async (c) => {
        const mine = Object.entries(groups).filter(([, rs]) => rs.includes(c.rank));
        const [shared, ...experts] = await Promise.all([
          c.allReduce('shared', [0, 1, 2, 3], 1, input(c.rank, 'shared')),
          ...mine.map(([g, rs]) => c.allReduce(g, rs, 1, input(c.rank, g))),
        ]);
        return { rank: c.rank, shared, experts: Object.fromEntries(mine.map(([g], i) => [g, experts[i]])) };
      }),
    );
    const sharedRef = sumInOrder(
      [0, 1, 2, 3].map((r) => input(r, 'shared')),
      501,
    );
    for (const r of results) {
      expect(sameBits(r.shared as Float32Array, sharedRef)).toBe(true);
      for (const [g, value] of Object.entries(r.experts)) {
        const ref = sumInOrder(
          (groups[g] as number[]).map((x) => input(x, g)),
          501,
        );
        expect(sameBits(value as Float32Array, ref)).toBe(true);
      }
    }
  });

  it('fp16 transport: within half-precision tolerance, still identical on every rank', async () => {
    for (const algorithm of ['direct', 'reduce-scatter'] as const) {
      const all = await ranks(3, { transport: 'f16', algorithm });
      const ids = [0, 1, 2];
      const inputs = ids.map((r) => bufferFor(r, 3001).map((v) => v * 10));
      const results = await Promise.all(all.map((c) => c.allReduce('shared', ids, 0, inputs[c.rank] as Float32Array)));
      const exact = sumInOrder(inputs, 3001);
      for (const r of results) expect(sameBits(r, results[0] as Float32Array)).toBe(true);
      const first = results[0] as Float32Array;
      const maxAbs = inputs.reduce((m, a) => Math.max(m, ...a.map(Math.abs)), 0);
      let worst = 0;
      for (let i = 0; i < exact.length; i++)
        worst = Math.max(worst, Math.abs((first[i] as number) - (exact[i] as number)));
      expect(worst).toBeLessThanOrEqual(maxAbs * 3 * 2 ** -10);
      // the direct path is exactly the sum of the rounded contributions
      if (algorithm === 'direct') {
        const rounded = inputs.map((a) => {
          const c = a.slice();
          roundToHalf(c);
          return c;
        });
        expect(sameBits(first, sumInOrder(rounded, 3001))).toBe(true);
      }
      for (const c of all) await c.close();
    }
  });

  it('broadcast and barrier', async () => {
    const all = await ranks(3);
    const data = bufferFor(9, 2049);
    const got = await Promise.all(all.map((c) => c.broadcast('shared', [0, 1, 2], 3, 1, c.rank === 1 ? data : null)));
    for (const g of got) expect(sameBits(g, data)).toBe(true);
    let passed = 0;
    const early = all.slice(0, 2).map((c) => c.barrier('shared', [0, 1, 2], 3).then(() => passed++));
    await new Promise((r) => setTimeout(r, 150));
    expect(passed).toBe(0);
    await Promise.all([...early, (all[2] as Collective).barrier('shared', [0, 1, 2], 3)]);
    expect(passed).toBe(2);
  });

  it('times out naming run, generation, step, group and the missing ranks', async () => {
    const all = await ranks(4, { algorithm: 'reduce-scatter' });
    const ids = [0, 1, 2, 3];
    const calls = [0, 2].map((r) =>
      (all[r] as Collective).allReduce('expert:lung', ids, 12, bufferFor(r, 100), { timeoutMs: 300 }).catch((e) => e),
    );
    const [e0] = await Promise.all(calls);
    expect(e0).toBeInstanceOf(CollectiveTimeoutError);
    expect((e0 as Error).message).toBe(
      'all-reduce timed out after 300 ms: run run generation 0 step 12 group expert:lung [ranks 0,1,2,3]: waiting for ranks 1, 3 in the reduce-scatter phase',
    );
    expect((e0 as CollectiveTimeoutError).missingRanks).toEqual([1, 3]);
  });

  it('rejects misuse clearly', async () => {
    const [c] = await ranks(1);
    await expect((c as Collective).allReduce('shared', [1, 2], 0, new Float32Array(1))).rejects.toThrow(
      /rank 0 is not a member of group shared \[1,2\]/,
    );
    await expect((c as Collective).allReduce('shared', [2, 0], 0, new Float32Array(1))).rejects.toBeInstanceOf(
      ClusterUsageError,
    );
    const two = await ranks(2);
    const mismatch = await Promise.all([
      (two[0] as Collective).allReduce('shared', [0, 1], 0, new Float32Array(3)).catch((e) => e),
      (two[1] as Collective).allReduce('shared', [0, 1], 0, new Float32Array(4)).catch((e) => e),
    ]);
    expect(String(mismatch[0])).toMatch(/rank 1 sent 4 values \(f32\) where 3 were expected/);
  });

  it('generation fencing: an old generation cannot open, write or keep waiting', async () => {
    const [a, b] = await ranks(2, { algorithm: 'direct' });
    const waiting = (a as Collective).allReduce('shared', [0, 1], 0, bufferFor(0, 10)).catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    await fence.advance('run', 1);
    const err = await waiting;
    expect(err).toBeInstanceOf(GenerationFencedError);
    expect((err as Error).message).toMatch(/run run generation 0 is fenced off \(the run is at generation 1\)/);
    // rank 1 of generation 0 tries to write: rejected before anything reaches generation 1
    await expect((b as Collective).allReduce('shared', [0, 1], 0, bufferFor(1, 10))).rejects.toBeInstanceOf(
      GenerationFencedError,
    );
    await expect(ranks(1, {}, 0)).rejects.toBeInstanceOf(GenerationFencedError);
    const [fresh] = await ranks(1, {}, 1);
    expect((await (fresh as Collective).allReduce('shared', [0], 0, Float32Array.of(1, 2)))[1]).toBe(2);
  });

  it('an abort signal or close() ends a wait at once', async () => {
    const [a] = await ranks(2);
    const ac = new AbortController();
    const waiting = (a as Collective)
      .allReduce('shared', [0, 1], 0, bufferFor(0, 10), { signal: ac.signal })
      .catch((e) => e);
    ac.abort(new Error('SIGTERM'));
    const err = await waiting;
    expect(String(err)).toMatch(
      /all-reduce \(run run generation 0 step 0 group shared \[ranks 0,1\]\) aborted: SIGTERM/,
    );
    const pending = (a as Collective).barrier('shared', [0, 1], 1).catch((e) => e);
    await new Promise((r) => setTimeout(r, 20));
    await (a as Collective).close();
    expect(String(await pending)).toMatch(/collective wait aborted: closed/);
  });

  it('leaves no data keys behind after a sequence of calls (only the last call per group, with a TTL)', async () => {
    const all = await ranks(3, { chunkBytes: 1024, algorithm: 'reduce-scatter' });
    for (let step = 0; step < 4; step++)
      await Promise.all(all.map((c) => c.allReduce('shared', [0, 1, 2], step, bufferFor(c.rank, 3000))));
    const found = await env.connections.command.keys(`${env.prefix}:coll:*`);
    const dataKeys = found.filter((k) => !k.includes(':inbox:'));
    expect(dataKeys.every((k) => k.includes('@3#0'))).toBe(true);
    for (const k of found) expect(await env.connections.command.pttl(k)).toBeGreaterThan(0);
  });
});

describe('Collective across a Redis restart', () => {
  it('fails a wait that spans the restart with a clear error; works again in the next generation', async () => {
    const server = await startRedisServer();
    const connections = await RedisConnections.create({ url: server.url, maxReconnectDelayMs: 100 });
    try {
      const fence = await GenerationFence.create({ connections, prefix: 'x' });
      await fence.advance('run', 0);
      const make = (rank: number, generation: number) =>
        Collective.create({ connections, prefix: 'x', runId: 'run', generation, rank, timeoutMs: 5000, pollMs: 100 });
      const a = await make(0, 0);
      const waiting = a.allReduce('shared', [0, 1], 0, Float32Array.of(1)).catch((e) => e);
      await new Promise((r) => setTimeout(r, 100));
      await server.restart();
      const err = await waiting;
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(
        /all-reduce failed: run run generation 0 step 0 group shared \[ranks 0,1\]: the Redis connection was lost during the all-gather phase/,
      );
      await a.close();
      // after the restart the fence is gone with the data: the coordinator re-opens a generation
      await fence.advance('run', 1);
      const [c0, c1] = await Promise.all([make(0, 1), make(1, 1)]);
      const sums = await Promise.all([
        c0.allReduce('shared', [0, 1], 0, Float32Array.of(1, 2)),
        c1.allReduce('shared', [0, 1], 0, Float32Array.of(3, 4)),
      ]);
      expect([...(sums[0] as Float32Array)]).toEqual([4, 6]);
      await c0.close();
      await c1.close();
    } finally {
      await connections.close();
      await server.stop();
    }
  });
});
