import { silentLogger } from '@lorkd/contracts';
import { createMetrics, parsePrometheusText } from '@lorkd/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthServer } from './health-server.js';

describe('HealthServer', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it('serves /healthz, /readyz (503 until ready) and the metrics the slots feed', async () => {
    const metrics = createMetrics({ processMetrics: false, defaultLabels: { service: 'worker' } });
    let ready = false;
    server = new HealthServer({ metrics, ready: () => ready, logger: silentLogger });
    const port = await server.listen(0, '127.0.0.1');
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);

    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(503);
    ready = true;
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/nope')).status).toBe(404);

    metrics.observeStep('run-a', 'brain', 0.2);
    metrics.observeSync('run-a', 'shared', 0.01);
    metrics.observeCheckpoint('run-a', 0.5, 4096);
    const res = await get('/metrics');
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const families = parsePrometheusText(await res.text());
    const sample = (name: string) =>
      [...families.values()].flatMap((f) => f.samples).find((s) => s.name === name && s.labels.run === 'run-a');
    expect(sample('lorkd_step_seconds_count')).toMatchObject({
      value: 1,
      labels: { region: 'brain', service: 'worker' },
    });
    expect(sample('lorkd_sync_seconds_count')).toMatchObject({ value: 1, labels: { group: 'shared' } });
    expect(sample('lorkd_checkpoint_seconds_count')?.value).toBe(1);
    expect(sample('lorkd_checkpoint_bytes_total')?.value).toBe(4096);
  });

  it('says which setting to change when the port is taken', async () => {
    server = new HealthServer({
      metrics: createMetrics({ processMetrics: false }),
      ready: () => true,
      logger: silentLogger,
    });
    const port = await server.listen(0, '127.0.0.1');
    const second = new HealthServer({
      metrics: createMetrics({ processMetrics: false }),
      ready: () => true,
      logger: silentLogger,
    });
    await expect(second.listen(port, '127.0.0.1')).rejects.toThrow(
      /port \d+ on 127\.0\.0\.1 is in use; set LORKD_WORKER_PORT/,
    );
  });
});
