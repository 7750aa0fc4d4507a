import type { Logger } from '@lorkd/contracts';
import { silentLogger } from '@lorkd/contracts';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { z } from 'zod';
import { ClusterAbortedError, JobReleasedError } from './errors.js';
import {
  type ControlJobData,
  ControlJobDataSchema,
  QUEUE_NAMES,
  type QueueName,
  type SlotJobData,
  SlotJobDataSchema,
} from './job-data.js';
import { QueuePrefixSchema } from './queues.js';
import type { RedisConnections } from './redis-connections.js';

export const QueueWorkerOptionsSchema = z.object({
  prefix: QueuePrefixSchema.default('lorkd'),
  /** Shown in `processedBy` and logs (LORKD_WORKER_ID). */
  workerName: z.string().min(1).optional(),
  concurrency: z.number().int().positive().default(1),
  /**
   * How long a job's lock lives without renewal; BullMQ renews it every `lockDurationMs / 2` from this process's
   * event loop, so keep heavy compute off the loop (worker threads). A dead holder's job returns to `wait` after
   * at most lockDurationMs + stalledIntervalMs.
   */
  lockDurationMs: z.number().int().min(1000).default(10_000),
  /** How often this worker checks for stalled jobs (locks that expired) and moves them back to wait. */
  stalledIntervalMs: z.number().int().min(500).default(5_000),
  /** How many times a job may stall (holder died) before it fails; seats survive many worker crashes. */
  maxStalledCount: z.number().int().nonnegative().default(1000),
  /** Seconds the worker long-polls for a job when the queue is empty. */
  drainDelaySec: z.number().int().positive().default(5),
});
export type QueueWorkerOptions = z.input<typeof QueueWorkerOptionsSchema>;

/** Why a processor's signal was aborted. */
export type AbortReasonKind = 'release' | 'lock-lost';

/** Everything a job processor gets besides its (validated) data. */
export interface JobContext {
  readonly jobId: string;
  /** How many times this job was started (1 on the first run; releases and stalls add to it). */
  readonly attemptsStarted: number;
  /**
   * Aborted when the worker is asked to release its jobs (`close({ release: true })`, e.g. on SIGTERM), when the
   * job's lock is lost (another worker may hold it now); plain `close()` lets jobs finish. `signal.reason` is a
   * {@link ClusterAbortedError} whose `kind` is the {@link AbortReasonKind}.
   */
  readonly signal: AbortSignal;
  /** Stores progress on the job (BullMQ `updateProgress`). */
  updateProgress(progress: number | object): Promise<void>;
  /** Hands the job back to the queue for another worker (not a failure, not an attempt). Never returns. */
  release(reason?: string): never;
}

export type JobProcessor<T, R> = (data: T, ctx: JobContext) => Promise<R>;

/**
 * A thin wrapper around a BullMQ `Worker`: validates job data with zod (invalid data fails the job at once, no
 * retries), gives the processor an abort signal and a `release()` that hands the job back to the queue, and
 * closes gracefully. It does not run processors in threads: callers keep heavy compute off the event loop.
 */
export class QueueWorker<T, R> {
  readonly queue: QueueName;
  private readonly worker: Worker;
  private readonly logger: Logger;
  private readonly active = new Map<string, AbortController>();
  private releasing = false;
  private readonly releaseConnection: () => Promise<void>;

  private constructor(queue: QueueName, worker: Worker, logger: Logger, releaseConnection: () => Promise<void>) {
    this.releaseConnection = releaseConnection;
    this.queue = queue;
    this.worker = worker;
    this.logger = logger;
  }

  static async create<T, R>(
    input: QueueWorkerOptions & {
      connections: RedisConnections;
      queue: QueueName;
      schema: z.ZodType<T>;
      processor: JobProcessor<T, R>;
      logger?: Logger;
    },
  ): Promise<QueueWorker<T, R>> {
    const { connections, queue, schema, processor, logger, ...rest } = input;
    const o = QueueWorkerOptionsSchema.parse(rest);
    const log = (logger ?? silentLogger).child({ component: 'queue-worker', queue });
    let self: QueueWorker<T, R> | undefined;
    const connection = connections.connection('blocking', `worker-${queue}`);
    const worker = new Worker(queue, async (job: Job, token?: string) => self?.process(job, token, schema, processor), {
      connection,
      prefix: o.prefix,
      ...(o.workerName ? { name: o.workerName } : {}),
      concurrency: o.concurrency,
      lockDuration: o.lockDurationMs,
      lockRenewTime: Math.floor(o.lockDurationMs / 2),
      stalledInterval: o.stalledIntervalMs,
      maxStalledCount: o.maxStalledCount,
      drainDelay: o.drainDelaySec,
      autorun: false,
    });
    self = new QueueWorker<T, R>(queue, worker, log, () => connections.release(connection));
    const me = self;
    worker.on('error', (err: Error) => log.warn(`worker error: ${err.message}`));
    worker.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const id of jobIds) {
        log.warn('lock renewal failed: the job may be taken over by another worker', { jobId: id });
        me.active
          .get(id)
          ?.abort(
            new ClusterAbortedError(
              `job ${id}`,
              new Error(`lock of job ${id} lost`),
              'lock-lost' satisfies AbortReasonKind,
            ),
          );
      }
    });
    worker.run().catch((err: unknown) => log.error('worker loop ended', { error: String(err) }));
    await worker.waitUntilReady();
    return self;
  }

  /** Number of jobs this worker is processing now. */
  get activeJobs(): number {
    return this.active.size;
  }

  /**
   * Stops taking jobs and waits for the current ones. With `release: true` the processors' signals abort first
   * (kind 'release') so they can checkpoint and call `ctx.release()`; their jobs then go back to `wait` for
   * another worker. With `force: true` it does not wait (jobs stall and come back after the lock expires).
   */
  async close(options: { release?: boolean; force?: boolean; reason?: string } = {}): Promise<void> {
    if (options.release) {
      this.releasing = true;
      for (const [id, ctl] of this.active) {
        const why = new Error(options.reason ?? 'worker shutting down');
        ctl.abort(new ClusterAbortedError(`job ${id}`, why, 'release' satisfies AbortReasonKind));
      }
    }
    await this.worker.close(options.force ?? false);
    await this.releaseConnection();
  }

  private async process(
    job: Job,
    token: string | undefined,
    schema: z.ZodType<T>,
    processor: JobProcessor<T, R>,
  ): Promise<R> {
    const id = job.id ?? '';
    const parsed = schema.safeParse(job.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UnrecoverableError(
        `invalid ${this.queue} job ${id} data: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const ctl = new AbortController();
    this.active.set(id, ctl);
    const ctx: JobContext = {
      jobId: id,
      attemptsStarted: job.attemptsStarted,
      signal: ctl.signal,
      updateProgress: (p) => job.updateProgress(p),
      release: (reason?: string) => {
        throw new JobReleasedError(reason);
      },
    };
    try {
      return await processor(parsed.data, ctx);
    } catch (err) {
      const released =
        err instanceof JobReleasedError || (this.releasing && ctl.signal.aborted && err instanceof ClusterAbortedError);
      if (!released) throw err;
      const reason = err instanceof JobReleasedError ? String(err.fields.reason) : 'shutdown';
      try {
        await job.moveToWait(token);
        this.logger.info('job released back to the queue', { jobId: id, reason });
      } catch (moveErr) {
        // Lock already gone (e.g. requeued by the coordinator): the job is not ours any more either way.
        this.logger.warn('could not release job (lock lost?)', {
          jobId: id,
          error: moveErr instanceof Error ? moveErr.message : String(moveErr),
        });
      }
      throw new WaitingError();
    } finally {
      this.active.delete(id);
    }
  }
}

/** A worker on `lorkd-train` taking slot jobs. */
export function createSlotWorker<R>(
  input: QueueWorkerOptions & {
    connections: RedisConnections;
    processor: JobProcessor<SlotJobData, R>;
    logger?: Logger;
  },
): Promise<QueueWorker<SlotJobData, R>> {
  return QueueWorker.create({ ...input, queue: QUEUE_NAMES.train, schema: SlotJobDataSchema });
}

/** A worker on `lorkd-control` taking plan and export jobs (the coordinator). */
export function createControlWorker<R>(
  input: QueueWorkerOptions & {
    connections: RedisConnections;
    processor: JobProcessor<ControlJobData, R>;
    logger?: Logger;
  },
): Promise<QueueWorker<ControlJobData, R>> {
  return QueueWorker.create({ ...input, queue: QUEUE_NAMES.control, schema: ControlJobDataSchema });
}
