import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointStore, type CheckpointTensor, createObjectStore, type ObjectStore } from '@lorkd/storage';
import { tempDir } from '@lorkd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmLatest, readLatest, TeacherCache, TeacherCheckpointError } from './seat-state.js';

const common = { sampler: { step: 0 }, rng: { seed: 1 }, specHash: 's', datasetHash: 'd' };
const tensors = (v: number) =>
  new Map<string, CheckpointTensor>([['param:w', { dtype: 'float32', shape: [2], data: new Float32Array([v, -v]) }]]);

describe('seat state: early checkpoint read and the teacher cache', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  beforeAll(async () => {
    dir = await tempDir('lorkd-seat-state-');
    store = await createObjectStore(`file://${dir.path}`);
  });
  afterAll(async () => {
    await store.close();
    await dir.remove();
  });

  it('keeps an early read while nothing newer appears, reads again when a newer checkpoint does', async () => {
    const ckpts = await CheckpointStore.create({ store, runId: 'early-1' });
    await ckpts.save({ step: 4, generation: 0, tensors: tensors(4), ...common });
    const early = await readLatest(ckpts);
    expect(early).toMatchObject({ ok: true, loaded: { manifest: { step: 4 } } });
    expect(await confirmLatest(ckpts, early)).toBe(early);

    await ckpts.save({ step: 6, generation: 0, tensors: tensors(6), ...common });
    const again = await confirmLatest(ckpts, early);
    expect(again).toMatchObject({ ok: true, loaded: { manifest: { step: 6 } } });
  });

  it('does not re-read for a newer checkpoint the early read already found unusable', async () => {
    const ckpts = await CheckpointStore.create({ store, runId: 'early-2' });
    await ckpts.save({ step: 2, generation: 0, tensors: tensors(2), ...common });
    await ckpts.save({ step: 4, generation: 0, tensors: tensors(4), ...common });
    await writeFile(join(dir.path, ckpts.manifestKey(4)), '{ not json');
    const early = await readLatest(ckpts);
    expect(early).toMatchObject({ ok: true, loaded: { manifest: { step: 2 } }, skipped: [{ step: 4 }] });
    expect(await confirmLatest(ckpts, early)).toBe(early);
  });

  it('reads again when the early read failed', async () => {
    const ckpts = await CheckpointStore.create({ store, runId: 'early-3' });
    const failed = { ok: false as const, error: new Error('ECONNREFUSED') };
    expect(await confirmLatest(ckpts, failed)).toMatchObject({ ok: true, loaded: undefined, skipped: [] });
  });

  it('reuses a teacher while its LATEST names the same manifest', async () => {
    const ckpts = await CheckpointStore.create({ store, runId: 'teacher-1' });
    const cache = new TeacherCache();
    expect(await cache.load(ckpts, 2)).toBeUndefined();
    await ckpts.save({ step: 2, generation: 0, tensors: tensors(2), ...common });
    const first = await cache.load(ckpts, 2);
    expect(first?.get('w')).toEqual(new Float32Array([2, -2]));
    expect(await cache.load(ckpts, 2)).toBe(first); // the same Map: not read again
    await ckpts.save({ step: 2, generation: 1, tensors: tensors(5), ...common }); // rewritten
    const second = await cache.load(ckpts, 2);
    expect(second).not.toBe(first);
    expect(second?.get('w')).toEqual(new Float32Array([5, -5]));
  });

  it('refuses an older teacher when the final teacher checkpoint does not verify', async () => {
    const ckpts = await CheckpointStore.create({ store, runId: 'teacher-2' });
    await ckpts.save({ step: 2, generation: 0, tensors: tensors(2), ...common });
    await ckpts.save({ step: 3, generation: 0, tensors: tensors(3), ...common });
    await writeFile(join(dir.path, ckpts.manifestKey(3)), '{ not json');
    const err = await new TeacherCache().load(ckpts, 3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeacherCheckpointError);
    expect((err as Error).message).toMatch(
      /the trained teacher \(teacher-2, step 3\) cannot be read \(checkpoint 3: .*invalid manifest\); the newest usable teacher checkpoint is step 2/,
    );
  });
});
