import type { FailureCause, RunState } from '@lorkd/contracts';

/** What the run's training stage is: the teacher (when the spec trains one) or the student. */
export type Stage = 'teacher' | 'student';

/** Everything that can happen to a run; the coordinator feeds these to `transition`. */
export type RunMachineEvent =
  | { readonly type: 'start'; readonly stage: Stage; readonly generation: number; readonly totalSteps: number }
  | { readonly type: 'progress'; readonly step: number }
  | {
      readonly type: 'generation-started';
      readonly stage: Stage;
      readonly generation: number;
      readonly step: number;
      readonly totalSteps: number;
    }
  | {
      readonly type: 'generation-lost';
      readonly generation: number;
      readonly cause: FailureCause;
      readonly reason: string;
      readonly fromStep: number;
    }
  | { readonly type: 'teacher-done'; readonly generation: number; readonly totalSteps: number }
  | { readonly type: 'slots-done' }
  | { readonly type: 'exported'; readonly reportUrl: string }
  | { readonly type: 'fail'; readonly cause: FailureCause; readonly reason: string }
  | { readonly type: 'cancel'; readonly reason?: string }
  | { readonly type: 'resume'; readonly generation: number; readonly fromStep: number };

export type Transition =
  | { readonly ok: true; readonly state: RunState }
  | { readonly ok: false; readonly reason: string };

const refuse = (state: RunState, event: RunMachineEvent): Transition => ({
  ok: false,
  reason: `a run in phase '${state.phase}' cannot take '${event.type}'`,
});

export function isTerminal(state: RunState): boolean {
  return state.phase === 'done' || state.phase === 'failed' || state.phase === 'cancelled';
}

/**
 * The run state machine, pure: pending → teacher → training → exporting → done, with restarting
 * (a generation was lost and is being restarted from a checkpoint), failed and cancelled.
 */
export function transition(state: RunState, event: RunMachineEvent): Transition {
  switch (event.type) {
    case 'cancel':
      if (isTerminal(state)) return refuse(state, event);
      return { ok: true, state: { phase: 'cancelled', ...(event.reason ? { reason: event.reason } : {}) } };
    case 'fail':
      if (isTerminal(state)) return refuse(state, event);
      return { ok: true, state: { phase: 'failed', cause: event.cause, reason: event.reason } };
    case 'start':
      if (state.phase !== 'pending') return refuse(state, event);
      return { ok: true, state: stageState(event.stage, event.generation, 0, event.totalSteps) };
    case 'progress':
      if (state.phase === 'teacher' || state.phase === 'training') {
        if (event.step < state.step) return { ok: true, state };
        return { ok: true, state: { ...state, step: Math.min(event.step, state.totalSteps) } };
      }
      return refuse(state, event);
    case 'generation-lost':
      if (state.phase !== 'teacher' && state.phase !== 'training' && state.phase !== 'restarting')
        return refuse(state, event);
      return {
        ok: true,
        state: {
          phase: 'restarting',
          generation: event.generation,
          cause: event.cause,
          reason: event.reason,
          fromStep: event.fromStep,
        },
      };
    case 'generation-started':
      if (state.phase !== 'restarting' && state.phase !== 'teacher' && state.phase !== 'pending')
        return refuse(state, event);
      return { ok: true, state: stageState(event.stage, event.generation, event.step, event.totalSteps) };
    case 'teacher-done':
      if (state.phase !== 'teacher') return refuse(state, event);
      return { ok: true, state: stageState('student', event.generation, 0, event.totalSteps) };
    case 'slots-done':
      if (state.phase !== 'training') return refuse(state, event);
      return { ok: true, state: { phase: 'exporting' } };
    case 'exported':
      if (state.phase !== 'exporting') return refuse(state, event);
      return { ok: true, state: { phase: 'done', reportUrl: event.reportUrl } };
    case 'resume':
      if (state.phase === 'done') return refuse(state, event);
      return {
        ok: true,
        state: {
          phase: 'restarting',
          generation: event.generation,
          cause: 'preempted',
          reason: 'resumed by request',
          fromStep: event.fromStep,
        },
      };
  }
}

function stageState(stage: Stage, generation: number, step: number, totalSteps: number): RunState {
  return stage === 'teacher'
    ? { phase: 'teacher', step, totalSteps }
    : { phase: 'training', generation, step, totalSteps };
}
