/** Structured fields attached to a log line. Well-known keys: runId, slot, rank, step, region, generation. */
export type LogFields = Readonly<Record<string, unknown>>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * The logging interface every lorkd library takes. Libraries never write to the console; apps
 * inject a concrete logger (winston, from @lorkd/telemetry) in their `main.ts`.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line it writes. */
  child(fields: LogFields): Logger;
}

/** A logger that drops everything: the default where a caller passes none. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
