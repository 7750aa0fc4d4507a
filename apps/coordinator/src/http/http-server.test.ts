import { PassThrough } from 'node:stream';
import { parseRunSpec, type RunEvent, type RunSpecInput } from '@lorkd/contracts';
import { createMetrics, createWinstonLogger, parsePrometheusText } from '@lorkd/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type LorkdHttpServer } from './http-server.js';
import { MemoryRunService } from './memory-run-service.js';

const TOKEN = 'test-token-0123456789';
const specInput: RunSpecInput = {
  apiVersion: 'lorkd/v1',
  name: 'http-test',
  regions: [
    { name: 'brain', labels: ['a', 'b'], source: { kind: 'phantom' } },
    { name: 'thorax', labels: ['a', 'b'], source: { kind: 'phantom' } },
  ],
  training: { steps: 20 },
};
const at = () => new Date().toISOString();

let server: LorkdHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(extra: { ready?: () => boolean } = {}) {
  const runs = new MemoryRunService();
  const logStream = new PassThrough();
  const logLines: string[] = [];
  logStream.on('data', (c: Buffer) => logLines.push(...c.toString().split('\n').filter(Boolean)));
  const metrics = createMetrics({ processMetrics: false, sources: { queues: () => runs.queues(), workers: () => 3 } });
  server = createHttpServer({
    runs,
    token: TOKEN,
    metrics,
    logger: createWinstonLogger({ level: 'debug', format: 'json', stream: logStream }),
    reports: {
      read: async (id, file) =>
        file === 'report.json' ? new TextEncoder().encode(JSON.stringify({ run: id })) : undefined,
    },
    ...extra,
  });
  const url = await server.listen(0);
  const call = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
    });
  return { runs, url, call, metrics, logLines };
}

describe('coordinator HTTP API', () => {
  it('serves /healthz and /readyz without a token and rejects API calls without the right one', async () => {
    let ready = false;
    const { call } = await start({ ready: () => ready });
    expect((await call('/healthz', {}, null)).status).toBe(200);
    expect((await call('/readyz', {}, null)).status).toBe(503);
    ready = true;
    expect((await call('/readyz', {}, null)).status).toBe(200);
    for (const path of ['/api/runs', '/api/queues', '/metrics', '/api/runs/x/events']) {
      const none = await call(path, {}, null);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
      expect((await call(path, {}, 'wrong-token-zzzzzzzz')).status).toBe(401);
    }
    const created = await call(
      '/api/runs',
      { method: 'POST', body: 'x', headers: { 'Content-Type': 'application/yaml' } },
      null,
    );
    expect(created.status).toBe(401);
    expect((await call('/api/runs')).status).toBe(200);
  });

  it('creates (YAML or JSON), lists, gets, cancels and resumes runs, with clear errors', async () => {
    const { call } = await start();
    const yaml = `apiVersion: lorkd/v1\nname: from-yaml\nregions:\n  - { name: brain, labels: [a, b], source: { kind: phantom } }\ntraining: { steps: 5 }\n`;
    const a = await call('/api/runs', { method: 'POST', body: yaml, headers: { 'Content-Type': 'application/yaml' } });
    expect(a.status).toBe(201);
    const runA = (await a.json()) as { id: string; state: { phase: string } };
    expect(runA.state.phase).toBe('pending');
    const b = await call('/api/runs', {
      method: 'POST',
      body: JSON.stringify(specInput),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(b.status).toBe(201);

    const bad = await call('/api/runs', {
      method: 'POST',
      body: JSON.stringify({ ...specInput, training: { steps: -1 } }),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(badBody.error.code).toBe('E_VALIDATION');
    expect(badBody.error.issues.map((i) => i.path)).toContain('training.steps');
    const dry = await call('/api/runs?dryRun=true', {
      method: 'POST',
      body: yaml,
      headers: { 'Content-Type': 'application/yaml' },
    });
    expect(((await dry.json()) as { spec: { name: string } }).spec.name).toBe('from-yaml');

    const list = (await (await call('/api/runs')).json()) as { runs: { id: string }[] };
    expect(list.runs).toHaveLength(2);
    expect((await call(`/api/runs/${runA.id}`)).status).toBe(200);
    expect((await call('/api/runs/nope')).status).toBe(404);

    const cancelled = await call(`/api/runs/${runA.id}/cancel`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'by test' }),
    });
    expect(((await cancelled.json()) as { state: unknown }).state).toEqual({ phase: 'cancelled', reason: 'by test' });
    expect((await call(`/api/runs/${runA.id}/cancel`, { method: 'POST' })).status).toBe(409);
    const resumed = await call(`/api/runs/${runA.id}/resume`, { method: 'POST' });
    expect(((await resumed.json()) as { state: { phase: string } }).state.phase).toBe('training');
    expect((await call(`/api/runs/${runA.id}/report/report.json`)).status).toBe(200);
    expect((await call(`/api/runs/${runA.id}/report/missing.json`)).status).toBe(404);
    expect((await call('/api/nothing')).status).toBe(404);
  });

  it('streams events as SSE, resuming after Last-Event-ID', async () => {
    const { call, runs } = await start();
    const run = await runs.create(parseRunSpec(specInput));
    runs.emit(run.id, {
      type: 'state',
      at: at(),
      state: { phase: 'training', generation: 0, step: 0, totalSteps: 20 },
    });
    const res = await call(`/api/runs/${run.id}/events?until=end`);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const progress: RunEvent = {
      type: 'progress',
      at: at(),
      phase: 'training',
      progress: [{ region: 'brain', step: 10, totalSteps: 20, loss: 1 }],
    };
    setTimeout(() => {
      runs.emit(run.id, progress);
      runs.emit(run.id, { type: 'state', at: at(), state: { phase: 'done', reportUrl: 'file:///r' } });
    }, 50);
    const text = await res.text();
    const frames = text.split('\n\n').filter((f) => f.startsWith('id:'));
    expect(frames.map((f) => /event: (\w+)/.exec(f)?.[1])).toEqual(['state', 'state', 'progress', 'state']);
    const secondId = /id: (\S+)/.exec(frames[1] ?? '')?.[1] ?? '';
    const again = await call(`/api/runs/${run.id}/events?until=end`, { headers: { 'Last-Event-ID': secondId } });
    const replay = (await again.text()).split('\n\n').filter((f) => f.startsWith('id:'));
    expect(replay).toHaveLength(2);
    expect(JSON.parse(/data: (.*)/.exec(replay[0] ?? '')?.[1] ?? '{}')).toEqual(progress);
  });

  it('serves /metrics in Prometheus format with run/region labels, and logs no token', async () => {
    const { call, metrics, logLines } = await start();
    metrics.observeEvent('run-1', {
      type: 'progress',
      at: at(),
      phase: 'training',
      progress: [{ region: 'brain', step: 3, totalSteps: 20, loss: 0.7, samplesPerSec: 12 }],
    });
    const res = await call('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(await res.text());
    expect(families.get('lorkd_loss')?.samples).toContainEqual({
      name: 'lorkd_loss',
      labels: { run: 'run-1', region: 'brain', part: 'total' },
      value: 0.7,
    });
    expect(families.get('lorkd_workers')?.samples[0]?.value).toBe(3);
    await call('/api/runs?token=leak-me', {}, TOKEN);
    await call('/api/runs', {}, 'wrong-token-zzzzzzzz');
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) {
      expect(line).not.toContain(TOKEN);
      expect(line).not.toContain('wrong-token');
      expect(line).not.toContain('leak-me');
    }
  });

  it('by default derives run/region series from the RunService at scrape time', async () => {
    const runs = new MemoryRunService();
    server = createHttpServer({ runs, token: TOKEN, logger: createWinstonLogger({ stream: new PassThrough() }) });
    const base = await server.listen(0);
    const run = await runs.create(parseRunSpec(specInput));
    runs.emit(run.id, {
      type: 'progress',
      at: at(),
      phase: 'training',
      progress: [
        { region: 'thorax', step: 4, totalSteps: 20, loss: 0.9, taskLoss: 0.6, kdLoss: 0.3, samplesPerSec: 20 },
      ],
    });
    runs.emit(run.id, { type: 'checkpoint', at: at(), step: 4, bytes: 1000, ms: 50 });
    const restart = { at: at(), generation: 1, cause: 'crashed', reason: 'exit 1', fromStep: 4 } as const;
    runs.emit(run.id, { type: 'restart', ...restart });
    const scrape = async () =>
      parsePrometheusText(
        await (await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text(),
      );
    await scrape();
    const families = await scrape();
    const value = (family: string, labels: Record<string, string>) =>
      families.get(family)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('lorkd_loss', { run: run.id, region: 'thorax', part: 'kd' })).toBe(0.3);
    expect(value('lorkd_samples_per_second', { run: run.id, region: 'thorax' })).toBe(20);
    // Scraped twice: counters and histograms count each restart and checkpoint once.
    expect(value('lorkd_restarts_total', { run: run.id, cause: 'crashed' })).toBe(1);
    expect(value('lorkd_checkpoint_bytes_total', { run: run.id })).toBe(1000);
    expect(families.get('lorkd_checkpoint_seconds')?.samples.find((s) => s.name.endsWith('_count'))?.value).toBe(1);
    expect(families.has('lorkd_queue_jobs')).toBe(true);
    expect(families.has('lorkd_process_cpu_seconds_total')).toBe(true);
  });

  it('serves the dashboard pages and assets without a token, and logs in via cookie', async () => {
    const { call, url } = await start();
    for (const path of ['/', '/runs/abc', '/queues']) {
      const res = await call(path, {}, null);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('/dashboard/app.js');
    }
    expect((await call('/dashboard/app.js', {}, null)).headers.get('content-type')).toMatch(/javascript/);
    const bad = await call('/api/login', { method: 'POST', body: JSON.stringify({ token: 'nope-nope-nope' }) }, null);
    expect(bad.status).toBe(401);
    const good = await call('/api/login', { method: 'POST', body: JSON.stringify({ token: TOKEN }) }, null);
    const cookie = good.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    const withCookie = await fetch(`${url}/api/runs`, { headers: { Cookie: cookie.split(';')[0] ?? '' } });
    expect(withCookie.status).toBe(200);
  });
});
