import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunEvent, RunRecord, RunSpecInput } from '@lorkd/contracts';
import { CheckpointStore, createObjectStore, type ObjectStore } from '@lorkd/storage';
import { freePort, type RedisServerHandle, type S3ServerHandle, startRedisServer, startS3Server } from '@lorkd/testing';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = {
  coordinator: 'apps/coordinator/src/main.ts',
  worker: 'apps/worker/src/main.ts',
} as const;

/** One OS process of the cluster, with its output kept for failure messages. */
export interface AppProcess {
  readonly name: string;
  /** Where a worker serves /healthz, /readyz and /metrics. */
  readonly httpPort?: number;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

export function spawnApp(
  app: 'coordinator' | 'worker',
  name: string,
  env: Record<string, string>,
  httpPort?: number,
): AppProcess {
  const child = spawn(process.execPath, ['--conditions=lorkd-source', '--import', 'tsx', MAIN[app]], {
    cwd: ROOT,
    env: { ...process.env, ...env, LORKD_WORKER_ID: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 400_000) out = out.slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { name, child, exited, output: () => out, ...(httpPort !== undefined ? { httpPort } : {}) };
}

/** A whole local cluster: redis-server, an S3-compatible server, a coordinator and workers (processes). */
export class Cluster {
  readonly workers: AppProcess[] = [];
  coordinator: AppProcess | undefined;
  private counter = 0;

  private s3Up = true;

  private constructor(
    readonly redis: RedisServerHandle,
    private s3Server: S3ServerHandle,
    private readonly s3Dir: string,
    readonly apiPort: number,
    readonly token: string,
  ) {}

  static async start(options: { workers: number }): Promise<Cluster> {
    const redis = await startRedisServer();
    const s3Dir = await mkdtemp(join(tmpdir(), 'lorkd-e2e-s3-'));
    const s3 = await startS3Server({ dir: s3Dir });
    const c = new Cluster(redis, s3, s3Dir, await freePort(), 'e2e-test-token-1234');
    await c.startCoordinator();
    for (let i = 0; i < options.workers; i++) await c.startWorker();
    return c;
  }

  get s3(): S3ServerHandle {
    return this.s3Server;
  }

  /** Stops the S3 server: its port is closed, the objects are kept for `startS3`. */
  async stopS3(): Promise<void> {
    if (!this.s3Up) return;
    this.s3Up = false;
    await this.s3Server.stop();
  }

  /** Starts the S3 server again on the same port with the same objects. */
  async startS3(): Promise<void> {
    if (this.s3Up) return;
    this.s3Server = await startS3Server({ port: this.s3Server.port, dir: this.s3Dir, bucket: this.s3Server.bucket });
    this.s3Up = true;
  }

  get env(): Record<string, string> {
    return {
      ...this.s3.env,
      LORKD_REDIS_URL: this.redis.url,
      LORKD_STORAGE_URL: `s3://${this.s3.bucket}/lorkd`,
      LORKD_API_TOKEN: this.token,
      LORKD_API_PORT: String(this.apiPort),
      LORKD_BACKEND: 'wasm',
      LORKD_LOG_LEVEL: 'info',
      LORKD_LOG_FORMAT: 'json',
    };
  }

  get storageUrl(): string {
    return `s3://${this.s3.bucket}/lorkd`;
  }

  async startCoordinator(): Promise<void> {
    this.coordinator = spawnApp('coordinator', 'coordinator', this.env);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.apiPort}/healthz`);
        if (res.ok) return;
      } catch {
        // not up yet
      }
      const exited = await Promise.race([this.coordinator.exited, sleep(200).then(() => undefined)]);
      if (exited) throw new Error(`coordinator exited (${JSON.stringify(exited)}):\n${this.coordinator.output()}`);
      if (Date.now() > deadline) throw new Error(`coordinator did not come up:\n${this.coordinator.output()}`);
    }
  }

  /** Starts a worker process (own /metrics port); resolves once spawned, not once it takes jobs. */
  async startWorker(env: Record<string, string> = {}): Promise<AppProcess> {
    const port = await freePort();
    const w = spawnApp('worker', `w${this.counter++}`, { ...this.env, LORKD_WORKER_PORT: String(port), ...env }, port);
    this.workers.push(w);
    return w;
  }

  /** A worker's `/metrics` text. */
  async scrapeMetrics(p: AppProcess): Promise<string> {
    if (p.httpPort === undefined) throw new Error(`${p.name} has no HTTP port`);
    const res = await fetch(`http://127.0.0.1:${p.httpPort}/metrics`);
    if (!res.ok) throw new Error(`${p.name} /metrics: HTTP ${res.status}`);
    return await res.text();
  }

  /** One API call on a fresh connection (no keep-alive: a reused idle socket can be closed under us). */
  api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.apiPort,
          path,
          method,
          agent: false,
          headers: {
            authorization: `Bearer ${this.token}`,
            'content-type': 'application/json',
            ...(payload ? { 'content-length': String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 400) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
            else resolve(JSON.parse(text) as T);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * The run's events from its start (the SSE stream), until `until` holds for one of them or
   * `timeoutMs` passes; the events read so far either way.
   */
  events(id: string, until: (e: RunEvent) => boolean, timeoutMs = 15_000): Promise<RunEvent[]> {
    return new Promise<RunEvent[]>((resolve, reject) => {
      const got: RunEvent[] = [];
      let buffer = '';
      const finish = () => {
        clearTimeout(timer);
        req.destroy();
        resolve(got);
      };
      const timer = setTimeout(finish, timeoutMs);
      const req = request(
        {
          host: '127.0.0.1',
          port: this.apiPort,
          path: `/api/runs/${id}/events`,
          agent: false,
          headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
        },
        (res) => {
          res.on('data', (chunk: Buffer) => {
            buffer += chunk.toString('utf8');
            for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              const data = block
                .split('\n')
                .filter((l) => l.startsWith('data: '))
                .map((l) => l.slice(6))
                .join('\n');
              if (!data) continue;
              const event = JSON.parse(data) as RunEvent;
              got.push(event);
              if (until(event)) return finish();
            }
          });
          res.on('error', () => finish());
        },
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        if (got.length > 0) resolve(got);
        else reject(err);
      });
      req.end();
    });
  }

  createRun(spec: RunSpecInput): Promise<RunRecord> {
    return this.api('POST', '/api/runs', spec);
  }

  getRun(id: string): Promise<RunRecord> {
    return this.api('GET', `/api/runs/${id}`);
  }

  /** Polls the run until `until` holds or it reaches a terminal phase; fails with the cluster's logs on timeout. */
  async waitFor(id: string, until: (r: RunRecord) => boolean, timeoutMs = 400_000): Promise<RunRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.getRun(id);
      if (until(r)) return r;
      if (['done', 'failed', 'cancelled'].includes(r.state.phase))
        throw new Error(`run ${id} ended as ${JSON.stringify(r.state)} before the condition held\n${this.logs()}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting on run ${id}: ${JSON.stringify(r.state)}\n${this.logs()}`);
      await sleep(250);
    }
  }

  waitForEnd(id: string, timeoutMs = 400_000): Promise<RunRecord> {
    return this.waitFor(id, (r) => ['done', 'failed', 'cancelled'].includes(r.state.phase), timeoutMs);
  }

  logs(): string {
    const tail = (s: string) => s.split('\n').slice(-40).join('\n');
    return [this.coordinator, ...this.workers]
      .filter((p): p is AppProcess => !!p)
      .map((p) => `--- ${p.name} ---\n${tail(p.output())}`)
      .join('\n');
  }

  async openStore(): Promise<ObjectStore> {
    return createObjectStore(this.storageUrl, {
      s3: {
        endpoint: this.s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        checksums: 'when_required',
        credentials: this.s3.clientConfig.credentials,
      },
    });
  }

  /** The parameters of the newest checkpoint of a job run (`RUN` or `RUN.teacher`). */
  async finalParams(jobRunId: string): Promise<Map<string, Float32Array>> {
    const store = await this.openStore();
    try {
      const ckpts = await CheckpointStore.create({ store, runId: jobRunId });
      const loaded = await ckpts.loadLatest();
      if (!loaded) throw new Error(`no checkpoint for ${jobRunId}`);
      const out = new Map<string, Float32Array>();
      for (const [k, t] of loaded.tensors) if (k.startsWith('param:')) out.set(k.slice(6), t.data as Float32Array);
      return out;
    } finally {
      await store.close();
    }
  }

  /**
   * Overwrites the manifest of the checkpoint LATEST names with garbage (what a torn or tampered
   * object looks like); returns that step.
   */
  async corruptLatestCheckpoint(jobRunId: string): Promise<number> {
    const store = await this.openStore();
    try {
      const ckpts = await CheckpointStore.create({ store, runId: jobRunId });
      const latest = await ckpts.latest();
      if (!latest) throw new Error(`no LATEST for ${jobRunId}`);
      await store.put(ckpts.manifestKey(latest.step), new TextEncoder().encode('\u0000garbage{not json'));
      return latest.step;
    } finally {
      await store.close();
    }
  }

  /** SIGKILLs every worker (the coordinator, Redis and S3 stay up). */
  async killWorkers(): Promise<void> {
    const procs = [...this.workers];
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    this.workers.length = 0;
  }

  /** Stops every process (SIGKILL for those that do not exit within 10 s) and both servers. */
  async stop(): Promise<void> {
    const procs = [...this.workers, ...(this.coordinator ? [this.coordinator] : [])];
    await Promise.all(procs.map((p) => killAndWait(p)));
    await this.redis.stop();
    await this.stopS3();
    await rm(this.s3Dir, { recursive: true, force: true });
  }

  /** Stops the coordinator and all workers (SIGKILL), keeping Redis and S3: a full cluster stop. */
  async killAll(): Promise<void> {
    const procs = [...this.workers, ...(this.coordinator ? [this.coordinator] : [])];
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    this.workers.length = 0;
    this.coordinator = undefined;
  }
}

export async function killAndWait(p: AppProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const done = await Promise.race([p.exited, sleep(10_000).then(() => undefined)]);
  if (!done) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** The sum of a metric's samples over all label sets in a Prometheus text exposition. */
export function sumSamples(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Relative error of two parameter sets: the largest, over parameter tensors, of ‖a−b‖₂ / ‖a‖₂ (a
 * tensor of zeros compares absolutely). Per tensor in norm, not per element: distributed training
 * sums shard gradients in another order than one full batch does, and Adam divides each update by
 * the gradient's own running scale, so single elements carry float32 rounding noise of ~1e-7
 * absolute — measured on the 10-step e2e run (2026-11-29): every tensor's norm error ≤ 1.3e-6, but
 * one element of 7.1e-4 (0.34 % of its tensor's scale) off by 1.3e-7 = 1.8e-4 of itself. A real bug
 * (a wrong group, a missed shard, a stale restore) moves whole tensors by far more than 1e-4.
 */
export function maxRelError(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.length !== x.length) return Number.POSITIVE_INFINITY;
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < x.length; i++) {
      const d = (x[i] as number) - (y[i] as number);
      diff += d * d;
      norm += (x[i] as number) ** 2;
    }
    const e = norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff);
    if (Number.isNaN(e)) return Number.NaN;
    if (e > worst) worst = e;
  }
  return worst;
}
