import { startRedisServer } from '@lorkd/testing';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sharedRedis, waitFor } from '../test-support/redis.js';
import { type ControlJobData, QUEUE_NAMES, type SlotJobData } from './job-data.js';
import { createControlWorker, createSlotWorker, type QueueWorker } from './queue-worker.js';
import { LorkdQueues } from './queues.js';
import { RedisConnections } from './redis-connections.js';

function slot(runId: string, s: number, worldSize: number): SlotJobData {
  return {
    kind: 'slot',
    runId,
    generation: 0,
    slot: s,
    worldSize,
    regions: [{ region: `r${s}`, replica: 0, replicas: 1 }],
    groups: [
      { name: 'shared', ranks: Array.from({ length: worldSize }, (_, i) => i) },
      { name: `expert:r${s}`, ranks: [s] },
    ],
  };
}

describe('LorkdQueues and workers', () => {
  let env: Awaited<ReturnType<typeof sharedRedis>>;
  let connections: RedisConnections;
  let queues: LorkdQueues;
  const workers: QueueWorker<unknown, unknown>[] = [];

  beforeEach(async () => {
    env = await sharedRedis('queues');
    connections = env.connections;
    queues = await LorkdQueues.create({ connections, prefix: env.prefix });
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close({ force: true });
    await queues.obliterate(true);
    await queues.close();
    await env.cleanup();
  });

  it('runs a flow: the export job waits for every slot job', async () => {
    const order: string[] = [];
    let releaseSlots: () => void = () => {};
    const gate = new Promise<void>((r) => {
      releaseSlots = r;
    });
    const fast = { prefix: env.prefix, drainDelaySec: 1, lockDurationMs: 2000, stalledIntervalMs: 1000 };
    workers.push(
      (await createSlotWorker({
        ...fast,
        connections,
        concurrency: 3,
        processor: async (data: SlotJobData) => {
          await gate;
          order.push(`slot${data.slot}`);
          return { slot: data.slot };
        },
      })) as QueueWorker<unknown, unknown>,
      (await createControlWorker({
        ...fast,
        connections,
        processor: async (data: ControlJobData) => {
          order.push(data.kind);
          return 'exported';
        },
      })) as QueueWorker<unknown, unknown>,
    );
    const ids = await queues.enqueueRun({
      exportJob: { kind: 'export', runId: 'run1' },
      slots: [0, 1, 2].map((s) => slot('run1', s, 3)),
    });
    expect(ids.slotJobIds).toEqual(['run1--g0--s0', 'run1--g0--s1', 'run1--g0--s2']);
    await waitFor(async () => (await queues.getJob(QUEUE_NAMES.train, 'run1--g0--s2'))?.state === 'active');
    expect((await queues.getJob(QUEUE_NAMES.control, ids.exportJobId))?.state).toBe('waiting-children');
    const counts = await queues.queueCounts();
    expect(counts.find((c) => c.name === QUEUE_NAMES.train)?.active).toBe(3);
    releaseSlots();
    const parent = await waitFor(async () => {
      const j = await queues.getJob(QUEUE_NAMES.control, ids.exportJobId);
      return j?.state === 'completed' ? j : undefined;
    });
    expect(parent.returnValue).toBe('exported');
    expect(order.slice(0, 3).sort()).toEqual(['slot0', 'slot1', 'slot2']);
    expect(order[3]).toBe('export');
    // same tag again: deduplicated, no new jobs
    await queues.enqueueRun({
      exportJob: { kind: 'export', runId: 'run1' },
      slots: [0, 1, 2].map((s) => slot('run1', s, 3)),
    });
    expect((await queues.queueCounts()).every((c) => c.waiting === 0)).toBe(true);
  });

  it('rejects slot lists that are not 0..W-1 of one run', async () => {
    await expect(
      queues.enqueueRun({ exportJob: { kind: 'export', runId: 'r' }, slots: [slot('r', 1, 2), slot('r', 0, 2)] }),
    ).rejects.toThrow(/slot order 0..1/);
  });

  it('a job released on shutdown is processed by another worker and not counted as failed', async () => {
    const seen: string[] = [];
    const fast = { prefix: env.prefix, drainDelaySec: 1, lockDurationMs: 2000, stalledIntervalMs: 1000 };
    const first = await createSlotWorker({
      ...fast,
      connections,
      workerName: 'first',
      processor: async (data, ctx) => {
        seen.push(`first:${data.slot}:${ctx.attemptsStarted}`);
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        // "finish the step, checkpoint", then hand the seat back
        return ctx.release('SIGTERM');
      },
    });
    await queues.enqueueRun({ exportJob: { kind: 'export', runId: 'run2' }, slots: [slot('run2', 0, 1)] });
    await waitFor(async () => seen.length === 1);
    await first.close({ release: true, reason: 'SIGTERM' });
    const info = await queues.getJob(QUEUE_NAMES.train, 'run2--g0--s0');
    expect(info?.state).toBe('waiting');
    expect(info?.attemptsMade).toBe(0);
    const second = await createSlotWorker({
      ...fast,
      connections,
      workerName: 'second',
      processor: async (data, ctx) => {
        seen.push(`second:${data.slot}:${ctx.attemptsStarted}`);
        return 'done';
      },
    });
    workers.push(second as QueueWorker<unknown, unknown>);
    const done = await waitFor(async () => {
      const j = await queues.getJob(QUEUE_NAMES.train, 'run2--g0--s0');
      return j?.state === 'completed' ? j : undefined;
    });
    expect(seen).toEqual(['first:0:1', 'second:0:2']);
    expect(done.processedBy).toBe('second');
    expect((await queues.queueCounts()).find((c) => c.name === QUEUE_NAMES.train)?.failed).toBe(0);
  });

  it('requeueActive hands a dead holder job to another worker', async () => {
    const fast = { prefix: env.prefix, drainDelaySec: 1, lockDurationMs: 2000, stalledIntervalMs: 60_000 };
    const holder = await createSlotWorker({
      ...fast,
      connections,
      workerName: 'holder',
      processor: async (_data, ctx) => {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        return 'stale';
      },
    });
    await queues.enqueueRun({ exportJob: { kind: 'export', runId: 'run3' }, slots: [slot('run3', 0, 1)] });
    await waitFor(async () => (await queues.getJob(QUEUE_NAMES.train, 'run3--g0--s0'))?.state === 'active');
    const closing = holder.close({ force: true }); // stops renewing and fetching: as good as dead
    expect(await queues.requeueActive(QUEUE_NAMES.train, 'run3--g0--s0')).toBe(true);
    expect((await queues.getJob(QUEUE_NAMES.train, 'run3--g0--s0'))?.state).toBe('waiting');
    expect(await queues.requeueActive(QUEUE_NAMES.train, 'run3--g0--s0')).toBe(false);
    const taker = await createSlotWorker({ ...fast, connections, workerName: 'taker', processor: async () => 'ok' });
    workers.push(taker as QueueWorker<unknown, unknown>);
    const done = await waitFor(async () => {
      const j = await queues.getJob(QUEUE_NAMES.train, 'run3--g0--s0');
      return j?.state === 'completed' ? j : undefined;
    });
    expect(done.processedBy).toBe('taker');
    expect(done.returnValue).toBe('ok');
    await closing;
  });

  it('a live holder whose job was requeued sees its signal abort with kind lock-lost', async () => {
    const kinds: string[] = [];
    const holder = await createSlotWorker({
      prefix: env.prefix,
      drainDelaySec: 1,
      lockDurationMs: 1000,
      stalledIntervalMs: 60_000,
      connections,
      processor: async (_data, ctx) => {
        if (ctx.attemptsStarted > 1) return 'again';
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        kinds.push((ctx.signal.reason as { kind: string }).kind);
        throw ctx.signal.reason;
      },
    });
    workers.push(holder as QueueWorker<unknown, unknown>);
    await queues.enqueueRun({ exportJob: { kind: 'export', runId: 'run4' }, slots: [slot('run4', 0, 1)] });
    await waitFor(async () => (await queues.getJob(QUEUE_NAMES.train, 'run4--g0--s0'))?.state === 'active');
    expect(await queues.requeueActive(QUEUE_NAMES.train, 'run4--g0--s0')).toBe(true);
    const done = await waitFor(async () => {
      const j = await queues.getJob(QUEUE_NAMES.train, 'run4--g0--s0');
      return j?.state === 'completed' ? j : undefined;
    });
    expect(kinds).toEqual(['lock-lost']);
    expect(done.returnValue).toBe('again');
  });

  it('fails a job with invalid data at once, naming the field', async () => {
    const w = await createControlWorker({
      prefix: env.prefix,
      drainDelaySec: 1,
      connections,
      processor: async () => 'never',
    });
    workers.push(w as QueueWorker<unknown, unknown>);
    const failed: string[] = [];
    const stop = await queues.watch((e) => {
      if (e.type === 'failed') failed.push(e.failedReason ?? '');
    });
    // a producer bypassing the schema (an old version, a hand-made job):
    const raw = new Queue(QUEUE_NAMES.control, { connection: connections.connection('blocking'), prefix: env.prefix });
    await raw.add('plan', { kind: 'plan' }, { jobId: 'bad', attempts: 3 });
    await raw.close();
    const job = await waitFor(async () => {
      const j = await queues.getJob(QUEUE_NAMES.control, 'bad');
      return j?.state === 'failed' ? j : undefined;
    });
    expect(job.failedReason).toMatch(/^invalid lorkd-control job bad data: runId: /);
    expect(job.attemptsMade).toBe(1);
    await waitFor(async () => failed.length === 1);
    await stop();
  });
});

describe('queues across a Redis restart', () => {
  it('workers and producers reconnect and keep processing', async () => {
    const server = await startRedisServer();
    const connections = await RedisConnections.create({ url: server.url, maxReconnectDelayMs: 100 });
    const queues = await LorkdQueues.create({ connections, prefix: 'q' });
    const done: number[] = [];
    const worker = await createSlotWorker({
      connections,
      prefix: 'q',
      drainDelaySec: 1,
      processor: async (data) => {
        done.push(data.slot);
        return 'ok';
      },
    });
    try {
      await queues.enqueueRun({ exportJob: { kind: 'export', runId: 'a' }, slots: [slot('a', 0, 1)] });
      await waitFor(async () => done.length === 1);
      await server.restart();
      await queues.enqueueRun({ exportJob: { kind: 'export', runId: 'b' }, slots: [slot('b', 0, 1)] });
      await waitFor(async () => (await queues.getJob(QUEUE_NAMES.train, 'b--g0--s0'))?.state === 'completed', 15_000);
      expect(done).toEqual([0, 0]);
    } finally {
      await worker.close({ force: true });
      await queues.close();
      await connections.close();
      await server.stop();
    }
  });
});
