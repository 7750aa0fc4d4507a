import type { RunSpec, RunStage } from '@lorkd/contracts';
import type { CheckpointStore, LoadedCheckpoint } from '@lorkd/storage';
import { tensorsToSnapshot } from './checkpoint-codec.js';

/** Whether a stage's engine needs the run's trained teacher (the student stage of a run that trains one, with KD). */
export function needsTrainedTeacher(spec: RunSpec, stage: RunStage): boolean {
  return stage === 'student' && spec.teacher.kind === 'train' && spec.training.kd.beta > 0;
}

/** A checkpoint fallback: a step whose checkpoint did not verify, and why. */
export interface SkippedCheckpoint {
  readonly step: number;
  readonly reason: string;
}

/** The outcome of reading a stage's newest verified checkpoint (never rejects: errors are carried). */
export type LatestRead =
  | { readonly ok: true; readonly loaded: LoadedCheckpoint | undefined; readonly skipped: readonly SkippedCheckpoint[] }
  | { readonly ok: false; readonly error: unknown };

/** Starts reading the newest verified checkpoint; the promise always resolves. */
export function readLatest(checkpoints: CheckpointStore): Promise<LatestRead> {
  const skipped: SkippedCheckpoint[] = [];
  return checkpoints.loadLatest({ onSkip: (s) => skipped.push(s) }).then(
    (loaded): LatestRead => ({ ok: true, loaded, skipped }),
    (error: unknown): LatestRead => ({ ok: false, error }),
  );
}

/**
 * A checkpoint read before the generation's rendezvous (overlapping the teacher, the engine and the
 * wait for the other slots) is used only if no newer manifest appeared since, other than ones it
 * found unusable: then every slot resumes from what a read after the rendezvous would give. One
 * listing; otherwise the checkpoint is read again.
 */
export async function confirmLatest(checkpoints: CheckpointStore, early: LatestRead): Promise<LatestRead> {
  if (!early.ok) return readLatest(checkpoints);
  const used = early.loaded?.manifest.step ?? -1;
  const rejected = new Set(early.skipped.map((s) => s.step));
  const newer = (await checkpoints.list()).some((c) => c.step > used && !rejected.has(c.step));
  return newer ? readLatest(checkpoints) : early;
}

/** The trained teacher's final checkpoint is missing or does not verify (an older one would distil a different teacher). */
export class TeacherCheckpointError extends Error {
  readonly code = 'E_TEACHER_CHECKPOINT';
  constructor(message: string) {
    super(message);
    this.name = 'TeacherCheckpointError';
  }
}

/**
 * Reads the trained teacher: its checkpoint at the teacher stage's last step, and nothing older —
 * distilling from an earlier teacher checkpoint would silently train against another teacher.
 */
export async function loadTrainedTeacher(
  checkpoints: CheckpointStore,
  finalStep: number,
): Promise<{ params: Map<string, Float32Array>; loaded: LoadedCheckpoint } | undefined> {
  const skipped: SkippedCheckpoint[] = [];
  const loaded = await checkpoints.loadLatest({ onSkip: (s) => skipped.push(s) });
  if (!loaded && skipped.length === 0) return undefined;
  if (!loaded || loaded.manifest.step !== finalStep) {
    const why = skipped.map((s) => `checkpoint ${s.step}: ${s.reason}`).join('; ');
    throw new TeacherCheckpointError(
      `the trained teacher (${checkpoints.runId}, step ${finalStep}) cannot be read${why ? ` (${why})` : ''}${
        loaded ? `; the newest usable teacher checkpoint is step ${loaded.manifest.step}` : ''
      }: restore it from a backup or train the teacher again in a new run`,
    );
  }
  return { params: tensorsToSnapshot(loaded.tensors, loaded.manifest.step).params, loaded };
}

/**
 * The trained teachers a worker has read, by stage run id: a student slot of the same run (a
 * restarted generation, another seat) reuses the parameters after one small read that confirms the
 * teacher's LATEST pointer still names the same manifest.
 */
export class TeacherCache {
  private readonly entries = new Map<string, { pointer: string; params: Map<string, Float32Array> }>();

  constructor(private readonly capacity = 2) {}

  async load(checkpoints: CheckpointStore, finalStep: number): Promise<Map<string, Float32Array> | undefined> {
    const latest = await checkpoints.latest();
    const pointer = latest ? `${latest.step}:${latest.manifestSha256}` : undefined;
    const hit = pointer ? this.entries.get(checkpoints.runId) : undefined;
    if (hit && hit.pointer === pointer) return hit.params;
    const got = await loadTrainedTeacher(checkpoints, finalStep);
    if (!got) return undefined;
    if (pointer && latest?.step === got.loaded.manifest.step) {
      this.entries.delete(checkpoints.runId);
      this.entries.set(checkpoints.runId, { pointer, params: got.params });
      while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    }
    return got.params;
  }
}
