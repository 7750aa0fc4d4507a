import { createHash } from 'node:crypto';
import {
  type FailureCause,
  type Logger,
  parseStageRunId,
  type RegionProgress,
  type RunRecord,
  stageRunId,
  TERMINAL_PHASES,
  tagFailure,
} from '@lorkd/contracts';
import type { CheckpointStore, ObjectStore } from '@lorkd/storage';
import type { LorkdMetrics } from '@lorkd/telemetry';
import type { SlotEngine } from '../engine/engine.js';
import type { EngineThreadInit } from '../engine/engine-thread-init.js';
import { stageSteps } from '../engine/lorkd-engine.js';
import { type GenerationPort, isGenerationEnd, type RunRecordsPort } from '../ports.js';
import { snapshotToTensors, tensorsToSnapshot } from './checkpoint-codec.js';
import {
  confirmLatest,
  needsTrainedTeacher,
  readLatest,
  type TeacherCache,
  TeacherCheckpointError,
} from './seat-state.js';
import { runSlotLoop, type StepReport } from './slot-loop.js';

/** A slot job's payload (the `lorkd-train` job data of @lorkd/cluster). */
export interface SeatJob {
  readonly runId: string;
  readonly generation: number;
  readonly slot: number;
  readonly worldSize: number;
  readonly regions: ReadonlyArray<{ region: string; replica: number; replicas: number }>;
  readonly groups: ReadonlyArray<{ name: string; ranks: readonly number[] }>;
}

/** What a slot job returns. `preempted`: the slots stopped together (SIGTERM) after a checkpoint. */
export interface SeatResult {
  readonly runId: string;
  readonly slot: number;
  readonly generation: number;
  readonly step: number;
  readonly outcome: 'finished' | 'preempted' | 'superseded' | 'cancelled';
  readonly worker: string;
}

export interface SeatDeps {
  readonly generations: GenerationPort;
  readonly runs: RunRecordsPort;
  openStore(url: string): Promise<ObjectStore>;
  openCheckpoints(store: ObjectStore, jobRunId: string): Promise<CheckpointStore>;
  /** An engine for the seat, and how it was obtained (for the log: fresh thread, warm thread, reused). */
  startEngine(init: EngineThreadInit): Promise<{ engine: SlotEngine; source?: string }>;
  /** The worker's backend (LORKD_BACKEND); the spec's `cluster.backend` when the worker names none. */
  readonly backend?: EngineThreadInit['backend'] | undefined;
  readonly workerId: string;
  readonly logger: Logger;
  /** Aborted when this worker is asked to stop (SIGTERM). */
  readonly stop: AbortSignal;
  /** How long to wait for the other members of a generation to join. */
  readonly joinTimeoutMs?: number;
  /** The worker's Prometheus series (`/metrics`); fed per step, per collective and per checkpoint. */
  readonly metrics?: SlotMetrics;
  /** Trained teachers this worker has read (kept across its slot jobs). */
  readonly teachers: TeacherCache;
}

/** The part of `LorkdMetrics` (@lorkd/telemetry) a slot feeds. */
export type SlotMetrics = Pick<
  LorkdMetrics,
  'observeStep' | 'observeSync' | 'observeCheckpoint' | 'setSamplesPerSecond'
>;

/** A failure with a cause the coordinator's policy understands (see `tagFailure`). */
export class SeatFailure extends Error {
  readonly failure: FailureCause;
  constructor(failure: FailureCause, message: string, options: { cause?: unknown } = {}) {
    super(tagFailure(failure, message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SeatFailure';
    this.failure = failure;
  }
}

const BAD_INPUT_CODES = new Set(['E_BAD_INPUT', 'E_DATASET', 'E_DATA_FORMAT', 'E_VALIDATION', 'E_MODEL']);

function classify(err: unknown): FailureCause {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && BAD_INPUT_CODES.has(code)) return 'bad-input';
  if (typeof code === 'string' && (code.startsWith('E_STORAGE') || code === 'E_INTEGRITY' || code.startsWith('E_S3')))
    return 'storage';
  const name = (err as { name?: unknown })?.name;
  if (typeof name === 'string' && /Storage|Integrity|S3/.test(name)) return 'storage';
  return 'crashed';
}

/** The storage root of a run record (`storageUrl` is `<root>/runs/<id>`). */
export function storageRoot(record: RunRecord): string {
  const suffix = `/runs/${record.id}`;
  return record.storageUrl.endsWith(suffix) ? record.storageUrl.slice(0, -suffix.length) : record.storageUrl;
}

export function specHash(record: RunRecord): string {
  return createHash('sha256').update(JSON.stringify(record.spec)).digest('hex');
}

/**
 * Runs one slot job: joins the job's generation, restores the latest checkpoint (or the initial
 * parameters), trains in lockstep with the other slots, and ends when the stage is finished, the
 * slots stopped together (SIGTERM on one of them), or the generation was superseded (the
 * coordinator restarts the next one). Bad input and other failures throw a tagged SeatFailure.
 */
export async function processSeat(job: SeatJob, deps: SeatDeps): Promise<SeatResult> {
  const { runId, stage } = parseStageRunId(job.runId);
  const log = deps.logger.child({ runId: job.runId, slot: job.slot, generation: job.generation });
  const result = (outcome: SeatResult['outcome'], step: number): SeatResult => ({
    runId: job.runId,
    slot: job.slot,
    generation: job.generation,
    step,
    outcome,
    worker: deps.workerId,
  });

  // Seat start-up, phase by phase (logged with 'generation joined'): what a restart waits for.
  const startup: Record<string, number> = {};
  let phaseStart = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    startup[name] = Math.round(now - phaseStart);
    phaseStart = now;
  };
  const record = await deps.runs.get(runId);
  if (!record || TERMINAL_PHASES.includes(record.state.phase)) return result('cancelled', 0);
  const open = await deps.generations.current(job.runId);
  if (open === null) return result('cancelled', 0);
  if (open !== job.generation) return result('superseded', 0);

  const spec = record.spec;
  phase('recordMs');
  let store: ObjectStore;
  let checkpoints: CheckpointStore;
  try {
    store = await deps.openStore(storageRoot(record));
    checkpoints = await deps.openCheckpoints(store, job.runId);
  } catch (err) {
    throw new SeatFailure(classify(err) === 'crashed' ? 'storage' : classify(err), (err as Error).message, {
      cause: err,
    });
  }

  // The newest checkpoint is read while the teacher, the engine and the rendezvous proceed.
  const early = readLatest(checkpoints);
  let teacherParams: Map<string, Float32Array> | undefined;
  if (needsTrainedTeacher(spec, stage)) {
    const teacherCkpts = await deps.openCheckpoints(store, stageRunId(runId, 'teacher'));
    teacherParams = await deps.teachers.load(teacherCkpts, stageSteps(spec, 'teacher')).catch((err: unknown) => {
      if (err instanceof TeacherCheckpointError) throw new SeatFailure('bad-input', err.message, { cause: err });
      throw new SeatFailure('storage', `cannot read the teacher checkpoint: ${(err as Error).message}`, { cause: err });
    });
    if (!teacherParams) throw new SeatFailure('bug', `run ${runId} has no trained teacher checkpoint`);
  }
  phase('storageMs');

  const regionNames = job.regions.map((r) => r.region);
  let engine: SlotEngine;
  let engineSource = 'new';
  try {
    const got = await deps.startEngine({
      spec,
      stage,
      regions: regionNames,
      replica: job.regions[0]?.replica ?? 0,
      replicas: job.regions[0]?.replicas ?? 1,
      ...(teacherParams ? { teacherParams } : {}),
      backend: deps.backend ?? spec.cluster.backend,
    });
    engine = got.engine;
    engineSource = got.source ?? 'new';
    phase('engineMs');
  } catch (err) {
    throw new SeatFailure(classify(err), (err as Error).message, { cause: err });
  }

  const stopCtl = new AbortController();
  const onStop = () => stopCtl.abort(deps.stop.reason);
  deps.stop.addEventListener('abort', onStop, { once: true });
  let session: Awaited<ReturnType<GenerationPort['join']>> | undefined;
  try {
    const totalSteps = stageSteps(spec, stage);
    const heartbeatMs = spec.cluster.heartbeatTimeoutSec * 1000;
    try {
      session = await deps.generations.join(job.runId, job.generation, job.slot, job.worldSize, {
        signal: stopCtl.signal,
        timeoutMs: deps.joinTimeoutMs ?? 600_000,
        collectiveTimeoutMs: Math.max(120_000, heartbeatMs * 20),
        heartbeatTtlMs: heartbeatMs,
        fp16: spec.cluster.fp16Transport,
      });
    } catch (err) {
      if (deps.stop.aborted) return result('preempted', 0);
      if (isGenerationEnd(err) && (err as { code?: string }).code === 'E_GENERATION_FENCED')
        return result('superseded', 0);
      throw new SeatFailure('hung', (err as Error).message, { cause: err });
    }
    phase('joinMs');

    const read = await confirmLatest(checkpoints, await early);
    if (!read.ok) {
      const err = read.error;
      throw new SeatFailure('storage', `cannot read checkpoints of ${job.runId}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const { loaded, skipped } = read;
    const fromStep = loaded?.manifest.step ?? 0;
    if (skipped.length > 0 && job.slot === 0) await reportFallback(deps, runId, job, skipped, fromStep, log);
    if (loaded) await engine.restore(tensorsToSnapshot(loaded.tensors, fromStep));
    phase('restoreMs');
    log.info('generation joined', { fromStep, totalSteps, regions: regionNames, engine: engineSource, startup });

    const reporter = progressReporter(deps, record, stage, job, log);
    try {
      const outcome = await runSlotLoop(
        {
          engine,
          allReduce: session.allReduce,
          logger: log,
          stopRequested: () => deps.stop.aborted,
          onStep: (r) => {
            observeStep(deps.metrics, job.runId, regionNames, r);
            return reporter.step(r);
          },
          keepCheckpoint: async (_step, snapshot) => checkpoints.remember(snapshotToTensors(snapshot)),
          saveCheckpoint: async (step, snapshot, metrics) => {
            const started = performance.now();
            const tensors = snapshotToTensors(snapshot);
            try {
              await checkpoints.save({
                step,
                generation: job.generation,
                tensors,
                sampler: { step },
                rng: { seed: spec.training.seed },
                metrics,
                specHash: specHash(record),
                datasetHash: snapshot.datasetHash ?? 'unknown',
                writer: `${deps.workerId}/rank${job.slot}`,
              });
            } catch (err) {
              throw new SeatFailure('storage', `checkpoint ${step} of ${job.runId} failed: ${(err as Error).message}`, {
                cause: err,
              });
            }
            let bytes = 0;
            for (const t of tensors.values()) bytes += t.data.byteLength;
            const ms = performance.now() - started;
            deps.metrics?.observeCheckpoint(job.runId, ms / 1000, bytes);
            await reporter.checkpoint(step, bytes, ms);
            await checkpoints
              .retain({ keep: spec.cluster.keepCheckpoints, protect: [step] })
              .catch((err: unknown) => log.warn('checkpoint retention failed', { error: (err as Error).message }));
          },
        },
        {
          rank: job.slot,
          worldSize: job.worldSize,
          groups: job.groups,
          fromStep,
          totalSteps,
          checkpointEvery: spec.cluster.checkpointEvery,
          ...(spec.training.gradClipNorm !== undefined ? { gradClipNorm: spec.training.gradClipNorm } : {}),
        },
      );
      await reporter.flush();
      return result(outcome.outcome, outcome.step);
    } catch (err) {
      if (isGenerationEnd(err)) {
        log.warn('generation ended under this slot', { error: (err as Error).message });
        return result('superseded', 0);
      }
      if (err instanceof SeatFailure) throw err;
      throw new SeatFailure(classify(err), (err as Error).message, { cause: err });
    }
  } finally {
    deps.stop.removeEventListener('abort', onStop);
    await session?.leave().catch(() => {});
    await engine.close();
  }
}

/** Says on the run's event stream which checkpoints were unusable and where the generation resumed instead. */
async function reportFallback(
  deps: SeatDeps,
  runId: string,
  job: SeatJob,
  skipped: ReadonlyArray<{ step: number; reason: string }>,
  fromStep: number,
  log: Logger,
): Promise<void> {
  const what = skipped.map((s) => `checkpoint ${s.step} (${s.reason})`).join('; ');
  const where = fromStep > 0 ? `checkpoint ${fromStep}` : 'the initial parameters (no checkpoint verifies)';
  const message = `${job.runId} generation ${job.generation}: unusable ${what}; resumed from ${where}`;
  log.warn('resuming from an older checkpoint', { skipped: skipped.map((s) => s.step), fromStep });
  try {
    await deps.runs.appendEvent(runId, { type: 'log', at: new Date().toISOString(), level: 'warn', message });
  } catch (err) {
    log.warn('could not record the checkpoint fallback', { error: (err as Error).message });
  }
}

/** One step into the worker's histograms: step time per hosted region, collective time per group. */
function observeStep(metrics: SlotMetrics | undefined, jobRunId: string, regions: readonly string[], r: StepReport) {
  if (!metrics) return;
  const stepSec = (r.computeMs + r.syncMs + r.checkpointMs) / 1000;
  for (const region of regions) {
    metrics.observeStep(jobRunId, region, stepSec);
    metrics.setSamplesPerSecond(jobRunId, region, r.samplesPerSec);
  }
  for (const [group, ms] of r.syncMsByGroup) metrics.observeSync(jobRunId, group, ms / 1000);
}

/** Rank 0 reports progress to the run record and event stream (throttled); every rank to its job. */
function progressReporter(deps: SeatDeps, record: RunRecord, stage: 'teacher' | 'student', job: SeatJob, log: Logger) {
  let lastWrite = 0;
  let pending: StepReport | undefined;
  const started = Date.now();
  const write = async (r: StepReport) => {
    // Each region's own mean loss of the step; the global one only where the engine could not tell.
    const progress: RegionProgress[] = record.spec.regions.map((region) => ({
      region: region.name,
      step: r.step,
      totalSteps: r.totalSteps,
      ...(r.regionLoss.get(region.name) ?? { loss: r.loss, taskLoss: r.taskLoss, kdLoss: r.kdLoss }),
      samplesPerSec: r.samplesPerSec,
      etaSec: r.samplesPerSec > 0 ? ((r.totalSteps - r.step) * (Date.now() - started)) / 1000 / Math.max(1, r.step) : 0,
    }));
    try {
      await deps.runs.update(record.id, () => ({ progress: Object.fromEntries(progress.map((p) => [p.region, p])) }));
      await deps.runs.appendEvent(record.id, {
        type: 'progress',
        at: new Date().toISOString(),
        phase: stage === 'teacher' ? 'teacher' : 'training',
        progress,
      });
    } catch (err) {
      log.warn('could not report progress', { error: (err as Error).message });
    }
  };
  return {
    async step(r: StepReport) {
      if (job.slot !== 0) return;
      pending = r;
      if (Date.now() - lastWrite < 500 && r.step < r.totalSteps) return;
      lastWrite = Date.now();
      pending = undefined;
      await write(r);
    },
    async checkpoint(step: number, bytes: number, ms: number) {
      const at = new Date().toISOString();
      const info = { step, at, bytes, ms };
      try {
        if (stage === 'student') await deps.runs.update(record.id, () => ({ lastCheckpoint: info }));
        await deps.runs.appendEvent(record.id, { type: 'checkpoint', ...info });
      } catch (err) {
        log.warn('could not record the checkpoint', { error: (err as Error).message });
      }
    },
    async flush() {
      if (pending) await write(pending);
      pending = undefined;
    },
  };
}
