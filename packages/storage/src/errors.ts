import { LorkdError } from '@lorkd/contracts';

/** An object store operation failed (network, permissions, a full disk, ...). */
export class StorageError extends LorkdError {
  constructor(message: string, options: { fields?: Record<string, unknown>; cause?: unknown } = {}) {
    super('E_STORAGE', message, options);
  }
}

/** A storage URL or option was malformed; the message says what to write instead. */
export class StorageConfigError extends LorkdError {
  constructor(message: string, options: { fields?: Record<string, unknown>; cause?: unknown } = {}) {
    super('E_STORAGE_CONFIG', message, options);
  }
}

/** Stored bytes do not match their recorded hash, or a manifest/pointer does not parse. */
export class IntegrityError extends LorkdError {
  constructor(message: string, options: { fields?: Record<string, unknown>; cause?: unknown } = {}) {
    super('E_INTEGRITY', message, options);
  }
}

/** A conditional write was asked of a server that ignores conditional headers (see `conditionalWrites()`). */
export class ConditionalWritesUnsupportedError extends LorkdError {
  constructor(url: string) {
    super(
      'E_CONDITIONAL_UNSUPPORTED',
      `${url} does not honour If-None-Match/If-Match; use the compare-and-set fallback (docs/storage.md)`,
      { fields: { url } },
    );
  }
}

/** A checkpoint that was asked for does not exist. */
export class CheckpointNotFoundError extends LorkdError {
  constructor(runId: string, step: number) {
    super('E_CHECKPOINT_NOT_FOUND', `run ${runId} has no checkpoint at step ${step}`, { fields: { runId, step } });
  }
}
