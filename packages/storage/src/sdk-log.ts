import type { LogFields, Logger } from '@lorkd/contracts';

/** What a log line may say about an AWS SDK (or network) error: never its request, headers or credentials. */
export interface SdkErrorSummary {
  readonly name: string;
  readonly message: string;
  /** HTTP status of the response, when there was one. */
  readonly status?: number;
  /** Node's error code for network failures (ECONNREFUSED, ETIMEDOUT, ...). */
  readonly code?: string;
  /** The S3 request id, for support tickets. */
  readonly requestId?: string;
}

interface SdkErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
}

/** Name, message, HTTP status and network code of an SDK error (`String(err)` drops the status). */
export function describeSdkError(error: unknown): SdkErrorSummary {
  if (typeof error !== 'object' || error === null) return { name: 'Error', message: String(error) };
  const e = error as SdkErrorLike;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const code = str(e.code) ?? str(e.Code);
  const requestId = str(e.$metadata?.requestId);
  const name = str(e.name) ?? 'Error';
  return {
    name,
    message: str(e.message) ?? (status ? `HTTP ${status}` : name),
    ...(status !== undefined ? { status } : {}),
    ...(code && code !== name ? { code } : {}),
    ...(requestId ? { requestId } : {}),
  };
}

/** `NoSuchBucket (HTTP 404): The specified bucket does not exist` / `Error (ECONNREFUSED): connect ...`. */
export function formatSdkError(error: unknown): string {
  const d = describeSdkError(error);
  const extra = [d.status ? `HTTP ${d.status}` : undefined, d.code].filter(Boolean).join(', ');
  return `${d.name}${extra ? ` (${extra})` : ''}: ${d.message}`;
}

/** One object the SDK's logger middleware logs: `{ clientName, commandName, input, output | error, metadata }`. */
interface SdkLogRecord {
  clientName?: unknown;
  commandName?: unknown;
  input?: { Bucket?: unknown; Key?: unknown; Prefix?: unknown };
  error?: unknown;
}

/** Turns the SDK's logger arguments (strings and the middleware's records) into a message and safe fields. */
export function sdkLogLine(args: readonly unknown[]): { message: string; fields: LogFields; error?: unknown } {
  const words: string[] = [];
  let fields: Record<string, unknown> = {};
  let error: unknown;
  for (const arg of args) {
    if (arg instanceof Error) {
      error = arg;
      continue;
    }
    if (typeof arg !== 'object' || arg === null) {
      words.push(String(arg));
      continue;
    }
    const rec = arg as SdkLogRecord;
    const command = typeof rec.commandName === 'string' ? rec.commandName : undefined;
    if (command) words.push(command);
    const input = rec.input ?? {};
    // only the object's address: the input can hold bodies and SSE keys, the client config holds credentials
    for (const k of ['Bucket', 'Key', 'Prefix'] as const)
      if (typeof input[k] === 'string') fields = { ...fields, [k.toLowerCase()]: input[k] };
    if (rec.error !== undefined) error = rec.error;
  }
  if (error !== undefined) {
    const { name, message, ...rest } = describeSdkError(error);
    fields = { ...fields, errorName: name, error: message, ...rest };
    words.push(`failed: ${formatSdkError(error)}`);
  }
  return { message: words.join(' ') || 'aws-sdk', fields, ...(error !== undefined ? { error } : {}) };
}

/**
 * A logger for the SDK client (`new S3Client({ logger })`). The middleware reports every failed
 * request at `error` level, including the 404s of lookups (NoSuchKey), the 412s of conditional
 * writes and the 501s of optional APIs (multipart listing on s3rver) that the store handles; those
 * go to debug, other failures to warn (the store throws a StorageError
 * naming the object for anything it cannot handle).
 */
export function sdkLogger(logger: Logger): {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
} {
  const at =
    (level: 'debug' | 'warn') =>
    (...args: unknown[]) => {
      const line = sdkLogLine(args);
      const d = line.error === undefined ? undefined : describeSdkError(line.error);
      const expected =
        (d?.status === 404 && (d.name === 'NoSuchKey' || d.name === 'NotFound')) ||
        d?.status === 409 ||
        d?.status === 412 ||
        d?.status === 501;
      logger[expected ? 'debug' : level](line.message, line.fields);
    };
  return { debug: at('debug'), info: at('debug'), warn: at('warn'), error: at('warn') };
}
