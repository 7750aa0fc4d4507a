import { describe, expect, it } from 'vitest';
import { generatePhantoms } from './phantom.js';

describe('generatePhantoms', () => {
  const opts = { imageSize: 28, trainPerRegion: 24, valPerRegion: 8, testPerRegion: 12, seed: 5 } as const;
  const d = generatePhantoms(opts);

  it('makes 7 regions with 3-6 finding classes, [0,1] images and exact masks', () => {
    expect(d.regions.map((r) => r.name)).toEqual([
      'brain',
      'head-neck',
      'thorax',
      'abdomen',
      'pelvis',
      'spine',
      'limbs',
    ]);
    for (const r of d.regions) expect(r.labels.length >= 3 && r.labels.length <= 6).toBe(true);
    expect(d.imageShape).toEqual([28, 28, 1]);
    expect(d.train.n).toBe(7 * 24);
    expect(d.val.n).toBe(7 * 8);
    expect(d.test.n).toBe(7 * 12);
    expect(d.train.images.length).toBe(d.train.n * 784);
    let lesionPixels = 0;
    let lo = 1;
    let hi = 0;
    for (const v of d.train.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi - lo).toBeGreaterThan(0.5);
    for (const m of d.train.masks ?? []) lesionPixels += m;
    expect(lesionPixels).toBeGreaterThan(d.train.n * 2);
    for (let i = 0; i < d.train.n; i++) {
      const r = d.train.regions[i] ?? -1;
      expect(d.train.labels[i]).toBeLessThan(d.regions[r]?.labels.length ?? 0);
    }
  });

  it('is deterministic by seed and splits by subject', () => {
    const again = generatePhantoms(opts);
    expect(again.hash).toBe(d.hash);
    expect(again.train.images).toEqual(d.train.images);
    expect(generatePhantoms({ ...opts, seed: 6 }).hash).not.toBe(d.hash);
    expect(generatePhantoms({ ...opts, conflict: 0.1 }).hash).not.toBe(d.hash);
    const key = (s: typeof d.train, i: number) => `${s.regions[i]}:${s.subjects?.[i]}`;
    const train = new Set(Array.from({ length: d.train.n }, (_, i) => key(d.train, i)));
    for (const s of [d.val, d.test]) for (let i = 0; i < s.n; i++) expect(train.has(key(s, i))).toBe(false);
  });

  it('draws a region independently of the others and rejects unknown anatomies', () => {
    const thorax = generatePhantoms({ ...opts, regions: ['thorax'] });
    const px = 784;
    const i0 = d.train.regions.indexOf(2);
    expect(thorax.train.images.subarray(0, 24 * px)).toEqual(d.train.images.subarray(i0 * px, (i0 + 24) * px));
    expect(() => generatePhantoms({ regions: ['elbow'] })).toThrow(/unknown phantom anatomy 'elbow'/);
    expect(() => generatePhantoms({ conflict: 2 } as never)).toThrow(/conflict/);
  });
});
