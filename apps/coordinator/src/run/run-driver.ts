import { access } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GenerationFence, LorkdQueues, RunStore, SlotJobData } from '@lorkd/cluster';
import {
  type FailureCause,
  type Logger,
  parseStageRunId,
  type RestartRecord,
  type RunRecord,
  type RunSpec,
  type RunStage,
  type RunState,
  stageRunId,
} from '@lorkd/contracts';
import { CheckpointStore, type ObjectStore, RunStorage, type TfjsIOOptions } from '@lorkd/storage';
import { exportRun } from '../export/exporter.js';
import { planSlots } from '../plan/planner.js';
import {
  decideOnFailure,
  type FailureCounts,
  type FailureReport,
  NO_FAILURES,
  primaryFailure,
  restartDelayMs,
} from './failure-policy.js';
import { isTerminal, type RunMachineEvent, transition } from './run-machine.js';

export interface RunDriverDeps {
  readonly runs: RunStore;
  readonly queues: LorkdQueues;
  readonly fence: GenerationFence;
  openStore(url: string): Promise<ObjectStore>;
  readonly io: TfjsIOOptions;
  readonly logger: Logger;
  /** Activates the tfjs backend the export computes on (called before the first export). */
  ensureBackend(): Promise<void>;
}

/** The storage root of a run record (`storageUrl` is `<root>/runs/<id>`). */
export function storageRoot(record: Pick<RunRecord, 'id' | 'storageUrl'>): string {
  const suffix = `/runs/${record.id}`;
  return record.storageUrl.endsWith(suffix) ? record.storageUrl.slice(0, -suffix.length) : record.storageUrl;
}

function stageSteps(spec: RunSpec, stage: RunStage): number {
  return stage === 'teacher' && spec.teacher.kind === 'train' ? spec.teacher.steps : spec.training.steps;
}

/** Failure counts so far, from the run's restart history. */
export function countFailures(restarts: readonly RestartRecord[]): FailureCounts {
  const counts: Record<FailureCause, number> = { ...NO_FAILURES };
  for (const r of restarts) counts[r.cause] += 1;
  return counts;
}

/** A tagged problem that fails a run at once. */
class RunInputError extends Error {
  constructor(
    readonly failure: FailureCause,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Drives runs through their stages: plan → generations of slot jobs (teacher, then student) →
 * restarts per the failure policy → export. All decisions for one run are serialised.
 */
export class RunDriver {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: RunDriverDeps) {}

  /** Runs `fn` after every earlier operation on the same run. */
  serial<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(runId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.chains.set(runId, tail);
    void tail.then(() => {
      if (this.chains.get(runId) === tail) this.chains.delete(runId);
    });
    return next;
  }

  /** Applies a state-machine event to the stored run (no-op when the machine refuses it). */
  async apply(
    runId: string,
    event: RunMachineEvent,
    patch: Parameters<RunStore['transition']>[3] = {},
  ): Promise<RunRecord | undefined> {
    const record = await this.deps.runs.get(runId);
    if (!record) return undefined;
    const t = transition(record.state, event);
    if (!t.ok) {
      this.deps.logger.debug('transition refused', { runId, reason: t.reason });
      return undefined;
    }
    const r = await this.deps.runs.transition(runId, [record.state.phase], t.state, patch);
    return r.ok ? r.record : undefined;
  }

  async fail(runId: string, cause: FailureCause, reason: string): Promise<void> {
    const rec = await this.apply(runId, { type: 'fail', cause, reason });
    if (rec) this.deps.logger.warn('run failed', { runId, cause, reason });
    await this.stopStages(runId);
  }

  /** Fences off every stage's current generation (running slots end) and drops queued jobs. */
  async stopStages(runId: string): Promise<void> {
    for (const stage of ['teacher', 'student'] as const) {
      const id = stageRunId(runId, stage);
      const g = await this.deps.fence.current(id);
      if (g !== null) await this.deps.fence.advance(id, g + 1);
      await this.deps.queues.removeRunJobs(id).catch(() => 0);
    }
  }

  /** The plan job: spec to storage, input checks, then the first stage's generation. */
  async plan(runId: string, resume: boolean): Promise<void> {
    const record = await this.deps.runs.get(runId);
    if (!record || record.state.phase === 'done' || (!resume && isTerminal(record.state))) return;
    const spec = record.spec;
    let store: ObjectStore;
    try {
      store = await this.deps.openStore(storageRoot(record));
      const storage = await RunStorage.create({ store, logger: this.deps.logger });
      await storage.writeSpec(runId, spec);
    } catch (err) {
      await this.fail(runId, 'storage', `cannot write spec.json to ${record.storageUrl}: ${(err as Error).message}`);
      return;
    }
    try {
      await checkInputs(spec);
    } catch (err) {
      await this.fail(runId, err instanceof RunInputError ? err.failure : 'bad-input', (err as Error).message);
      return;
    }
    const stage = await this.currentStage(record, store);
    const { fromStep } = await this.latestStep(store, stageRunId(runId, stage));
    if (resume) {
      const gen = await this.nextGeneration(stageRunId(runId, stage));
      await this.apply(
        runId,
        { type: 'resume', generation: gen, fromStep },
        { progress: progressBackTo(record.progress, fromStep) },
      );
      await this.startGeneration(runId, stage, gen);
      return;
    }
    const total = stageSteps(spec, stage);
    const gen = await this.nextGeneration(stageRunId(runId, stage));
    await this.apply(runId, { type: 'start', stage, generation: gen, totalSteps: total });
    await this.startGeneration(runId, stage, gen);
  }

  /** Which stage a run is in: teacher until its final teacher checkpoint exists. */
  async currentStage(record: RunRecord, store: ObjectStore): Promise<RunStage> {
    if (record.spec.teacher.kind !== 'train') return 'student';
    const { fromStep } = await this.latestStep(store, stageRunId(record.id, 'teacher'));
    return fromStep >= record.spec.teacher.steps ? 'student' : 'teacher';
  }

  async latestStep(store: ObjectStore, jobRunId: string): Promise<{ fromStep: number }> {
    const ckpts = await CheckpointStore.create({ store, runId: jobRunId, logger: this.deps.logger });
    const latest = await ckpts.latest();
    return { fromStep: latest?.step ?? 0 };
  }

  private async nextGeneration(jobRunId: string): Promise<number> {
    const g = await this.deps.fence.current(jobRunId);
    return g === null ? 0 : g + 1;
  }

  /** Opens generation `generation` of a stage and enqueues its flow (export parent + one job per slot). */
  async startGeneration(runId: string, stage: RunStage, generation: number, delayMs = 0): Promise<void> {
    const record = await this.deps.runs.get(runId);
    if (!record || isTerminal(record.state)) return;
    const spec = record.spec;
    const plan = planSlots({
      regions: spec.regions.map((r) => r.name),
      workers: spec.cluster.workers,
      batchPerRegion: spec.training.batchPerRegion,
    });
    const jobRunId = stageRunId(runId, stage);
    await this.deps.fence.advance(jobRunId, generation);
    const slots: SlotJobData[] = plan.slots.map((s) => ({
      kind: 'slot',
      runId: jobRunId,
      generation,
      slot: s.slot,
      worldSize: plan.worldSize,
      regions: s.shares.map((sh) => ({ region: sh.region, replica: sh.replica, replicas: sh.replicas })),
      groups: Object.entries(plan.groups)
        .filter(([, ranks]) => ranks.includes(s.slot))
        .map(([name, ranks]) => ({ name, ranks: [...ranks] })),
    }));
    await this.deps.queues.enqueueRun({
      exportJob: { kind: 'export', runId: jobRunId },
      slots,
      tag: `g${generation}`,
      ...(delayMs > 0 ? { delayMs } : {}),
    });
    await this.deps.runs.update(runId, { generation });
    this.deps.logger.info('generation started', {
      runId: jobRunId,
      generation,
      slots: plan.worldSize,
      notes: plan.notes,
    });
  }

  /**
   * A generation of a stage ended early (lost member, failed slot, preemption, hang). Charges the
   * cause's budget; restarts the stage from its latest checkpoint as the next generation, or fails the run.
   */
  async generationLost(jobRunId: string, generation: number, cause: FailureCause, reason: string): Promise<void> {
    const { runId, stage } = parseStageRunId(jobRunId);
    const current = await this.deps.fence.current(jobRunId);
    if (current !== generation) return; // already handled
    const record = await this.deps.runs.get(runId);
    if (!record || isTerminal(record.state)) return;
    const decision = decideOnFailure({ cause, reason }, countFailures(record.restarts), record.spec.cluster.budgets);
    if (decision.action === 'fail') {
      await this.fail(runId, decision.cause, decision.reason);
      return;
    }
    // Where the next generation resumes (for the record; its slots read LATEST themselves). With
    // storage down, the last checkpoint the run reported stands in.
    const fromStep = await this.deps
      .openStore(storageRoot(record))
      .then((store) => this.latestStep(store, jobRunId))
      .then((l) => l.fromStep)
      .catch((err: unknown) => {
        this.deps.logger.warn('cannot read LATEST for the restart record; using the last reported checkpoint', {
          runId: jobRunId,
          error: (err as Error).message,
        });
        return stage === 'student' ? (record.lastCheckpoint?.step ?? 0) : 0;
      });
    const next = generation + 1;
    await this.deps.fence.advance(jobRunId, next); // fence first: the old generation's slots stop now
    const restart: RestartRecord = { at: new Date().toISOString(), generation: next, cause, reason, fromStep };
    await this.apply(
      runId,
      { type: 'generation-lost', generation: next, cause, reason, fromStep },
      { restarts: [...record.restarts, restart], progress: progressBackTo(record.progress, fromStep) },
    );
    await this.deps.runs.appendEvent(runId, { type: 'restart', ...restart });
    this.deps.logger.warn('restarting generation', {
      runId: jobRunId,
      generation: next,
      cause,
      reason,
      fromStep,
      ...(decision.delayMs > 0 ? { delayMs: decision.delayMs } : {}),
    });
    await this.startGeneration(runId, stage, next, decision.delayMs);
  }

  /** Every slot of a generation returned: the stage finished, or the slots stopped together (preemption). */
  async generationEnded(
    jobRunId: string,
    generation: number,
    outcomes: readonly string[],
    failures: readonly FailureReport[] = [],
  ): Promise<void> {
    const { runId, stage } = parseStageRunId(jobRunId);
    if ((await this.deps.fence.current(jobRunId)) !== generation) return;
    const record = await this.deps.runs.get(runId);
    if (!record || isTerminal(record.state)) return;
    if (outcomes.length > 0 && outcomes.every((o) => o === 'finished')) {
      if (stage === 'teacher') {
        const steps = stageSteps(record.spec, 'teacher');
        if (record.state.phase === 'restarting')
          await this.apply(runId, { type: 'generation-started', stage, generation, step: steps, totalSteps: steps });
        const gen = await this.nextGeneration(stageRunId(runId, 'student'));
        await this.apply(
          runId,
          { type: 'teacher-done', generation: gen, totalSteps: record.spec.training.steps },
          { progress: {} },
        );
        await this.startGeneration(runId, 'student', gen);
      } else {
        await this.finish(runId);
      }
      return;
    }
    const failure = primaryFailure(failures);
    if (failure) {
      await this.generationLost(jobRunId, generation, failure.cause, failure.reason);
      return;
    }
    if (outcomes.includes('preempted')) {
      await this.generationLost(
        jobRunId,
        generation,
        'preempted',
        'a worker was stopped (SIGTERM); slots checkpointed',
      );
      return;
    }
    // The slots gave up on this generation without the coordinator ending it (collective or rendezvous timeouts).
    const cause: FailureCause = outcomes.includes('failed') ? 'crashed' : 'hung';
    await this.generationLost(
      jobRunId,
      generation,
      cause,
      `the slots of generation ${generation} ended without finishing (${outcomes.join(', ') || 'no results'})`,
    );
  }

  /** Export, then done. */
  async finish(runId: string): Promise<void> {
    const before = await this.deps.runs.get(runId);
    if (!before) return;
    if (before.state.phase === 'restarting')
      await this.apply(runId, {
        type: 'generation-started',
        stage: 'student',
        generation: before.generation,
        step: before.spec.training.steps,
        totalSteps: before.spec.training.steps,
      });
    const exporting = await this.apply(runId, { type: 'slots-done' });
    if (!exporting) return;
    // A storage failure while exporting is retried like a lost generation's restart (growing delays,
    // within the crash budget): an outage of a few seconds must not fail a finished run.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.exportOnce(runId, exporting);
        return;
      } catch (err) {
        // storage errors are storage; anything else (a model that does not fold, a shape mismatch) is a bug
        const code = String((err as { code?: unknown })?.code ?? '');
        const cause = /^E_(STORAGE|INTEGRITY|CHECKPOINT)/.test(code) ? 'storage' : 'bug';
        if (cause === 'storage' && attempt <= exporting.spec.cluster.budgets.crashes) {
          const delayMs = restartDelayMs('storage', attempt);
          this.deps.logger.warn('export failed on storage; trying again', {
            runId,
            attempt,
            delayMs,
            error: (err as Error).message,
          });
          await new Promise((r) => setTimeout(r, delayMs));
          continue;
        }
        await this.fail(runId, cause, `export failed: ${(err as Error).message}`);
        return;
      }
    }
  }

  private async exportOnce(runId: string, exporting: RunRecord): Promise<void> {
    await this.deps.ensureBackend();
    const store = await this.deps.openStore(storageRoot(exporting));
    const report = await exportRun({
      runId,
      spec: exporting.spec,
      createdAt: exporting.createdAt,
      store,
      runUrl: exporting.storageUrl,
      io: this.deps.io,
      logger: this.deps.logger,
    });
    const storage = await RunStorage.create({ store, logger: this.deps.logger });
    const urls = await storage.writeReport(runId, { json: report, html: reportHtml(report) });
    await this.apply(runId, { type: 'exported', reportUrl: urls.jsonUrl });
    this.deps.logger.info('run done', { runId, report: urls.jsonUrl });
  }

  /** Moves `restarting` back to teacher/training once a generation makes progress. */
  async liftProgress(record: RunRecord): Promise<void> {
    const steps = Object.values(record.progress).map((p) => p.step);
    if (steps.length === 0) return;
    const step = Math.max(...steps);
    const s: RunState = record.state;
    if (s.phase === 'restarting' && step > s.fromStep) {
      const stage: RunStage =
        (await this.deps.fence.current(stageRunId(record.id, 'student'))) === null ? 'teacher' : 'student';
      await this.apply(record.id, {
        type: 'generation-started',
        stage,
        generation: s.generation,
        step,
        totalSteps: stageSteps(record.spec, stage),
      });
    } else if ((s.phase === 'training' || s.phase === 'teacher') && step > s.step) {
      await this.apply(record.id, { type: 'progress', step });
    }
  }
}

/**
 * The run's progress moved back to the step a new generation resumes from: the steps the lost
 * generation reported are redone, and `restarting` must not be lifted by them (only by new progress).
 */
export function progressBackTo(progress: RunRecord['progress'], step: number): RunRecord['progress'] {
  return Object.fromEntries(
    Object.entries(progress).map(([region, p]) => [region, { ...p, step: Math.min(p.step, step) }]),
  );
}

/** Fails fast on inputs no retry can fix: dataset files that do not exist, unsupported teacher kinds. */
async function checkInputs(spec: RunSpec): Promise<void> {
  if (spec.teacher.kind === 'checkpoint')
    throw new RunInputError(
      'bad-input',
      `teacher.kind 'checkpoint' (${spec.teacher.uri}) is not supported by this runtime yet: use teacher.kind 'train'`,
    );
  for (const region of spec.regions) {
    if (region.source.kind !== 'npz') continue;
    const uri = region.source.uri;
    const path = uri.startsWith('file://') ? fileURLToPath(uri) : isAbsolute(uri) ? uri : undefined;
    if (path === undefined) continue; // s3:// and relative paths are checked by the workers
    try {
      await access(path);
    } catch {
      throw new RunInputError(
        'bad-input',
        `region '${region.name}': dataset ${uri} does not exist (check regions[].source.uri)`,
      );
    }
  }
}

function reportHtml(report: Awaited<ReturnType<typeof exportRun>>): string {
  const pct = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(1)}%`);
  const rows = report.regions
    .map(
      (r) =>
        `<tr><td>${r.region}</td><td>${r.testSamples}</td><td>${pct(r.teacherAccuracy)}</td><td>${pct(r.sharedStudentAccuracy)}</td><td>${pct(r.expertAccuracy)}</td><td>${pct(r.foldedExpertAccuracy)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>lorkd report ${report.runId}</title></head><body>
<h1>Run ${report.runId}</h1>
<table border="1" cellpadding="4"><tr><th>region</th><th>test samples</th><th>teacher</th><th>shared student</th><th>expert</th><th>folded expert</th></tr>
${rows}
</table>
<p>Parameters: teacher ${report.params.teacher ?? '–'}, student ${report.params.student}, folded expert ${report.params.foldedExpert}.</p>
</body></html>
`;
}
