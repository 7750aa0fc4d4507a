import type { Logger } from '@lorkd/contracts';

/** Where the stop signals come from: `process`, or an emitter in a test. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface UntilStoppedOptions {
  readonly logger: Logger;
  /** Logged as `SIGNAL: MESSAGE` when the first signal arrives. */
  readonly message: string;
  /** Stops the process's work; its failure is logged and gives exit code 1. */
  readonly stop: (signal: NodeJS.Signals) => Promise<unknown>;
  readonly signals?: readonly NodeJS.Signals[];
  readonly source?: SignalSource;
}

/**
 * For a server process's main(): resolves with its exit code once SIGTERM or SIGINT has arrived and
 * `stop` has finished (0), or failed (1, logged). Signals that arrive while stopping are ignored.
 */
export function untilStopped(options: UntilStoppedOptions): Promise<number> {
  const source = options.source ?? process;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      options.logger.info(`${signal}: ${options.message}`);
      Promise.resolve()
        .then(() => options.stop(signal))
        .then(
          () => resolve(0),
          (err: unknown) => {
            options.logger.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
            resolve(1);
          },
        );
    };
    for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) source.on(signal, onSignal);
  });
}
