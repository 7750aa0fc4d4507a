import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Logger,
  LorkdError,
  parseRunSpec,
  parseRunSpecYaml,
  type RunRecord,
  type RunService,
  ValidationError,
} from '@lorkd/contracts';
import { createMetrics } from '@lorkd/telemetry';
import { createDashboard } from '../dashboard/dashboard.js';
import { presentedToken, tokenCookie, tokenMatches } from './auth.js';
import { HttpError, readBody, sendError, sendJson } from './respond.js';
import { streamEvents } from './sse.js';

/** What `/metrics` serves (the `LorkdMetrics` of `@lorkd/telemetry` fits). */
export interface MetricsEndpoint {
  render(): Promise<string>;
  readonly contentType: string;
  /** When present, called for every run before each scrape so run/region series are current. */
  observeRecord?(record: RunRecord): void;
}

/** Files of a finished run's report (`report.json`, `index.html`, plots), read from the checkpoint store. */
export interface ReportSource {
  read(runId: string, file: string): Promise<Uint8Array | undefined>;
}

export interface HttpServerOptions {
  runs: RunService;
  /** Bearer token for everything but `/healthz`, `/readyz` and the dashboard's static files. */
  token: string;
  logger: Logger;
  /**
   * `/metrics`. Default: lorkd's metrics (`createMetrics`) with queue depths from `runs.queues()` and
   * run/region series refreshed from `runs.list()` at each scrape; `false` turns `/metrics` off.
   */
  metrics?: MetricsEndpoint | false;
  reports?: ReportSource;
  /** Readiness (Redis reachable, queues open, …); default: always ready. */
  ready?: () => Promise<boolean> | boolean;
  /** Largest accepted request body; default 1 MiB. */
  maxBodyBytes?: number;
}

export interface LorkdHttpServer {
  /** The request handler, to mount on a server of your own. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Starts listening; resolves with the base URL. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops listening and ends open event streams. */
  close(): Promise<void>;
}

const REPORT_TYPES: Record<string, string> = {
  json: 'application/json; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  csv: 'text/csv; charset=utf-8',
};

function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof ValidationError) return 400;
  if (err instanceof LorkdError) {
    if (/NOT_FOUND/.test(err.code)) return 404;
    if (/CONFLICT|STATE|TERMINAL|ALREADY/.test(err.code)) return 409;
    if (/VALIDATION|INVALID|BAD_INPUT/.test(err.code)) return 400;
  }
  return 500;
}

/**
 * The coordinator's HTTP API and dashboard over a `RunService`. Routes (JSON unless said):
 * `GET /healthz`, `GET /readyz`, `GET /metrics`, `GET|POST /api/runs`, `GET /api/runs/:id`,
 * `POST /api/runs/:id/cancel`, `POST /api/runs/:id/resume`, `GET /api/runs/:id/events` (SSE),
 * `GET /api/runs/:id/report/:file`, `GET /api/queues`, `POST /api/login` (dashboard cookie), and
 * the dashboard pages `/`, `/runs/:id`, `/queues`.
 */
export function createHttpServer(options: HttpServerOptions): LorkdHttpServer {
  const { runs, logger, token } = options;
  if (token.length < 8)
    throw new ValidationError('http server options', [{ path: 'token', message: 'must be at least 8 characters' }]);
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const dashboard = createDashboard();
  const metrics =
    options.metrics === false
      ? undefined
      : (options.metrics ??
        createMetrics({ defaultLabels: { service: 'coordinator' }, sources: { queues: () => runs.queues() } }));
  const streams = new Set<AbortController>();
  let server: Server | undefined;

  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) {
    const method = req.method ?? 'GET';
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const ok = options.ready ? await options.ready() : true;
      return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready' });
    }
    if (method === 'GET' && (await dashboard.serve(path, res))) return;
    if (path === '/api/login' && method === 'POST') {
      const body = parseJson((await readBody(req, maxBody)).toString('utf8') || '{}') as { token?: unknown };
      const presented = typeof body.token === 'string' ? body.token : undefined;
      if (!tokenMatches(token, presented)) throw new HttpError(401, 'E_UNAUTHORIZED', 'wrong token');
      res.setHeader('Set-Cookie', tokenCookie(token, false));
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/api/logout' && method === 'POST') {
      res.setHeader('Set-Cookie', tokenCookie('', false));
      return sendJson(res, 200, { ok: true });
    }

    if (!tokenMatches(token, presentedToken(req))) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="lorkd"');
      throw new HttpError(
        401,
        'E_UNAUTHORIZED',
        'missing or wrong API token (send Authorization: Bearer $LORKD_API_TOKEN)',
      );
    }

    if (path === '/metrics' && method === 'GET') {
      if (!metrics) throw new HttpError(404, 'E_NOT_FOUND', 'metrics are not enabled');
      if (metrics.observeRecord) for (const record of await runs.list()) metrics.observeRecord(record);
      const text = await metrics.render();
      res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
      res.end(text);
      return;
    }
    if (path === '/api/queues' && method === 'GET') return sendJson(res, 200, { queues: await runs.queues() });
    if (path === '/api/runs') {
      if (method === 'GET') return sendJson(res, 200, { runs: await runs.list() });
      if (method === 'POST') {
        const body = (await readBody(req, maxBody)).toString('utf8');
        const type = req.headers['content-type'] ?? '';
        const spec = /json/.test(type) ? parseRunSpec(parseJson(body)) : parseRunSpecYaml(body, 'run spec');
        if (query.get('dryRun') === 'true') return sendJson(res, 200, { spec });
        const record = await runs.create(spec);
        logger.info('run created over the API', { runId: record.id, name: record.name });
        return sendJson(res, 201, record);
      }
    }
    const m = /^\/api\/runs\/([A-Za-z0-9._-]+)(?:\/(cancel|resume|events|report)(?:\/([A-Za-z0-9._-]+))?)?$/.exec(path);
    if (m) {
      const id = m[1] as string;
      const action = m[2];
      if (action === undefined && method === 'GET') {
        const record = await runs.get(id);
        if (!record) throw new HttpError(404, 'E_NOT_FOUND', `no run '${id}'`);
        return sendJson(res, 200, record);
      }
      if (action === 'cancel' && method === 'POST') {
        const body = (await readBody(req, maxBody)).toString('utf8');
        const reason = body ? (parseJson(body) as { reason?: unknown }).reason : undefined;
        return sendJson(res, 200, await runs.cancel(id, typeof reason === 'string' ? reason : undefined));
      }
      if (action === 'resume' && method === 'POST') return sendJson(res, 200, await runs.resume(id));
      if (action === 'events' && method === 'GET') {
        if (!(await runs.get(id))) throw new HttpError(404, 'E_NOT_FOUND', `no run '${id}'`);
        const since = (req.headers['last-event-id'] as string | undefined) ?? query.get('since') ?? undefined;
        const controller = new AbortController();
        streams.add(controller);
        try {
          await streamEvents(req, res, runs.events(id, { sinceId: since, signal: controller.signal }), controller, {
            until: query.get('until') === 'end',
          });
        } finally {
          streams.delete(controller);
        }
        return;
      }
      if (action === 'report' && method === 'GET') {
        const file = m[3] ?? 'report.json';
        const ext = file.split('.').pop() ?? '';
        const body = options.reports ? await options.reports.read(id, file) : undefined;
        if (!body || !REPORT_TYPES[ext])
          throw new HttpError(404, 'E_NOT_FOUND', `run '${id}' has no report file '${file}' (yet)`);
        res.writeHead(200, { 'Content-Type': REPORT_TYPES[ext], 'Cache-Control': 'no-store' });
        res.end(Buffer.from(body));
        return;
      }
    }
    throw new HttpError(404, 'E_NOT_FOUND', `no route ${method} ${path}`);
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    route(req, res, url.pathname, url.searchParams)
      .catch((err: unknown) => {
        const status = statusOf(err);
        if (status >= 500) logger.error('API request failed', { method: req.method, path: url.pathname, err });
        sendError(res, status, err);
      })
      .finally(() => {
        // Only method, path and status: never headers, query strings or bodies (they can carry tokens).
        logger.debug('http', {
          method: req.method,
          path: url.pathname,
          status: res.statusCode,
          ms: Date.now() - started,
        });
      });
  };

  return {
    handle,
    async listen(port, host = '127.0.0.1') {
      const s = createServer(handle);
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => resolve());
      });
      const address = s.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${shown}:${address.port}`;
    },
    async close() {
      for (const c of streams) c.abort();
      const s = server;
      server = undefined;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'E_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
