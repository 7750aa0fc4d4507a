import { LorkdError } from '@lorkd/contracts';

/** A backend the caller asked for explicitly cannot run here. `fields.attempts` says why each tier failed. */
export class BackendUnavailableError extends LorkdError {
  constructor(message: string, fields: Record<string, unknown>, options: { cause?: unknown } = {}) {
    super('E_BACKEND_UNAVAILABLE', message, { fields, cause: options.cause });
  }
}

/** A custom kernel got input it does not handle (shape, dtype, layout); the message names the attribute. */
export class KernelInputError extends LorkdError {
  constructor(kernel: string, message: string, fields: Record<string, unknown> = {}) {
    super('E_KERNEL_INPUT', `${kernel}: ${message}`, { fields: { kernel, ...fields } });
  }
}

/** A worker thread failed to start, crashed, or its task threw; `fields.thread` names the thread. */
export class ThreadPoolError extends LorkdError {
  constructor(message: string, fields: Record<string, unknown>, options: { cause?: unknown } = {}) {
    super('E_THREAD_POOL', message, { fields, cause: options.cause });
  }
}
