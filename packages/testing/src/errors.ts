/** Why a server child could not be started. */
export type ServerStartFailure = 'not-found' | 'spawn-failed' | 'exited' | 'timeout';

/** A server child (redis-server, …) did not start; `output` holds the last lines it printed. */
export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';

  constructor(
    message: string,
    readonly fields: { readonly command: string; readonly reason: ServerStartFailure; readonly output: string },
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}
