import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, makeTensors, sameBits, startBackend, uniqueRunId } from '../test/helpers.js';
import { BlobCache } from './blob-cache.js';
import { CheckpointStore, sha256Hex } from './checkpoint-store.js';
import type { ObjectStore } from './object-store.js';

const common = { sampler: { step: 0 }, rng: { seed: 1 }, specHash: 's', datasetHash: 'd' };

describe('BlobCache', () => {
  it('evicts the least recently used entries beyond its byte budget', () => {
    const cache = new BlobCache(10);
    const a = new Uint8Array([1, 2, 3, 4]);
    const b = new Uint8Array([5, 6, 7, 8]);
    cache.put(sha256Hex(a), a);
    cache.put(sha256Hex(b), b);
    expect(cache.readInto(sha256Hex(a), new Uint8Array(4))).toBe(true); // a is now the newest
    cache.put('c', new Uint8Array(4));
    expect(cache.has(sha256Hex(a))).toBe(true);
    expect(cache.has(sha256Hex(b))).toBe(false);
    expect(cache.stats.bytes).toBe(8);
    cache.put('huge', new Uint8Array(11)); // larger than the budget: not kept
    expect(cache.has('huge')).toBe(false);
    expect(cache.readInto(sha256Hex(a), new Uint8Array(3))).toBe(false); // another size is a miss
  });
});

describe('CheckpointStore with a blob cache (s3)', () => {
  let backend: Backend;
  let store: ObjectStore;
  beforeAll(async () => {
    backend = await startBackend('s3');
    store = await backend.open();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.stop();
  });

  const dropBlobs = async (runId: string) => {
    for (const o of await store.list(`runs/${runId}/blobs/`)) await store.delete(o.key);
  };

  it('loads what it saved without downloading it (the blobs are gone from storage)', async () => {
    const runId = uniqueRunId('cache-save');
    const cache = new BlobCache();
    const writer = await CheckpointStore.create({ store, runId, blobCache: cache });
    const tensors = makeTensors(3);
    await writer.save({ step: 2, generation: 0, tensors, ...common });
    await dropBlobs(runId);
    const reader = await CheckpointStore.create({ store, runId, blobCache: cache });
    const loaded = await reader.loadLatest();
    for (const [name, t] of tensors)
      expect(sameBits(loaded?.tensors.get(name)?.data ?? new Float32Array(), t.data)).toBe(true);
    expect(cache.stats.hits).toBe(tensors.size);
    // without the cache the same checkpoint no longer verifies
    expect(await (await CheckpointStore.create({ store, runId })).loadLatest()).toBeUndefined();
  });

  it('uses tensors a process remembered (same bytes, computed elsewhere) and downloads only the rest', async () => {
    const runId = uniqueRunId('cache-remember');
    const writer = await CheckpointStore.create({ store, runId });
    const tensors = makeTensors(4);
    await writer.save({ step: 3, generation: 0, tensors, ...common });
    const cache = new BlobCache();
    const reader = await CheckpointStore.create({ store, runId, blobCache: cache });
    const mine = new Map([...tensors].filter(([name]) => name !== 'opt/step'));
    mine.set('stale/other', { dtype: 'float32', shape: [1], data: new Float32Array([42]) });
    reader.remember(mine);
    const loaded = await reader.loadLatest();
    expect(loaded?.manifest.step).toBe(3);
    for (const [name, t] of tensors)
      expect(sameBits(loaded?.tensors.get(name)?.data ?? new Float32Array(), t.data)).toBe(true);
    expect(cache.stats).toMatchObject({ hits: 2, misses: 1 });
    // the downloaded one is cached too, after verification
    const ints = tensors.get('opt/step')?.data as Int32Array;
    expect(cache.has(sha256Hex(new Uint8Array(ints.buffer)))).toBe(true);
  });
});
