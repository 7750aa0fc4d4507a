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

/**
 * The trained teachers a worker has read, by stage run id: a student slot of the same run (a
 * restarted generation, another seat) reuses the parameters after one small read that confirms the
 * teacher's LATEST pointer still names the same manifest.
 */
export class TeacherCache {
  private readonly entries = new Map<string, { pointer: string; params: Map<string, Float32Array> }>();

  constructor(private readonly capacity = 2) {}

  async load(checkpoints: CheckpointStore): Promise<Map<string, Float32Array> | undefined> {
    const latest = await checkpoints.latest();
    const pointer = latest ? `${latest.step}:${latest.manifestSha256}` : undefined;
    const hit = pointer ? this.entries.get(checkpoints.runId) : undefined;
    if (hit && hit.pointer === pointer) return hit.params;
    const loaded = await checkpoints.loadLatest();
    if (!loaded) return undefined;
    const params = tensorsToSnapshot(loaded.tensors, loaded.manifest.step).params;
    // Cache only what LATEST names (a fallback to an older checkpoint is re-read next time).
    if (pointer && latest?.step === loaded.manifest.step) {
      this.entries.delete(checkpoints.runId);
      this.entries.set(checkpoints.runId, { pointer, params });
      while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    }
    return params;
  }
}
