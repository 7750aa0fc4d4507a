import type { LogFields, Logger, LogLevel } from '@lorkd/contracts';
import winston from 'winston';

export interface WinstonLoggerOptions {
  level?: LogLevel;
  /** `json` for machines (production), `pretty` for a terminal. */
  format?: 'json' | 'pretty';
  /** Fields put on every line (e.g. `{ service: 'worker', workerId }`). */
  fields?: LogFields;
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  stream?: NodeJS.WritableStream;
}

const FIRST_FIELDS = ['runId', 'slot', 'rank', 'step', 'region', 'generation'] as const;

function prettyLine(info: winston.Logform.TransformableInfo): string {
  const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of FIRST_FIELDS) {
    if (rest[key] !== undefined) {
      parts.push(`${key}=${String(rest[key])}`);
      delete rest[key];
    }
  }
  for (const [key, value] of Object.entries(rest)) {
    if (typeof key === 'symbol') continue;
    parts.push(`${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  const time = typeof timestamp === 'string' ? timestamp.slice(11, 23) : '';
  return `${time} ${String(level).padEnd(5)} ${String(message)}${parts.length > 0 ? `  ${parts.join(' ')}` : ''}`;
}

function serialiseErrors(fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!fields) return out;
  for (const [key, value] of Object.entries(fields)) {
    out[key] =
      value instanceof Error
        ? { name: value.name, message: value.message, code: (value as { code?: unknown }).code }
        : value;
  }
  return out;
}

class WinstonLogger implements Logger {
  readonly #inner: winston.Logger;

  constructor(inner: winston.Logger) {
    this.#inner = inner;
  }

  debug(message: string, fields?: LogFields): void {
    this.#inner.debug(message, serialiseErrors(fields));
  }
  info(message: string, fields?: LogFields): void {
    this.#inner.info(message, serialiseErrors(fields));
  }
  warn(message: string, fields?: LogFields): void {
    this.#inner.warn(message, serialiseErrors(fields));
  }
  error(message: string, fields?: LogFields): void {
    this.#inner.error(message, serialiseErrors(fields));
  }
  child(fields: LogFields): Logger {
    return new WinstonLogger(this.#inner.child(serialiseErrors(fields)));
  }
}

/** Builds the winston-backed `Logger` apps inject into lorkd's libraries. */
export function createWinstonLogger(options: WinstonLoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const pretty = options.format === 'pretty';
  const format = pretty
    ? winston.format.combine(winston.format.timestamp(), winston.format.printf(prettyLine))
    : winston.format.combine(winston.format.timestamp(), winston.format.json());
  const inner = winston.createLogger({
    level: options.level ?? 'info',
    format,
    defaultMeta: options.fields ? { ...options.fields } : undefined,
    transports: [new winston.transports.Stream({ stream })],
  });
  return new WinstonLogger(inner);
}
