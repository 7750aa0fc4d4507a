import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, makeTensors, recordingLogger, sameBits, startBackend, uniqueRunId } from '../test/helpers.js';
import { CheckpointStore } from './checkpoint-store.js';
import type { ObjectStore } from './object-store.js';

const common = {
  sampler: { epoch: 1, cursor: 17 },
  rng: { seed: 42, counter: [1, 2] },
  specHash: 'spec',
  datasetHash: 'data',
};

describe.each(['file', 's3', 's3-cas'] as const)('CheckpointStore on %s', (kind) => {
  let backend: Backend;
  let store: ObjectStore;
  beforeAll(async () => {
    backend = await startBackend(kind);
    store = await backend.open();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.stop();
  });

  it('round-trips tensors bit for bit with the manifest metadata', async () => {
    const runId = uniqueRunId('rt');
    const ckpt = await CheckpointStore.create({ store, runId });
    expect(await ckpt.loadLatest()).toBeUndefined();
    const tensors = makeTensors(1);
    const saved = await ckpt.save({ step: 5, generation: 2, tensors, metrics: { loss: 0.25 }, ...common });
    const loaded = await ckpt.loadLatest();
    expect(loaded?.manifest).toEqual(saved);
    expect(loaded?.manifest).toMatchObject({ step: 5, generation: 2, sampler: common.sampler, rng: common.rng });
    expect([...(loaded?.tensors.keys() ?? [])]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const back = loaded?.tensors.get(name);
      expect(back?.dtype).toBe(t.dtype);
      expect(back?.shape).toEqual(t.shape);
      expect(back?.data.constructor).toBe(t.data.constructor);
      expect(back && sameBits(back.data, t.data)).toBe(true);
    }
    expect((await ckpt.latest())?.step).toBe(5);
    expect((await ckpt.load(5)).manifest.step).toBe(5);
  });

  it('uploads a blob once and reuses it across steps', async () => {
    const ckpt = await CheckpointStore.create({ store, runId: uniqueRunId('dedup') });
    const tensors = makeTensors(2);
    await ckpt.save({ step: 1, generation: 0, tensors, ...common });
    await ckpt.save({ step: 2, generation: 0, tensors, ...common });
    const blobs = await store.list(`runs/${ckpt.runId}/blobs/sha256/`);
    expect(blobs).toHaveLength(3);
  });

  it('rejects tensors whose data does not match dtype and shape', async () => {
    const ckpt = await CheckpointStore.create({ store, runId: uniqueRunId('bad') });
    const tensors = new Map([['w', { dtype: 'float32' as const, shape: [2, 3], data: new Float32Array(5) }]]);
    await expect(ckpt.save({ step: 1, generation: 0, tensors, ...common })).rejects.toThrow(
      /shape \[2,3\] needs a Float32Array of 6/,
    );
    const fine = makeTensors(1);
    await expect(ckpt.save({ step: -1, generation: 0, tensors: fine, ...common })).rejects.toThrow(
      /step and generation must be integers/,
    );
    const metrics = { loss: 'low' as unknown as number };
    await expect(ckpt.save({ step: 1, generation: 0, tensors: fine, ...common, metrics })).rejects.toThrow(
      /invalid checkpoint:\n {2}- metrics.loss/,
    );
    expect(await store.list(`runs/${ckpt.runId}/`)).toEqual([]); // rejected before anything was written
  });

  it('detects a blob changed in storage and falls back to the previous checkpoint', async () => {
    const logger = recordingLogger();
    const ckpt = await CheckpointStore.create({ store, runId: uniqueRunId('tamper'), logger });
    await ckpt.save({ step: 1, generation: 0, tensors: makeTensors(10), ...common });
    const second = await ckpt.save({ step: 2, generation: 0, tensors: makeTensors(11), ...common });
    const victim = second.tensors.find((t) => t.name === 'layer/w');
    if (!victim) throw new Error('test setup');
    const key = ckpt.blobKey(victim.sha256);
    const original = await store.get(key);
    if (!original) throw new Error('test setup');
    const changed = new Uint8Array(original.body);
    changed[3] = (changed[3] ?? 0) ^ 0x01;
    await store.put(key, changed); // same size, one bit different: what silent corruption looks like
    const skipped: Array<{ step: number; reason: string }> = [];
    const loaded = await ckpt.loadLatest({ onSkip: (s) => skipped.push(s) });
    expect(loaded?.manifest.step).toBe(1);
    expect(skipped).toEqual([
      { step: 2, reason: expect.stringMatching(/checkpoint 2: blob .* does not match its hash/) },
    ]);
    expect(
      logger.lines.some((l) => l.level === 'error' && /does not match its hash/.test(String(l.fields.error))),
    ).toBe(true);
    await expect(ckpt.load(2)).rejects.toThrow(/missing|does not match/);
    // The corrupt blob was removed, so saving the same tensors again heals the run.
    await ckpt.save({ step: 3, generation: 0, tensors: makeTensors(11), ...common });
    expect((await ckpt.loadLatest())?.manifest.step).toBe(3);
  });

  it('retention keeps the newest 3 plus a pinned one, deletes unreferenced blobs, and all kept ones load', {
    timeout: 90_000,
  }, async () => {
    const ckpt = await CheckpointStore.create({ store, runId: uniqueRunId('keep') });
    for (let step = 1; step <= 10; step += 1)
      await ckpt.save({ step, generation: 0, tensors: makeTensors(100 + step), ...common });
    const result = await ckpt.retain({ keep: 3, pinned: [2], blobGraceMs: 0 });
    expect(result.kept).toEqual([2, 8, 9, 10]);
    expect(result.deleted).toEqual([1, 3, 4, 5, 6, 7]);
    expect((await ckpt.list()).map((s) => s.step)).toEqual([2, 8, 9, 10]);
    for (const step of [2, 8, 9, 10]) {
      const loaded = await ckpt.load(step);
      const w = makeTensors(100 + step).get('layer/w')?.data;
      expect(w && sameBits(loaded.tensors.get('layer/w')?.data ?? new Float32Array(), w)).toBe(true);
    }
    // 3 distinct blobs per checkpoint, none shared: exactly the 4 kept checkpoints' blobs remain.
    expect(await store.list(`runs/${ckpt.runId}/blobs/sha256/`)).toHaveLength(12);
    expect((await ckpt.latest())?.step).toBe(10);
  });

  it('never moves LATEST backwards when two writers race', async () => {
    const runId = uniqueRunId('race');
    const storeA = await backend.open();
    const storeB = await backend.open();
    try {
      const a = await CheckpointStore.create({ store: storeA, runId });
      const b = await CheckpointStore.create({ store: storeB, runId });
      const reader = await CheckpointStore.create({ store, runId });
      const seen: number[] = [];
      const rawSeen: number[] = [];
      let done = false;
      const poll = (async () => {
        while (!done) {
          const raw = await reader.latest();
          if (raw) rawSeen.push(raw.step);
          const loaded = await reader.loadLatest();
          if (loaded) seen.push(loaded.manifest.step);
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      const polled = poll.then(
        () => undefined,
        (error: unknown) => error,
      );
      const tensors = makeTensors(7, 8);
      const saveAll = async (who: CheckpointStore, steps: number[]) => {
        for (const step of steps) await who.save({ step, generation: 0, tensors, ...common });
      };
      // A saves the even steps upwards, B the odd ones; B also tries stale steps after newer ones.
      await Promise.all([saveAll(a, [2, 4, 6, 8]), saveAll(b, [1, 3, 5, 7, 3, 1])]);
      done = true;
      expect(await polled).toBeUndefined();
      expect((await reader.latest())?.step).toBe(8);
      expect((await reader.loadLatest())?.manifest.step).toBe(8);
      for (let i = 1; i < seen.length; i += 1) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
      if (await store.conditionalWrites())
        for (let i = 1; i < rawSeen.length; i += 1) expect(rawSeen[i]).toBeGreaterThanOrEqual(rawSeen[i - 1] as number);
      // A stale save after the race does not move it back either.
      await a.save({ step: 4, generation: 1, tensors, ...common });
      expect((await reader.latest())?.step).toBe(8);
    } finally {
      await storeA.close();
      await storeB.close();
    }
  }, 90_000);
});
