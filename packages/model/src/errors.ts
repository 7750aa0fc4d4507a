import { LorkdError } from '@lorkd/contracts';

/** A model was asked for something its configuration or inputs do not allow. */
export class ModelError extends LorkdError {
  constructor(message: string, fields: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    super('E_MODEL', message, { fields, cause: options.cause });
  }
}
