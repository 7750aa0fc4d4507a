import { LorkdError } from '@lorkd/contracts';

/** Redis could not be reached (at start-up) or the connection was lost while an operation needed it. */
export class RedisUnavailableError extends LorkdError {
  constructor(message: string, options: { fields?: Record<string, unknown>; cause?: unknown } = {}) {
    super('E_REDIS_UNAVAILABLE', message, options);
  }
}

/** The Redis server is configured in a way lorkd cannot run safely on (e.g. an evicting `maxmemory-policy`). */
export class RedisConfigError extends LorkdError {
  constructor(message: string, options: { fields?: Record<string, unknown>; cause?: unknown } = {}) {
    super('E_REDIS_CONFIG', message, options);
  }
}

/** A run id that has no record in Redis. */
export class RunNotFoundError extends LorkdError {
  constructor(runId: string) {
    super('E_RUN_NOT_FOUND', `run ${runId} not found (was it created with this queue prefix and Redis?)`, {
      fields: { runId },
    });
  }
}

/** A run with this id already exists. */
export class RunExistsError extends LorkdError {
  constructor(runId: string) {
    super('E_RUN_EXISTS', `run ${runId} already exists`, { fields: { runId } });
  }
}

/** A member of generation `generation` tried to act after the run moved on to `current`. */
export class GenerationFencedError extends LorkdError {
  constructor(
    what: string,
    fields: { runId: string; generation: number; current: number | null } & Record<string, unknown>,
  ) {
    const now = fields.current === null ? 'no open generation' : `generation ${fields.current}`;
    super(
      'E_GENERATION_FENCED',
      `${what} rejected: run ${fields.runId} generation ${fields.generation} is fenced off (the run is at ${now})`,
      { fields },
    );
  }
}

/** A collective or rendezvous wait ran out of time; the message names what was waited for and who is missing. */
export class CollectiveTimeoutError extends LorkdError {
  readonly missingRanks: readonly number[];
  constructor(message: string, fields: { missingRanks: number[] } & Record<string, unknown>) {
    super('E_COLLECTIVE_TIMEOUT', message, { fields });
    this.missingRanks = fields.missingRanks;
  }
}

/** Wrong arguments to a cluster API (bad group, rank not in group, length mismatch, ...). */
export class ClusterUsageError extends LorkdError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('E_CLUSTER_USAGE', message, { fields });
  }
}

/** An operation was aborted through its AbortSignal. */
export class ClusterAbortedError extends LorkdError {
  /** Why: 'release' (worker hands its job back), 'lock-lost', 'close', or 'signal' (a caller's AbortSignal). */
  readonly kind: string;
  constructor(what: string, reason?: unknown, kind = 'signal') {
    super('E_ABORTED', `${what} aborted${reason instanceof Error ? `: ${reason.message}` : ''}`, {
      cause: reason,
      fields: { kind },
    });
    this.kind = kind;
  }
}

/**
 * Thrown (or returned via `ctx.release()`) by a job processor to hand its job back to the queue so that another
 * worker picks it up. The job is not counted as failed or as an attempt.
 */
export class JobReleasedError extends LorkdError {
  constructor(reason = 'released') {
    super('E_JOB_RELEASED', `job released back to the queue: ${reason}`, { fields: { reason } });
  }
}
