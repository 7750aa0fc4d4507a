import type { RegionProgress } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { progressBackTo } from './run-driver.js';

describe('progressBackTo', () => {
  it('moves every region back to the step a new generation resumes from, keeping the rest', () => {
    const at = (step: number): RegionProgress => ({ region: 'brain', step, totalSteps: 30, loss: 1.5 });
    const moved = progressBackTo({ brain: at(7), pelvis: { ...at(3), region: 'pelvis' } }, 5);
    // the lost generation reached step 7; steps 6 and 7 are redone, so 'restarting' must not be lifted by them
    expect(moved).toEqual({ brain: at(5), pelvis: { ...at(3), region: 'pelvis' } });
    expect(progressBackTo({}, 5)).toEqual({});
  });
});
