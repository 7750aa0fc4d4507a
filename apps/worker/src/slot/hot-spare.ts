import { type Logger, type RunRecord, type RunStage, silentLogger } from '@lorkd/contracts';

/** A run stage an idle worker could get ready for. */
export interface SpareTarget {
  readonly record: RunRecord;
  readonly stage: RunStage;
  /** `runId:stage`: a target is prepared at most once per worker. */
  readonly key: string;
}

/**
 * Policy: the stage an idle worker should get ready for, if any — the most recently created run
 * that is training its teacher or its student and that this worker has not prepared yet (a run
 * already restarting is too late to prepare for). Pure.
 */
export function chooseSpareTarget(runs: readonly RunRecord[], prepared: ReadonlySet<string>): SpareTarget | undefined {
  const candidates = runs
    .map((record): SpareTarget | undefined => {
      const phase = record.state.phase;
      const stage: RunStage | undefined =
        phase === 'teacher' ? 'teacher' : phase === 'training' ? 'student' : undefined;
      return stage ? { record, stage, key: `${record.id}:${stage}` } : undefined;
    })
    .filter((t): t is SpareTarget => t !== undefined && !prepared.has(t.key))
    .sort((a, b) => b.record.createdAt.localeCompare(a.record.createdAt));
  return candidates[0];
}

export interface HotSpareDeps {
  /** Runs to choose from (the run store's listing). */
  listRuns(): Promise<RunRecord[]>;
  /** Builds (and keeps) the engine for a stage: teacher read, data loaded, model built. */
  prepare(target: SpareTarget): Promise<void>;
  /**
   * Called on later looks while the prepared stage is still the one to be ready for (e.g. to read
   * its newest checkpoint ahead of a restart). Optional.
   */
  follow?(target: SpareTarget): Promise<void>;
  /** True while the worker runs no slot job. */
  idle(): boolean;
  readonly logger?: Logger;
  /** How often an idle worker looks for a run to get ready for (default 2 s). */
  readonly intervalMs?: number;
}

/**
 * Keeps an idle worker ready to take over a slot of a running stage: it builds that stage's engine
 * ahead of time, so when a worker dies, the spare that takes its slot job starts in milliseconds
 * instead of reading the teacher, loading data and building the model first (the part of a
 * restart that is not detection or lost steps). Engines are seat-independent (see EngineCache),
 * so one prepared engine serves any slot of the stage.
 */
export class HotSpare {
  private readonly prepared = new Set<string>();
  private current: SpareTarget | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly logger: Logger;

  constructor(private readonly deps: HotSpareDeps) {
    this.logger = (deps.logger ?? silentLogger).child({ component: 'hot-spare' });
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** One look: prepares the chosen target when idle. Resolves when done (errors are logged). */
  async tick(): Promise<SpareTarget | undefined> {
    if (this.stopped || !this.deps.idle()) return undefined;
    const runs = await this.deps.listRuns();
    const target = chooseSpareTarget(runs, this.prepared);
    if (!target) {
      const current = this.current && runs.find((r) => r.id === this.current?.record.id);
      const stillRunning = current && chooseSpareTarget([current], new Set())?.key === this.current?.key;
      if (stillRunning && this.current && this.deps.follow && !this.stopped && this.deps.idle())
        await this.deps
          .follow(this.current)
          .catch((err: unknown) =>
            this.logger.debug('could not follow the prepared stage', { error: (err as Error).message }),
          );
      return undefined;
    }
    if (this.stopped || !this.deps.idle()) return undefined;
    this.current = target;
    this.prepared.add(target.key);
    const started = performance.now();
    try {
      await this.deps.prepare(target);
      this.logger.info('ready to take over a slot', {
        runId: target.record.id,
        stage: target.stage,
        ms: Math.round(performance.now() - started),
      });
    } catch (err) {
      this.logger.warn('could not prepare a spare engine', {
        runId: target.record.id,
        stage: target.stage,
        error: (err as Error).message,
      });
    }
    return target;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(
          () => undefined,
          (err: unknown) => this.logger.debug('spare look failed', { error: (err as Error).message }),
        )
        .finally(() => this.schedule(this.deps.intervalMs ?? 2_000));
    }, ms);
    this.timer.unref();
  }
}
