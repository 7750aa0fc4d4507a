import { LorkdError } from '@lorkd/contracts';

/** Exit codes of every verb. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Bad command line or configuration: printed as one line per problem, exit code 2. */
export class UsageError extends LorkdError {
  readonly lines: readonly string[];

  constructor(
    lines: string | readonly string[],
    readonly command?: string,
  ) {
    const list = typeof lines === 'string' ? [lines] : lines;
    super('E_USAGE', list.join('\n'), { fields: { command } });
    this.lines = list;
  }
}

/** The operation failed (coordinator unreachable, run failed, …): exit code 1. */
export class CliError extends LorkdError {
  constructor(message: string, options: { fields?: Record<string, unknown>; cause?: unknown } = {}) {
    super('E_CLI', message, options);
  }
}
