import type { RunState } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { type RunMachineEvent, transition } from './run-machine.js';

function run(state: RunState, ...events: RunMachineEvent[]): RunState {
  let s = state;
  for (const e of events) {
    const t = transition(s, e);
    if (!t.ok) throw new Error(t.reason);
    s = t.state;
  }
  return s;
}

describe('run state machine', () => {
  it('walks the happy path with a teacher stage', () => {
    const end = run(
      { phase: 'pending' },
      { type: 'start', stage: 'teacher', generation: 0, totalSteps: 5 },
      { type: 'progress', step: 3 },
      { type: 'teacher-done', generation: 1, totalSteps: 10 },
      { type: 'progress', step: 10 },
      { type: 'slots-done' },
      { type: 'exported', reportUrl: 's3://b/runs/x/report/report.json' },
    );
    expect(end).toEqual({ phase: 'done', reportUrl: 's3://b/runs/x/report/report.json' });
  });

  it('restarts a lost generation and goes back to training from the checkpoint step', () => {
    const s = run(
      { phase: 'pending' },
      { type: 'start', stage: 'student', generation: 0, totalSteps: 10 },
      { type: 'progress', step: 6 },
      { type: 'generation-lost', generation: 1, cause: 'crashed', reason: 'slot 2 lost', fromStep: 4 },
    );
    expect(s).toMatchObject({ phase: 'restarting', generation: 1, fromStep: 4 });
    expect(run(s, { type: 'generation-started', stage: 'student', generation: 1, step: 4, totalSteps: 10 })).toEqual({
      phase: 'training',
      generation: 1,
      step: 4,
      totalSteps: 10,
    });
  });

  it('ignores stale progress and clamps to the total', () => {
    const s = run({ phase: 'training', generation: 0, step: 5, totalSteps: 8 }, { type: 'progress', step: 2 });
    expect(s).toMatchObject({ step: 5 });
    expect(run(s, { type: 'progress', step: 99 })).toMatchObject({ step: 8 });
  });

  it('refuses transitions out of terminal phases and impossible jumps', () => {
    const done: RunState = { phase: 'done', reportUrl: 'x' };
    expect(transition(done, { type: 'cancel' }).ok).toBe(false);
    expect(transition(done, { type: 'fail', cause: 'bug', reason: 'x' }).ok).toBe(false);
    expect(transition(done, { type: 'resume', generation: 1, fromStep: 0 }).ok).toBe(false);
    const t = transition({ phase: 'pending' }, { type: 'slots-done' });
    expect(t).toEqual({ ok: false, reason: "a run in phase 'pending' cannot take 'slots-done'" });
  });

  it('cancels and fails from any live phase; a failed run can be resumed', () => {
    expect(run({ phase: 'exporting' }, { type: 'cancel', reason: 'user' })).toEqual({
      phase: 'cancelled',
      reason: 'user',
    });
    const failed = run({ phase: 'pending' }, { type: 'fail', cause: 'bad-input', reason: 'no dataset' });
    expect(failed).toEqual({ phase: 'failed', cause: 'bad-input', reason: 'no dataset' });
    expect(run(failed, { type: 'resume', generation: 3, fromStep: 7 })).toMatchObject({
      phase: 'restarting',
      generation: 3,
      fromStep: 7,
    });
  });
});
