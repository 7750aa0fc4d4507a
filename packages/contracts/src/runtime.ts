import { type FailureCause, FailureCauseSchema } from './run.js';

/**
 * Conventions shared by the coordinator and the workers (apps/coordinator, apps/worker).
 *
 * A run trains up to two stages, each a flow of slot jobs with its own generations and checkpoints:
 * the teacher (when `teacher.kind === 'train'`: a run of the same runtime with no experts) under the
 * job run id `<RUN>.teacher`, then the LoRKD student under `<RUN>`.
 */
export type RunStage = 'teacher' | 'student';

const TEACHER_SUFFIX = '.teacher';

/** The job/checkpoint run id of a stage of run `runId`. */
export function stageRunId(runId: string, stage: RunStage): string {
  return stage === 'teacher' ? `${runId}${TEACHER_SUFFIX}` : runId;
}

/** The run and stage a job/checkpoint run id belongs to. */
export function parseStageRunId(jobRunId: string): { runId: string; stage: RunStage } {
  return jobRunId.endsWith(TEACHER_SUFFIX)
    ? { runId: jobRunId.slice(0, -TEACHER_SUFFIX.length), stage: 'teacher' }
    : { runId: jobRunId, stage: 'student' };
}

/** A failure message tagged with its cause, as a worker fails a slot job: `[bad-input] region 'x': …`. */
export function tagFailure(cause: FailureCause, message: string): string {
  return `[${cause}] ${message}`;
}

/** The cause and message of a tagged failure; untagged messages count as `crashed`. */
export function parseTaggedFailure(text: string): { cause: FailureCause; reason: string } {
  const m = /^\[([a-z-]+)\] ([\s\S]*)$/.exec(text);
  const cause = m ? FailureCauseSchema.safeParse(m[1]) : undefined;
  if (m && cause?.success) return { cause: cause.data, reason: m[2] ?? '' };
  return { cause: 'crashed', reason: text };
}
