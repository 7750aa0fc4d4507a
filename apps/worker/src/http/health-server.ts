import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HEALTH_PATHS, type Logger } from '@lorkd/contracts';

/** What `/metrics` serves (`LorkdMetrics` of @lorkd/telemetry fits). */
export interface MetricsSource {
  render(): Promise<string>;
  readonly contentType: string;
}

export interface HealthServerOptions {
  readonly metrics: MetricsSource;
  /** Ready to take slot jobs (Redis connected, queue worker running). */
  readonly ready: () => boolean;
  readonly logger: Logger;
}

/**
 * A worker's small HTTP endpoint: `GET /healthz` (the process answers), `GET /readyz` (200 once it
 * takes jobs, 503 before and while stopping), `GET /metrics` (Prometheus text). No auth: it serves
 * no run data, only counters. Constructing it does no IO; `listen` binds.
 */
export class HealthServer {
  private server: Server | undefined;

  constructor(private readonly options: HealthServerOptions) {}

  /** Starts listening; resolves with the bound port (pass 0 for any free port). */
  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.logger.warn('health endpoint failed', { error: (err as Error).message, path: req.url });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            err.code === 'EADDRINUSE'
              ? `cannot serve /healthz and /metrics: port ${port} on ${host} is in use; set LORKD_WORKER_PORT to a free port`
              : `cannot serve /healthz and /metrics on ${host}:${port}: ${err.message}`,
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET', 'Content-Type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    if (path === HEALTH_PATHS.live) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (path === HEALTH_PATHS.ready) {
      const ready = this.options.ready();
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ready ? 'ready\n' : 'not ready\n');
      return;
    }
    if (path === HEALTH_PATHS.metrics) {
      const text = await this.options.metrics.render();
      res.writeHead(200, { 'Content-Type': this.options.metrics.contentType, 'Cache-Control': 'no-store' });
      res.end(text);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found: GET /healthz, /readyz or /metrics\n');
  }
}
