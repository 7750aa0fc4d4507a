import { LorkdError } from '@lorkd/contracts';

/** A data file could not be read or written: names the file, the member (inside an npz) and the problem. */
export class DataFormatError extends LorkdError {
  readonly file: string;
  readonly member: string | undefined;
  readonly problem: string;

  constructor(file: string, member: string | undefined, problem: string, options: { cause?: unknown } = {}) {
    const where = member === undefined ? file : `${file} [member ${member}]`;
    super('E_DATA_FORMAT', `${where}: ${problem}`, { fields: { file, member, problem }, cause: options.cause });
    this.file = file;
    this.member = member;
    this.problem = problem;
  }
}

/** A dataset spec or phantom option is unusable (missing split, label out of range, mismatched shapes, …). */
export class DatasetError extends LorkdError {
  constructor(message: string, fields: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    super('E_DATASET', message, { fields, cause: options.cause });
  }
}
