import { describe, expect, it } from 'vitest';
import { gatherBatch } from './batch.js';
import { generatePhantoms } from './phantom.js';
import { Sampler, type ShardAssignment } from './sampler.js';

const dataset = generatePhantoms({ imageSize: 28, trainPerRegion: 40, valPerRegion: 0, testPerRegion: 8, seed: 3 });
const R = dataset.regions.length;

/** A plan like the runtime's: W < R packs regions onto slots; W > R replicates regions. */
function plan(workers: number): ShardAssignment[] {
  if (workers <= R) {
    return Array.from({ length: workers }, (_, w) => ({
      regions: Array.from({ length: R }, (_, r) => r).filter((r) => r % workers === w),
      replica: 0,
      replicas: 1,
    }));
  }
  const out: ShardAssignment[] = [];
  for (let w = 0; w < workers; w++) {
    const r = w % R;
    const replicas = Math.floor(workers / R) + (r < workers % R ? 1 : 0);
    out.push({ regions: [r], replica: Math.floor(w / R), replicas });
  }
  return out;
}

function multiset(a: ArrayLike<number>): number[] {
  return Array.from(a).sort((x, y) => x - y);
}

describe('Sampler', () => {
  const sampler = Sampler.forDataset(dataset, { seed: 11, batchPerRegion: [6, 5, 4, 6, 3, 2, 7] });

  it('draws each region from its own samples, covering an epoch without repeats', () => {
    for (let r = 0; r < R; r++) {
      const b = sampler.batchSizes[r] ?? 1;
      const seen: number[] = [];
      for (let s = 0; s * b < 40 - (40 % b); s++) seen.push(...sampler.regionBatch(s, r));
      expect(new Set(seen).size).toBe(seen.length);
      for (const i of seen) expect(dataset.train.regions[i]).toBe(r);
    }
  });

  it('gives the same global batch for 1, 2, 3, 7 and 10 workers', () => {
    for (let step = 0; step < 12; step++) {
      const global = sampler.globalBatch(step);
      for (const w of [1, 2, 3, 7, 10]) {
        const parts = plan(w).map((a) => sampler.shardFor(step, a));
        expect(multiset(parts.flatMap((p) => Array.from(p)))).toEqual(multiset(global));
      }
    }
  });

  it('is a pure function of (seed, step, dataset hash, batch sizes): a fresh sampler resumes from a cursor', () => {
    const full = Array.from({ length: 20 }, (_, s) => Array.from(sampler.globalBatch(s)));
    const resumed = Sampler.forDataset(dataset, { seed: 11, batchPerRegion: [6, 5, 4, 6, 3, 2, 7] });
    for (let s = 13; s < 20; s++) expect(Array.from(resumed.globalBatch(s))).toEqual(full[s]);
    const otherSeed = Sampler.forDataset(dataset, { seed: 12, batchPerRegion: [6, 5, 4, 6, 3, 2, 7] });
    expect(Array.from(otherSeed.globalBatch(0))).not.toEqual(full[0]);
    const otherData = generatePhantoms({
      imageSize: 28,
      trainPerRegion: 40,
      valPerRegion: 0,
      testPerRegion: 8,
      seed: 4,
    });
    const s3 = Sampler.forDataset(otherData, { seed: 11, batchPerRegion: [6, 5, 4, 6, 3, 2, 7] });
    expect(Array.from(s3.globalBatch(0))).not.toEqual(full[0]);
  });

  it('rejects bad assignments with a clear error', () => {
    expect(() => sampler.shardFor(0, { regions: [9], replica: 0, replicas: 1 })).toThrow(/region 9/);
    expect(() => sampler.shardFor(0, { regions: [0], replica: 2, replicas: 2 })).toThrow(/replica 2 of 2/);
    expect(() => sampler.globalBatch(-1)).toThrow(/non-negative/);
  });
});

describe('gatherBatch', () => {
  it('copies samples and augments reproducibly per (seed, step, sample)', () => {
    const idx = [3, 50, 120];
    const plain = gatherBatch(dataset, idx);
    expect(plain.n).toBe(3);
    expect(plain.x.length).toBe(3 * 28 * 28);
    expect(Array.from(plain.labels)).toEqual(idx.map((i) => dataset.train.labels[i]));
    expect(Array.from(plain.regions)).toEqual(idx.map((i) => dataset.train.regions[i]));
    expect(plain.x.subarray(28 * 28, 2 * 28 * 28)).toEqual(dataset.train.images.subarray(50 * 784, 51 * 784));
    const a = gatherBatch(dataset, idx, { augment: { seed: 1, step: 5, options: { flip: true } } });
    const b = gatherBatch(dataset, [120, 3], { augment: { seed: 1, step: 5, options: { flip: true } } });
    const c = gatherBatch(dataset, idx, { augment: { seed: 1, step: 6, options: { flip: true } } });
    expect(a.x).not.toEqual(plain.x);
    // Same (seed, step, sample) → same augmentation, whatever the batch around it.
    expect(b.x.subarray(784, 2 * 784)).toEqual(a.x.subarray(0, 784));
    expect(c.x).not.toEqual(a.x);
    expect(a.x.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(() => gatherBatch(dataset, [dataset.train.n])).toThrow(/outside the train split/);
  });
});
