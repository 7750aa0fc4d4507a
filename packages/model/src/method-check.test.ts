import { selectBackend } from '@lorkd/compute';
import { describe, expect, it } from 'vitest';
import { makeConflictingData, runMethodCheck } from './method-check.js';
import { Rng } from './rng.js';

describe('method check', () => {
  it('makes data whose regions disagree about the same images', () => {
    const d = makeConflictingData({ regions: 4, perRegion: 50, size: 8, seed: 3 });
    expect(d.x).toHaveLength(200 * 64);
    for (let t = 0; t < 4; t++) {
      const labels = Array.from(d.labels).filter((_, i) => d.regions[i] === t);
      const ones = labels.filter((y) => y === 1).length;
      expect(ones).toBeGreaterThan(10);
      expect(ones).toBeLessThan(40);
    }
  });

  it('LoRKD beats the same student without experts (MTL-KD), and the folded experts match it', async () => {
    await selectBackend({ preference: 'wasm' });
    const r = runMethodCheck({
      regions: 4,
      size: 8,
      trainPerRegion: 200,
      testPerRegion: 100,
      studentWidth: 2,
      teacherWidth: 8,
      depth: 1,
      rank: 2,
      alpha: 4,
      teacherSteps: 60,
      studentSteps: 80,
      batchSize: 16,
      lr: 0.03,
      beta: 1,
      temperature: 2,
      seed: 1,
    });
    expect(r.lorkd.meanAccuracy).toBeGreaterThan(r.mtlKd.meanAccuracy + 0.05);
    expect(r.folded.regions.map((x) => x.accuracy)).toEqual(r.lorkd.regions.map((x) => x.accuracy));
    expect(r.foldedMaxAbsDiff).toBeLessThan(1e-4);
    expect(r.params.foldedExpert).toBeLessThan(r.params.lorkdTotal);
    expect(r.params.teacher).toBeGreaterThan(r.params.foldedExpert);
  }, 180_000);

  it('runs on given data with per-region label sets (e.g. phantoms), folded experts matching the student', async () => {
    await selectBackend({ preference: 'wasm' });
    const rng = new Rng(4);
    const classes = [3, 2];
    const make = (n: number) => {
      const regions = Int32Array.from({ length: n }, (_, i) => i % 2);
      return {
        x: rng.uniform(n * 36, 1),
        labels: Int32Array.from(regions, (t) => Math.floor(rng.next() * (classes[t] as number))),
        regions,
      };
    };
    const r = runMethodCheck({
      regions: 0,
      size: 0,
      trainPerRegion: 0,
      testPerRegion: 0,
      studentWidth: 2,
      teacherWidth: 4,
      depth: 1,
      rank: 2,
      alpha: 4,
      teacherSteps: 3,
      studentSteps: 3,
      batchSize: 8,
      lr: 0.01,
      beta: 1,
      temperature: 2,
      seed: 2,
      data: {
        train: make(24),
        test: make(12),
        inputShape: [6, 6, 1],
        regions: [
          { name: 'a', numClasses: 3 },
          { name: 'b', numClasses: 2 },
        ],
      },
    });
    expect(r.lorkd.regions.map((x) => x.name)).toEqual(['a', 'b']);
    expect(r.folded.regions.map((x) => x.accuracy)).toEqual(r.lorkd.regions.map((x) => x.accuracy));
    expect(r.foldedMaxAbsDiff).toBeLessThan(1e-4);
  }, 60_000);
});
