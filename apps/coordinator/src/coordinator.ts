import { randomBytes } from 'node:crypto';
import {
  createControlWorker,
  GenerationFence,
  LorkdQueues,
  type QueueJobEvent,
  type QueueWorker,
  RedisConnections,
  RendezvousMonitor,
  RunNotFoundError,
  RunStore,
} from '@lorkd/cluster';
import { selectBackend } from '@lorkd/compute';
import {
  type FailureCause,
  type Logger,
  parseRunSpec,
  parseStageRunId,
  parseTaggedFailure,
  type QueueCounts,
  type RunEvent,
  type RunRecord,
  type RunService,
  type RunSpec,
  silentLogger,
  stageRunId,
  ValidationError,
} from '@lorkd/contracts';
import { createObjectStore, type ObjectStore, type ObjectStoreOptions, RunStorage } from '@lorkd/storage';
import { RunDriver, storageRoot } from './run/run-driver.js';
import { isTerminal } from './run/run-machine.js';

export interface CoordinatorDeps {
  readonly redisUrl: string;
  /** BullMQ / lorkd key prefix (LORKD_QUEUE_PREFIX). */
  readonly prefix?: string;
  /** Where runs are stored unless their spec says otherwise (LORKD_STORAGE_URL). */
  readonly storageUrl?: string;
  readonly storage?: ObjectStoreOptions;
  readonly logger?: Logger;
  /** How often heartbeats, progress and hangs are checked. */
  readonly monitorIntervalMs?: number;
  /** A generation without step progress for this long is restarted as hung (default: max(60 s, 20 × heartbeat)). */
  readonly hangTimeoutMs?: number;
  /** tfjs backend for the export's evaluation and folding (LORKD_BACKEND). */
  readonly backend?: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'native' | 'wasm' | 'cpu';
}

/** The coordinator: RunService over Redis (records, queues, fences) and storage, plus the control loop. */
export interface Coordinator extends RunService {
  start(): Promise<void>;
  close(): Promise<void>;
}

const SLOT_JOB = /^(.+)--g(\d+)--s(\d+)$/;
const EXPORT_JOB = /^(.+)--g(\d+)--export$/;

/** Creates the coordinator; `start()` connects to Redis and starts processing. */
export function createCoordinator(deps: CoordinatorDeps): Coordinator {
  return new LorkdCoordinator(deps);
}

class LorkdCoordinator implements Coordinator {
  private readonly logger: Logger;
  private readonly prefix: string;
  private connections: RedisConnections | undefined;
  private runStore: RunStore | undefined;
  private queuesRef: LorkdQueues | undefined;
  private fence: GenerationFence | undefined;
  private monitor: RendezvousMonitor | undefined;
  private driver: RunDriver | undefined;
  private control: QueueWorker<unknown, unknown> | undefined;
  private unwatch: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly lastProgress = new Map<string, { step: number; at: number }>();
  private readonly stores = new Map<string, Promise<ObjectStore>>();
  private backend: Promise<void> | undefined;

  constructor(private readonly deps: CoordinatorDeps) {
    this.logger = (deps.logger ?? silentLogger).child({ component: 'coordinator' });
    this.prefix = deps.prefix ?? 'lorkd';
  }

  private get runs(): RunStore {
    if (!this.runStore) throw new Error('coordinator not started');
    return this.runStore;
  }
  private get queuesApi(): LorkdQueues {
    if (!this.queuesRef) throw new Error('coordinator not started');
    return this.queuesRef;
  }
  private get run(): RunDriver {
    if (!this.driver) throw new Error('coordinator not started');
    return this.driver;
  }

  private openStore = (url: string): Promise<ObjectStore> => {
    let s = this.stores.get(url);
    if (!s) {
      s = createObjectStore(url, { logger: this.logger, ...(this.deps.storage ?? {}) });
      s.catch(() => this.stores.delete(url));
      this.stores.set(url, s);
    }
    return s;
  };

  async start(): Promise<void> {
    const connections = await RedisConnections.create({
      url: this.deps.redisUrl,
      clientName: 'lorkd-coordinator',
      logger: this.logger,
    });
    this.connections = connections;
    const prefix = this.prefix;
    this.runStore = await RunStore.create({ connections, prefix, logger: this.logger });
    this.queuesRef = await LorkdQueues.create({ connections, prefix, logger: this.logger });
    this.fence = await GenerationFence.create({ connections, prefix });
    this.monitor = await RendezvousMonitor.create({ connections, prefix });
    this.driver = new RunDriver({
      runs: this.runStore,
      queues: this.queuesRef,
      fence: this.fence,
      openStore: this.openStore,
      io: { logger: this.logger, ...(this.deps.storage?.s3 ? { s3: this.deps.storage.s3 } : {}) },
      logger: this.logger,
      ensureBackend: () => {
        this.backend ??= selectBackend({ preference: this.deps.backend ?? 'auto' }, this.logger).then(() => {});
        this.backend.catch(() => {
          this.backend = undefined;
        });
        return this.backend;
      },
    });
    this.control = (await createControlWorker<unknown>({
      connections,
      prefix,
      workerName: 'coordinator',
      logger: this.logger,
      processor: async (data, ctx) => {
        if (data.kind === 'plan') {
          await this.run.serial(data.runId, () => this.run.plan(data.runId, data.resume));
          return { planned: data.runId };
        }
        const m = EXPORT_JOB.exec(ctx.jobId);
        const generation = m ? Number(m[2]) : -1;
        await this.onGenerationDone(data.runId, generation);
        return { exported: data.runId, generation };
      },
    })) as QueueWorker<unknown, unknown>;
    this.unwatch = await this.queuesApi.watch((e) => this.onQueueEvent(e));
    const every = this.deps.monitorIntervalMs ?? 500;
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = true;
      this.tick()
        .catch((err: unknown) => this.logger.warn('monitor tick failed', { error: (err as Error).message }))
        .finally(() => {
          this.ticking = false;
        });
    }, every);
    this.logger.info('coordinator started', { prefix });
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.unwatch?.().catch(() => {});
    await this.control?.close().catch(() => {});
    await this.queuesRef?.close().catch(() => {});
    for (const s of this.stores.values()) await (await s.catch(() => undefined))?.close();
    this.stores.clear();
    await this.connections?.close();
    this.connections = undefined;
  }

  // ---- RunService ----

  async create(input: RunSpec): Promise<RunRecord> {
    const spec = parseRunSpec(input);
    const root = spec.storage.url ?? this.deps.storageUrl;
    if (!root)
      throw new ValidationError('run spec', [
        { path: 'storage.url', message: 'is required when the coordinator has no LORKD_STORAGE_URL' },
      ]);
    const id = `${spec.name}-${randomBytes(3).toString('hex')}`;
    const now = new Date().toISOString();
    const record: RunRecord = {
      id,
      name: spec.name,
      spec,
      state: { phase: 'pending' },
      createdAt: now,
      updatedAt: now,
      generation: 0,
      storageUrl: `${root.replace(/\/+$/, '')}/runs/${id}`,
      progress: {},
      restarts: [],
    };
    await this.runs.create(record);
    await this.queuesApi.enqueuePlan({ kind: 'plan', runId: id, resume: false });
    this.logger.info('run created', { runId: id });
    return record;
  }

  list(): Promise<RunRecord[]> {
    return this.runs.list();
  }

  get(id: string): Promise<RunRecord | undefined> {
    return this.runs.get(id);
  }

  async cancel(id: string, reason?: string): Promise<RunRecord> {
    return this.run.serial(id, async () => {
      const record = await this.runs.get(id);
      if (!record) throw new RunNotFoundError(id);
      if (isTerminal(record.state)) return record;
      await this.run.apply(id, { type: 'cancel', ...(reason ? { reason } : {}) });
      await this.run.stopStages(id);
      return (await this.runs.get(id)) ?? record;
    });
  }

  /**
   * Restarts an unfinished run from its latest committed checkpoint. When Redis lost the run, it is
   * rebuilt from `runs/ID/spec.json` (+ LATEST) in the coordinator's storage.
   */
  async resume(id: string): Promise<RunRecord> {
    let record = await this.runs.get(id);
    if (!record) record = await this.rebuild(id);
    if (record.state.phase === 'done') return record;
    await this.queuesApi.enqueuePlan({ kind: 'plan', runId: id, resume: true }, `resume-${Date.now()}`);
    return record;
  }

  private async rebuild(id: string): Promise<RunRecord> {
    const root = this.deps.storageUrl;
    if (!root) throw new RunNotFoundError(id);
    const store = await this.openStore(root);
    const storage = await RunStorage.create({ store, logger: this.logger });
    let spec: RunSpec | undefined;
    try {
      spec = await storage.readSpec(id);
    } catch (err) {
      throw new ValidationError('run', [{ path: id, message: `spec.json is unreadable: ${(err as Error).message}` }]);
    }
    if (!spec) throw new RunNotFoundError(id);
    const now = new Date().toISOString();
    const record: RunRecord = {
      id,
      name: spec.name,
      spec,
      state: { phase: 'failed', cause: 'redis', reason: 'run record lost with Redis; rebuilt from storage' },
      createdAt: now,
      updatedAt: now,
      generation: 0,
      storageUrl: `${root.replace(/\/+$/, '')}/runs/${id}`,
      progress: {},
      restarts: [],
    };
    await this.runs.create(record);
    this.logger.warn('run rebuilt from storage', { runId: id });
    return record;
  }

  async *events(
    id: string,
    options: { sinceId?: string; signal: AbortSignal },
  ): AsyncIterable<{ id: string; event: RunEvent }> {
    yield* this.runs.events(id, options);
  }

  queues(): Promise<QueueCounts[]> {
    return this.queuesApi.queueCounts();
  }

  // ---- control loop ----

  private async onGenerationDone(jobRunId: string, generation: number): Promise<void> {
    const { runId } = parseStageRunId(jobRunId);
    await this.run.serial(runId, async () => {
      const jobs = await this.queuesApi.slotJobs(jobRunId);
      const mine = jobs.filter((j) => SLOT_JOB.exec(j.id)?.[2] === String(generation));
      const outcomes = mine.map((j) => {
        const v = j.returnValue as { outcome?: unknown } | undefined;
        return j.state === 'completed' && typeof v?.outcome === 'string' ? v.outcome : 'failed';
      });
      const failures = mine
        .filter((j) => j.state === 'failed')
        .map((j) => {
          const f = parseTaggedFailure(j.failedReason ?? 'slot job failed');
          return { cause: f.cause, reason: `slot ${SLOT_JOB.exec(j.id)?.[3]}: ${f.reason}` };
        });
      await this.run.generationEnded(jobRunId, generation, outcomes, failures);
    });
  }

  private onQueueEvent(e: QueueJobEvent): void {
    if (e.queue !== 'lorkd-train' || (e.type !== 'failed' && e.type !== 'completed')) return;
    const m = SLOT_JOB.exec(e.jobId);
    if (!m) return;
    const jobRunId = m[1] as string;
    const generation = Number(m[2]);
    const { runId } = parseStageRunId(jobRunId);
    let report: { cause: FailureCause; reason: string } | undefined;
    if (e.type === 'failed') {
      const f = parseTaggedFailure(e.failedReason ?? 'slot job failed');
      report = { cause: f.cause, reason: `slot ${m[3]}: ${f.reason}` };
    } else {
      // A slot that stopped (SIGTERM) ends the generation at once, even if its peers are still gathering.
      const value = typeof e.returnValue === 'string' ? safeJson(e.returnValue) : e.returnValue;
      if ((value as { outcome?: unknown } | undefined)?.outcome === 'preempted')
        report = { cause: 'preempted', reason: `slot ${m[3]}: its worker was stopped (SIGTERM) after a checkpoint` };
    }
    if (!report) return;
    const r = report;
    void this.run
      .serial(runId, () => this.run.generationLost(jobRunId, generation, r.cause, r.reason))
      .catch((err: unknown) => this.logger.error('handling a slot event failed', { error: (err as Error).message }));
  }

  private async tick(): Promise<void> {
    const monitor = this.monitor;
    const fence = this.fence;
    if (!monitor || !fence) return;
    for (const lost of await monitor.expired()) {
      const { runId } = parseStageRunId(lost.runId);
      await this.run.serial(runId, async () => {
        if ((await fence.current(lost.runId)) === lost.generation)
          await this.run.generationLost(
            lost.runId,
            lost.generation,
            'crashed',
            `slot ${lost.rank} stopped heartbeating (${Math.round(lost.overdueMs)} ms overdue): its worker died or lost Redis`,
          );
        await monitor.forget(lost.runId, lost.generation);
      });
    }
    for (const record of await this.runs.list()) {
      if (isTerminal(record.state) || record.state.phase === 'pending' || record.state.phase === 'exporting') continue;
      await this.run.serial(record.id, async () => {
        const fresh = await this.runs.get(record.id);
        if (!fresh || isTerminal(fresh.state)) return;
        await this.run.liftProgress(fresh);
        await this.checkHang(fresh);
      });
    }
  }

  private async checkHang(record: RunRecord): Promise<void> {
    const steps = Object.values(record.progress).map((p) => p.step);
    const step = steps.length ? Math.max(...steps) : -1;
    const key = `${record.id}/${record.generation}`;
    const last = this.lastProgress.get(key);
    const now = Date.now();
    if (!last || last.step !== step) {
      this.lastProgress.set(key, { step, at: now });
      return;
    }
    const jobRunIdNow = stageRunId(
      record.id,
      (await this.fence?.current(stageRunId(record.id, 'student'))) === null ? 'teacher' : 'student',
    );
    const gen = await this.fence?.current(jobRunIdNow);
    const members = gen === null || gen === undefined ? [] : ((await this.monitor?.members(jobRunIdNow, gen)) ?? []);
    const worldSize = Math.min(
      record.spec.cluster.workers,
      record.spec.regions.length * record.spec.training.batchPerRegion,
    );
    if (members.filter((m) => !m.left).length < worldSize) {
      this.lastProgress.set(key, { step, at: now }); // still gathering members: not a hang
      return;
    }
    const limit = this.deps.hangTimeoutMs ?? Math.max(60_000, 20 * record.spec.cluster.heartbeatTimeoutSec * 1000);
    if (now - last.at < limit) return;
    this.lastProgress.delete(key);
    const stage = (await this.fence?.current(stageRunId(record.id, 'student'))) === null ? 'teacher' : 'student';
    const jobRunId = stageRunId(record.id, stage);
    const generation = await this.fence?.current(jobRunId);
    if (generation === null || generation === undefined) return;
    await this.run.generationLost(
      jobRunId,
      generation,
      'hung',
      `no training progress for ${Math.round((now - last.at) / 1000)} s (step ${step})`,
    );
  }

  /** For tests and tools: the storage root of a run. */
  storageRootOf(record: RunRecord): string {
    return storageRoot(record);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
