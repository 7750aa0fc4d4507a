import { ValidationError } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { groupRanks, planSlots, slotRegions, splitEven } from './planner.js';

describe('splitEven', () => {
  it('splits into contiguous chunks differing by at most one, larger first', () => {
    expect(splitEven(7, 3)).toEqual([
      [0, 3],
      [3, 5],
      [5, 7],
    ]);
    expect(splitEven(2, 2)).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });
});

describe('planSlots', () => {
  it('fewer slots than regions: each slot hosts a block of regions, whole batches', () => {
    const plan = planSlots({ regions: ['a', 'b', 'c', 'd', 'e'], workers: 2, batchPerRegion: 4 });
    expect(plan.worldSize).toBe(2);
    expect(slotRegions(plan, 0)).toEqual(['a', 'b', 'c']);
    expect(slotRegions(plan, 1)).toEqual(['d', 'e']);
    expect(plan.slots[1]?.shares[0]).toEqual({ region: 'd', replica: 0, replicas: 1, from: 0, to: 4 });
    expect(plan.groups.shared).toEqual([0, 1]);
    expect(plan.groups['expert:a']).toEqual([0]);
    // rank 0 keeps every expert so it can checkpoint alone
    expect(plan.groups['expert:e']).toEqual([0, 1]);
  });

  it('more slots than regions: replicas split the region batch', () => {
    const plan = planSlots({ regions: ['a', 'b'], workers: 3, batchPerRegion: 4 });
    expect(plan.slots.map((s) => s.shares)).toEqual([
      [{ region: 'a', replica: 0, replicas: 2, from: 0, to: 2 }],
      [{ region: 'a', replica: 1, replicas: 2, from: 2, to: 4 }],
      [{ region: 'b', replica: 0, replicas: 1, from: 0, to: 4 }],
    ]);
    expect(plan.groups['expert:a']).toEqual([0, 1]);
    expect(plan.groups['expert:b']).toEqual([0, 2]);
    expect(groupRanks(plan, 'shared')).toEqual([0, 1, 2]);
  });

  it('every sample of every region is computed by exactly one slot', () => {
    for (const workers of [1, 2, 3, 4, 7, 9, 20]) {
      const regions = ['a', 'b', 'c', 'd'];
      const plan = planSlots({ regions, workers, batchPerRegion: 3 });
      for (const region of regions) {
        const covered = plan.slots
          .flatMap((s) => s.shares)
          .filter((s) => s.region === region)
          .flatMap((s) => Array.from({ length: s.to - s.from }, (_, i) => s.from + i));
        expect(covered).toEqual([0, 1, 2]);
      }
    }
  });

  it('caps the slots at regions × batchPerRegion and says so', () => {
    const plan = planSlots({ regions: ['a'], workers: 5, batchPerRegion: 2 });
    expect(plan.worldSize).toBe(2);
    expect(plan.notes[0]).toMatch(/using 2/);
  });

  it('rejects bad input naming the field', () => {
    expect(() => planSlots({ regions: [], workers: 0, batchPerRegion: 1 })).toThrow(ValidationError);
    expect(() => planSlots({ regions: ['a', 'a'], workers: 1, batchPerRegion: 1 })).toThrow(/unique/);
  });
});
