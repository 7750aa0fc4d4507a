import type { IncomingMessage, ServerResponse } from 'node:http';
import { LorkdError, ValidationError } from '@lorkd/contracts';

/** An error with the HTTP status it maps to. */
export class HttpError extends LorkdError {
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(code, message, { fields: { status } });
    this.status = status;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/** `{ error: { code, message, issues? } }`; a 500 hides the internal message. */
export function sendError(res: ServerResponse, status: number, err: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const code = err instanceof LorkdError ? err.code : 'E_INTERNAL';
  const message =
    status >= 500 && !(err instanceof LorkdError)
      ? 'internal error (see the coordinator log)'
      : err instanceof Error
        ? err.message
        : String(err);
  const issues = err instanceof ValidationError ? err.issues : undefined;
  sendJson(res, status, { error: { code, message, ...(issues ? { issues } : {}) } });
}

/** Reads a request body up to `limit` bytes (413 beyond). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new HttpError(413, 'E_TOO_LARGE', `request body over ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
