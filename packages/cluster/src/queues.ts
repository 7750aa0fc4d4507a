import type { Logger, QueueCounts } from '@lorkd/contracts';
import { silentLogger } from '@lorkd/contracts';
import { FlowProducer, type Job, Queue, QueueEvents } from 'bullmq';
import { z } from 'zod';
import { ClusterUsageError } from './errors.js';
import {
  type ControlJobData,
  type ExportJobData,
  ExportJobDataSchema,
  type PlanJobData,
  PlanJobDataSchema,
  QUEUE_NAMES,
  type QueueName,
  type SlotJobData,
  SlotJobDataSchema,
} from './job-data.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';

const KeepJobsSchema = z.object({
  /** Seconds a finished job is kept. */
  age: z.number().int().positive(),
  /** Most finished jobs kept per queue. */
  count: z.number().int().positive(),
});

export const QueuePrefixSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, 'queue prefixes use letters, digits, _ . - only (LORKD_QUEUE_PREFIX)');

export const LorkdQueuesOptionsSchema = z.object({
  /** BullMQ key prefix (LORKD_QUEUE_PREFIX); several deployments can share one Redis with different prefixes. */
  prefix: QueuePrefixSchema.default('lorkd'),
  keepCompleted: KeepJobsSchema.default({ age: 24 * 3600, count: 1000 }),
  keepFailed: KeepJobsSchema.default({ age: 7 * 24 * 3600, count: 5000 }),
});
export type LorkdQueuesOptions = z.input<typeof LorkdQueuesOptionsSchema>;

export type JobState =
  | 'waiting'
  | 'waiting-children'
  | 'active'
  | 'delayed'
  | 'prioritized'
  | 'completed'
  | 'failed'
  | 'unknown';

/** A snapshot of one job, as the coordinator and `lorkd queues` see it. */
export interface JobInfo {
  readonly id: string;
  readonly queue: QueueName;
  readonly name: string;
  readonly state: JobState;
  readonly data: unknown;
  readonly progress: unknown;
  readonly attemptsMade: number;
  readonly attemptsStarted: number;
  readonly failedReason?: string;
  readonly returnValue?: unknown;
  readonly processedBy?: string;
  readonly createdAt: number;
  readonly processedOn?: number;
  readonly finishedOn?: number;
}

/** A job event from either queue (BullMQ QueueEvents), for the coordinator's watch loop. */
export interface QueueJobEvent {
  readonly queue: QueueName;
  readonly type: 'active' | 'completed' | 'failed' | 'stalled' | 'waiting' | 'progress';
  readonly jobId: string;
  readonly failedReason?: string;
  readonly returnValue?: unknown;
  readonly progress?: unknown;
}

/** A run's flow: the export job (parent, on lorkd-control) and its slot jobs (children, on lorkd-train). */
export interface EnqueuedRun {
  readonly exportJobId: string;
  readonly slotJobIds: readonly string[];
}

/** Job ids of a run's flow; `tag` distinguishes re-enqueues of the same run (e.g. after Redis was lost). */
export function runJobIds(runId: string, tag: string, slots: number): EnqueuedRun {
  return {
    exportJobId: `${runId}--${tag}--export`,
    slotJobIds: Array.from({ length: slots }, (_, s) => `${runId}--${tag}--s${s}`),
  };
}

/**
 * lorkd's two BullMQ queues and the flow producer. A run is a flow whose parent export job (lorkd-control)
 * waits for its slot jobs (lorkd-train). Slot jobs are seats: a worker keeps its seat across generation restarts;
 * a seat whose holder died returns to `wait` by BullMQ's stalled check (lockDuration + stalledInterval) or at once
 * by `requeueActive()` when the coordinator knows the holder is dead (heartbeat lost). A failed slot job does not
 * block its parent (`ignoreDependencyOnFailure`): the export processor must check the run state before exporting.
 */
export class LorkdQueues {
  readonly prefix: string;
  private readonly connections: RedisConnections;
  private readonly logger: Logger;
  private readonly options: z.output<typeof LorkdQueuesOptionsSchema>;
  private readonly control: Queue;
  private readonly train: Queue;
  private readonly flow: FlowProducer;
  private readonly watchers = new Set<QueueEvents>();
  private readonly connection: RedisClient;

  private constructor(
    connections: RedisConnections,
    options: z.output<typeof LorkdQueuesOptionsSchema>,
    logger: Logger,
    queues: { control: Queue; train: Queue; flow: FlowProducer },
    connection: RedisClient,
  ) {
    this.connection = connection;
    this.connections = connections;
    this.options = options;
    this.prefix = options.prefix;
    this.logger = logger;
    this.control = queues.control;
    this.train = queues.train;
    this.flow = queues.flow;
  }

  static async create(
    input: LorkdQueuesOptions & { connections: RedisConnections; logger?: Logger },
  ): Promise<LorkdQueues> {
    const { connections, logger, ...rest } = input;
    const options = LorkdQueuesOptionsSchema.parse(rest);
    const connection = connections.connection('blocking', 'queues');
    const prefix = options.prefix;
    const defaultJobOptions = {
      removeOnComplete: options.keepCompleted,
      removeOnFail: options.keepFailed,
      attempts: 1,
    };
    const control = new Queue(QUEUE_NAMES.control, { connection, prefix, defaultJobOptions });
    const train = new Queue(QUEUE_NAMES.train, { connection, prefix, defaultJobOptions });
    const flow = new FlowProducer({ connection, prefix });
    const log = (logger ?? silentLogger).child({ component: 'queues' });
    const onError = (err: Error) => log.warn(`queue error: ${err.message}`);
    control.on('error', onError);
    train.on('error', onError);
    flow.on('error', onError);
    await Promise.all([control.waitUntilReady(), train.waitUntilReady(), flow.waitUntilReady()]);
    return new LorkdQueues(connections, options, log, { control, train, flow }, connection);
  }

  /**
   * Enqueues a run as one flow: the export job waits for every slot job. `tag` (default `g<generation>`) makes the
   * job ids unique per enqueue of the same run; enqueueing the same tag twice is a no-op (same ids).
   */
  /** `delayMs`: the slot jobs become available to workers only after this long (a restart's backoff). */
  async enqueueRun(input: {
    exportJob: ExportJobData;
    slots: SlotJobData[];
    tag?: string;
    delayMs?: number;
  }): Promise<EnqueuedRun> {
    const exportJob = ExportJobDataSchema.parse(input.exportJob);
    const slots = input.slots.map((s) => SlotJobDataSchema.parse(s));
    const runId = exportJob.runId;
    if (slots.length === 0) throw new ClusterUsageError(`run ${runId}: a run needs at least one slot job`, { runId });
    const worldSize = slots.length;
    slots.forEach((s, i) => {
      if (s.runId !== runId || s.slot !== i || s.worldSize !== worldSize)
        throw new ClusterUsageError(
          `run ${runId}: slot jobs must be given in slot order 0..${worldSize - 1} with runId ${runId} and worldSize ${worldSize}; entry ${i} has runId ${s.runId}, slot ${s.slot}, worldSize ${s.worldSize}`,
          { runId, index: i },
        );
    });
    const tag = input.tag ?? `g${slots[0]?.generation ?? 0}`;
    const ids = runJobIds(runId, tag, worldSize);
    const keep = { removeOnComplete: this.options.keepCompleted, removeOnFail: this.options.keepFailed };
    await this.flow.add({
      name: 'export',
      queueName: QUEUE_NAMES.control,
      data: exportJob,
      opts: { jobId: ids.exportJobId, ...keep },
      children: slots.map((data, i) => ({
        name: 'slot',
        queueName: QUEUE_NAMES.train,
        data,
        opts: {
          jobId: ids.slotJobIds[i],
          ignoreDependencyOnFailure: true,
          ...keep,
          ...(input.delayMs ? { delay: input.delayMs } : {}),
        },
      })),
    });
    this.logger.info('run enqueued', { runId, tag, slots: worldSize });
    return ids;
  }

  /** Enqueues a plan job on lorkd-control (job id `<runId>--plan--<tag>`, deduplicated). */
  async enqueuePlan(input: PlanJobData, tag = 'initial'): Promise<string> {
    const data = PlanJobDataSchema.parse(input);
    const jobId = `${data.runId}--plan--${tag}`;
    await this.control.add('plan', data, { jobId });
    return jobId;
  }

  /** Job counts of both queues. */
  async queueCounts(): Promise<QueueCounts[]> {
    return Promise.all(
      [this.control, this.train].map(async (q) => {
        const c = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
        return {
          name: q.name,
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
          paused: await q.isPaused(),
        };
      }),
    );
  }

  /** One job, or undefined if it does not exist (any more). */
  async getJob(queue: QueueName, jobId: string): Promise<JobInfo | undefined> {
    // State first: a terminal state read before the job hash guarantees the hash has its final fields.
    const q = this.queue(queue);
    const state = (await q.getJobState(jobId)) as JobState;
    const job = await q.getJob(jobId);
    return job ? this.info(queue, job, state) : undefined;
  }

  /** The slot jobs (any state) of a run. */
  async slotJobs(runId: string): Promise<JobInfo[]> {
    const jobs = await this.train.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
    const mine = jobs.filter((j): j is Job => !!j && (j.data as Partial<SlotJobData>).runId === runId);
    const infos = await Promise.all(mine.map((j) => this.info(QUEUE_NAMES.train, j)));
    return infos.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Moves an active job back to `wait` without its holder's lock. Only for a holder known to be dead (its
   * heartbeat expired): if it is alive after all, its lock renewal fails and its processor's signal aborts.
   * Returns false when the job is not active.
   */
  async requeueActive(queue: QueueName, jobId: string): Promise<boolean> {
    const q = this.queue(queue);
    const job = await q.getJob(jobId);
    if (!job || (await job.getState()) !== 'active') return false;
    // Drop the holder's lock first: a live holder's next renewal fails and its processor's signal aborts.
    await this.connections.command.del(`${this.prefix}:${queue}:${jobId}:lock`);
    await job.moveToWait('0');
    this.logger.info('active job requeued', { queue, jobId });
    return true;
  }

  /**
   * Removes a run's jobs that are not being processed (waiting/delayed slot jobs, the export parent when it is not
   * active). Active slot jobs stay: their workers see the run cancelled and return. Returns the number removed.
   */
  async removeRunJobs(runId: string): Promise<number> {
    let removed = 0;
    for (const q of [this.train, this.control]) {
      const jobs = await q.getJobs(['waiting', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed']);
      for (const job of jobs) {
        if (!job || (job.data as { runId?: string }).runId !== runId) continue;
        try {
          await job.remove({ removeChildren: false });
          removed++;
        } catch (err) {
          this.logger.debug('job not removed (locked or gone)', {
            jobId: job.id,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
    }
    return removed;
  }

  /** Streams job events of both queues to `listener` until the returned function is called. */
  async watch(listener: (event: QueueJobEvent) => void): Promise<() => Promise<void>> {
    const made: { events: QueueEvents; connection: RedisClient }[] = [];
    for (const queue of [QUEUE_NAMES.control, QUEUE_NAMES.train] as const) {
      const connection = this.connections.connection('blocking', `events-${queue}`);
      const events = new QueueEvents(queue, { connection, prefix: this.prefix, blockingTimeout: 1000 });
      events.on('error', (err: Error) => this.logger.warn(`queue events error: ${err.message}`, { queue }));
      const emit = (e: QueueJobEvent) => {
        try {
          listener(e);
        } catch (err) {
          this.logger.error('queue event listener threw', { error: err instanceof Error ? err.message : String(err) });
        }
      };
      events.on('active', ({ jobId }) => emit({ queue, type: 'active', jobId }));
      events.on('waiting', ({ jobId }) => emit({ queue, type: 'waiting', jobId }));
      events.on('stalled', ({ jobId }) => emit({ queue, type: 'stalled', jobId }));
      events.on('completed', ({ jobId, returnvalue }) =>
        emit({ queue, type: 'completed', jobId, returnValue: returnvalue }),
      );
      events.on('failed', ({ jobId, failedReason }) => emit({ queue, type: 'failed', jobId, failedReason }));
      events.on('progress', ({ jobId, data }) => emit({ queue, type: 'progress', jobId, progress: data }));
      await events.waitUntilReady();
      made.push({ events, connection });
      this.watchers.add(events);
    }
    return async () => {
      for (const { events, connection } of made) {
        this.watchers.delete(events);
        await events.close();
        await this.connections.release(connection);
      }
    };
  }

  /** Removes every job and key of both queues (tests, `lorkd` admin). Refuses while jobs are active unless forced. */
  async obliterate(force = false): Promise<void> {
    await this.control.obliterate({ force });
    await this.train.obliterate({ force });
  }

  async close(): Promise<void> {
    await Promise.all([...this.watchers].map((w) => w.close()));
    this.watchers.clear();
    await Promise.all([this.flow.close(), this.control.close(), this.train.close()]);
    await this.connections.release(this.connection);
  }

  private queue(name: QueueName): Queue {
    if (name === QUEUE_NAMES.control) return this.control;
    if (name === QUEUE_NAMES.train) return this.train;
    throw new ClusterUsageError(`unknown queue ${String(name)}; use ${QUEUE_NAMES.control} or ${QUEUE_NAMES.train}`);
  }

  private async info(queue: QueueName, job: Job, knownState?: JobState): Promise<JobInfo> {
    const state = knownState ?? ((await job.getState()) as JobState);
    return {
      id: job.id ?? '',
      queue,
      name: job.name,
      state,
      data: job.data,
      progress: job.progress,
      attemptsMade: job.attemptsMade,
      attemptsStarted: job.attemptsStarted,
      ...(job.failedReason ? { failedReason: job.failedReason } : {}),
      ...(job.returnvalue !== undefined && job.returnvalue !== null ? { returnValue: job.returnvalue } : {}),
      ...(job.processedBy ? { processedBy: job.processedBy } : {}),
      createdAt: job.timestamp,
      ...(job.processedOn ? { processedOn: job.processedOn } : {}),
      ...(job.finishedOn ? { finishedOn: job.finishedOn } : {}),
    };
  }
}

export type { ControlJobData };
