import type { QueueCounts, RunEvent, RunRecord, RunSpec } from '@lorkd/contracts';
import { CliError } from './errors.js';

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly token: string;
  /** Give up reconnecting an event stream after this long without a connection; default 60 s. */
  readonly reconnectForMs?: number;
}

/** A thin client of the coordinator's HTTP API (what `lorkd run/status/cancel/resume/queues` use). */
export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #reconnectForMs: number;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#reconnectForMs = options.reconnectForMs ?? 60_000;
  }

  async #call<T>(method: string, path: string, body?: { type: string; text: string }): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.#token}`, ...(body ? { 'Content-Type': body.type } : {}) },
        ...(body ? { body: body.text } : {}),
      });
    } catch (e) {
      throw new CliError(
        `cannot reach the coordinator at ${this.baseUrl} (${(e as Error).message}); is it running? (lorkd up, or set LORKD_API_URL)`,
        { cause: e },
      );
    }
    const text = await res.text();
    if (res.status === 401)
      throw new CliError(`the coordinator at ${this.baseUrl} rejected the API token (check LORKD_API_TOKEN)`);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`the coordinator answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const e = (json as { error?: { message?: string; issues?: { path: string; message: string }[] } })?.error;
      const issues = e?.issues?.map((i) => `\n  - ${i.path || '(root)'}: ${i.message}`).join('') ?? '';
      throw new CliError(`${e?.message ?? `HTTP ${res.status}`}${issues}`, { fields: { status: res.status } });
    }
    return json as T;
  }

  async listRuns(): Promise<RunRecord[]> {
    return (await this.#call<{ runs: RunRecord[] }>('GET', '/api/runs')).runs;
  }
  getRun(id: string): Promise<RunRecord> {
    return this.#call('GET', `/api/runs/${encodeURIComponent(id)}`);
  }
  createRun(spec: RunSpec): Promise<RunRecord> {
    return this.#call('POST', '/api/runs', { type: 'application/json', text: JSON.stringify(spec) });
  }
  cancelRun(id: string, reason?: string): Promise<RunRecord> {
    return this.#call('POST', `/api/runs/${encodeURIComponent(id)}/cancel`, {
      type: 'application/json',
      text: JSON.stringify(reason ? { reason } : {}),
    });
  }
  resumeRun(id: string): Promise<RunRecord> {
    return this.#call('POST', `/api/runs/${encodeURIComponent(id)}/resume`);
  }
  async queues(): Promise<QueueCounts[]> {
    return (await this.#call<{ queues: QueueCounts[] }>('GET', '/api/queues')).queues;
  }
  /** A report file of a finished run (`report.json`, `index.html`), or undefined when absent. */
  async reportFile(id: string, file: string): Promise<Uint8Array | undefined> {
    const res = await fetch(`${this.baseUrl}/api/runs/${encodeURIComponent(id)}/report/${file}`, {
      headers: { Authorization: `Bearer ${this.#token}` },
    }).catch((e: unknown) => {
      throw new CliError(`cannot reach the coordinator at ${this.baseUrl}: ${(e as Error).message}`, { cause: e });
    });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new CliError(`reading ${file} of run ${id} failed: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * A run's events (past, then live) over SSE. Reconnects with Last-Event-ID when the coordinator
   * restarts, so a follower survives it; ends when `signal` aborts or reconnecting fails for too long.
   */
  async *events(id: string, signal: AbortSignal): AsyncGenerator<{ id: string; event: RunEvent }> {
    let lastId: string | undefined;
    let downSince: number | undefined;
    while (!signal.aborted) {
      let res: Response | undefined;
      try {
        res = await fetch(`${this.baseUrl}/api/runs/${encodeURIComponent(id)}/events`, {
          headers: {
            Authorization: `Bearer ${this.#token}`,
            Accept: 'text/event-stream',
            ...(lastId ? { 'Last-Event-ID': lastId } : {}),
          },
          signal,
        });
      } catch (e) {
        if (signal.aborted) return;
        downSince ??= Date.now();
        if (Date.now() - downSince > this.#reconnectForMs)
          throw new CliError(
            `lost the coordinator at ${this.baseUrl} for ${Math.round(this.#reconnectForMs / 1000)} s`,
            {
              cause: e,
            },
          );
        await sleep(1000, signal);
        continue;
      }
      if (res.status === 401) throw new CliError('the coordinator rejected the API token (check LORKD_API_TOKEN)');
      if (res.status === 404) throw new CliError(`no run '${id}'`);
      if (!res.ok || !res.body) throw new CliError(`event stream of run ${id} failed: HTTP ${res.status}`);
      downSince = undefined;
      try {
        for await (const frame of sseFrames(res.body)) {
          if (frame.id !== undefined) lastId = frame.id;
          if (frame.event === 'error') throw new CliError(`event stream error: ${frame.data}`);
          if (frame.id === undefined || !frame.data) continue;
          yield { id: frame.id, event: JSON.parse(frame.data) as RunEvent };
        }
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof CliError) throw e;
        // The connection dropped (coordinator restart): reconnect after the last event seen.
      }
      await sleep(500, signal);
    }
  }
}

/** Splits a text/event-stream body into frames (`id`, `event`, `data`). */
export async function* sseFrames(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ id?: string; event?: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const frame: { id?: string; event?: string; data: string } = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') frame.data = frame.data ? `${frame.data}\n${value}` : value;
      }
      if (frame.id !== undefined || frame.data !== '' || frame.event !== undefined) yield frame;
      cut = buffer.indexOf('\n\n');
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
