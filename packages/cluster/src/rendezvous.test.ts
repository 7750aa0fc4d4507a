import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sharedRedis, waitFor } from '../test-support/redis.js';
import { CollectiveTimeoutError, GenerationFencedError } from './errors.js';
import { GenerationFence } from './generation-fence.js';
import { RendezvousMember as Member, type RendezvousMember, RendezvousMonitor } from './rendezvous.js';

describe('rendezvous and generation fence', () => {
  let env: Awaited<ReturnType<typeof sharedRedis>>;
  let fence: GenerationFence;
  let monitor: RendezvousMonitor;
  const members: RendezvousMember[] = [];
  beforeEach(async () => {
    env = await sharedRedis('rdv');
    fence = await GenerationFence.create({ connections: env.connections, prefix: env.prefix });
    monitor = await RendezvousMonitor.create({ connections: env.connections, prefix: env.prefix });
  });
  afterEach(async () => {
    for (const m of members.splice(0)) await m.leave();
    await env.cleanup();
  });

  const join = async (runId: string, generation: number, rank: number, extra: Record<string, number> = {}) => {
    const m = await Member.join({
      connections: env.connections,
      prefix: env.prefix,
      runId,
      generation,
      rank,
      worldSize: 3,
      memberId: `w${rank}`,
      heartbeatMs: 100,
      ttlMs: 4000,
      ...extra,
    });
    members.push(m);
    return m;
  };

  it('the fence only moves forward', async () => {
    expect(await fence.current('r')).toBeNull();
    expect(await fence.advance('r', 2)).toBe(2);
    expect(await fence.advance('r', 1)).toBe(2);
    await expect(fence.check('r', 1, 'write')).rejects.toBeInstanceOf(GenerationFencedError);
    await expect(fence.check('r', 2)).resolves.toBeUndefined();
  });

  it('refuses to join a generation that is not open', async () => {
    await expect(join('r', 0, 0)).rejects.toThrow(
      /run r generation 0 is fenced off \(the run is at no open generation\)/,
    );
    await fence.advance('r', 1);
    await expect(join('r', 0, 0)).rejects.toThrow(/generation 0 is fenced off \(the run is at generation 1\)/);
  });

  it('waits for all members, or times out naming the missing ranks', async () => {
    await fence.advance('r', 0);
    const a = await join('r', 0, 0);
    await join('r', 0, 2);
    const err = await a.waitForAll(200).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CollectiveTimeoutError);
    expect((err as Error).message).toBe(
      'rendezvous timed out after 200 ms: run r generation 0: ranks 1 of 3 did not join',
    );
    const waiting = a.waitForAll(5000);
    await join('r', 0, 1);
    await expect(waiting).resolves.toBeUndefined();
    expect((await a.members()).map((m) => m.memberId)).toEqual(['w0', 'w1', 'w2']);
  });

  it('detects a silent member as lost, per rendezvous and across runs; a member that left is not lost', async () => {
    await fence.advance('r', 0);
    const a = await join('r', 0, 0);
    await join('r', 0, 1, { heartbeatMs: 60_000, ttlMs: 300 }); // never beats again: "killed"
    const c = await join('r', 0, 2);
    await c.leave();
    expect(await a.lost()).toEqual([]);
    const lost = await waitFor(async () => {
      const l = await a.lost();
      return l.length > 0 ? l : undefined;
    });
    expect(lost).toEqual([1]);
    const expired = await monitor.expired();
    expect(expired.map((e) => [e.runId, e.generation, e.rank])).toEqual([['r', 0, 1]]);
    expect(expired[0]?.overdueMs).toBeGreaterThanOrEqual(0);
    expect(await monitor.forget('r', 0)).toBeGreaterThan(0);
    expect(await monitor.expired()).toEqual([]);
  });

  it('fences off an old generation: heartbeats stop, signal aborts, new joins go to the new generation', async () => {
    await fence.advance('r', 0);
    const old = await join('r', 0, 0);
    await fence.advance('r', 1);
    await waitFor(async () => old.signal.aborted);
    expect(old.signal.reason).toBeInstanceOf(GenerationFencedError);
    expect(String((old.signal.reason as Error).message)).toMatch(
      /run r generation 0 is fenced off \(the run is at generation 1\)/,
    );
    const fresh = await join('r', 1, 0);
    expect(fresh.signal.aborted).toBe(false);
  });
});
