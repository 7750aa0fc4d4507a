import type { RunRecord } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { chooseSpareTarget, HotSpare, type SpareTarget } from './hot-spare.js';

const run = (id: string, state: RunRecord['state'], createdAt: string) => ({ id, state, createdAt }) as RunRecord;
const runs = [
  run('old-training', { phase: 'training', generation: 0, step: 3, totalSteps: 9 }, '2026-11-29T00:00:00Z'),
  run('new-teacher', { phase: 'teacher', step: 1, totalSteps: 5 }, '2026-11-29T00:05:00Z'),
  run('done', { phase: 'done', reportUrl: 'x' }, '2026-11-29T00:09:00Z'),
  run(
    'restarting',
    { phase: 'restarting', generation: 1, cause: 'crashed', reason: 'x', fromStep: 2 },
    '2026-11-29T00:08:00Z',
  ),
];

describe('hot spare', () => {
  it('chooses the newest teacher or student stage in progress that it has not prepared', () => {
    expect(chooseSpareTarget(runs, new Set())).toMatchObject({ key: 'new-teacher:teacher', stage: 'teacher' });
    expect(chooseSpareTarget(runs, new Set(['new-teacher:teacher']))).toMatchObject({
      key: 'old-training:student',
      stage: 'student',
    });
    expect(chooseSpareTarget(runs, new Set(['new-teacher:teacher', 'old-training:student']))).toBeUndefined();
  });

  it('prepares each target once, only while idle, and survives a failed preparation', async () => {
    let idle = false;
    const prepared: string[] = [];
    const spare = new HotSpare({
      listRuns: async () => runs,
      idle: () => idle,
      prepare: async (t: SpareTarget) => {
        prepared.push(t.key);
        if (t.stage === 'teacher') throw new Error('teacher checkpoint unreadable');
      },
    });
    expect(await spare.tick()).toBeUndefined(); // busy: nothing
    idle = true;
    expect((await spare.tick())?.key).toBe('new-teacher:teacher'); // failed, logged, not retried
    expect((await spare.tick())?.key).toBe('old-training:student');
    expect(await spare.tick()).toBeUndefined();
    expect(prepared).toEqual(['new-teacher:teacher', 'old-training:student']);
    await spare.stop();
  });

  it('follows the stage it prepared (e.g. its new checkpoints) while that stage runs', async () => {
    let list = [runs[0] as RunRecord];
    const followed: string[] = [];
    const spare = new HotSpare({
      listRuns: async () => list,
      idle: () => true,
      prepare: async () => {},
      follow: async (t) => {
        followed.push(t.key);
      },
    });
    await spare.tick(); // prepares old-training:student
    await spare.tick();
    await spare.tick();
    expect(followed).toEqual(['old-training:student', 'old-training:student']);
    list = [run('old-training', { phase: 'exporting' }, '2026-11-29T00:00:00Z')];
    await spare.tick(); // the stage ended: nothing to follow
    expect(followed).toHaveLength(2);
    await spare.stop();
  });
});
