import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';
import { parsePrometheusText } from './metrics-parse.js';

describe('createMetrics', () => {
  it('exposes step, throughput, sync, checkpoint, loss, restarts, queues and workers with run/region labels', async () => {
    const metrics = createMetrics({
      processMetrics: false,
      sources: {
        queues: async () => [
          { name: 'lorkd-train', waiting: 3, active: 2, delayed: 0, completed: 7, failed: 1, paused: false },
        ],
        workers: () => 2,
      },
    });
    metrics.observeStep('r1', 'brain', 0.2);
    metrics.observeSync('r1', 'backbone', 0.01);
    metrics.observeEvent('r1', {
      type: 'progress',
      at: new Date().toISOString(),
      phase: 'training',
      progress: [
        { region: 'brain', step: 5, totalSteps: 10, loss: 1.5, taskLoss: 1, kdLoss: 0.5, samplesPerSec: 42 },
        { region: 'thorax', step: 5, totalSteps: 10, loss: 2 },
      ],
    });
    metrics.observeEvent('r1', { type: 'checkpoint', step: 5, at: new Date().toISOString(), bytes: 4096, ms: 120 });
    metrics.observeEvent('r1', {
      type: 'restart',
      at: new Date().toISOString(),
      generation: 1,
      cause: 'preempted',
      reason: 'worker w1 got SIGTERM',
      fromStep: 5,
    });

    const text = await metrics.render();
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(text);
    const sample = (family: string, name: string, labels: Record<string, string>) =>
      families
        .get(family)
        ?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    expect(families.get('lorkd_step_seconds')?.type).toBe('histogram');
    expect(sample('lorkd_step_seconds', 'lorkd_step_seconds_count', { run: 'r1', region: 'brain' })).toBe(1);
    expect(sample('lorkd_samples_per_second', 'lorkd_samples_per_second', { run: 'r1', region: 'brain' })).toBe(42);
    expect(sample('lorkd_sync_seconds', 'lorkd_sync_seconds_sum', { run: 'r1', group: 'backbone' })).toBeCloseTo(0.01);
    expect(sample('lorkd_checkpoint_seconds', 'lorkd_checkpoint_seconds_sum', { run: 'r1' })).toBeCloseTo(0.12);
    expect(sample('lorkd_checkpoint_bytes_total', 'lorkd_checkpoint_bytes_total', { run: 'r1' })).toBe(4096);
    expect(sample('lorkd_loss', 'lorkd_loss', { run: 'r1', region: 'brain', part: 'kd' })).toBe(0.5);
    expect(sample('lorkd_loss', 'lorkd_loss', { run: 'r1', region: 'thorax', part: 'total' })).toBe(2);
    expect(sample('lorkd_step', 'lorkd_step', { run: 'r1', region: 'thorax' })).toBe(5);
    expect(sample('lorkd_restarts_total', 'lorkd_restarts_total', { run: 'r1', cause: 'preempted' })).toBe(1);
    expect(sample('lorkd_queue_jobs', 'lorkd_queue_jobs', { queue: 'lorkd-train', state: 'waiting' })).toBe(3);
    expect(sample('lorkd_queue_jobs', 'lorkd_queue_jobs', { queue: 'lorkd-train', state: 'failed' })).toBe(1);
    expect(sample('lorkd_workers', 'lorkd_workers', {})).toBe(2);
  });

  it('keeps registries separate and adds process metrics when asked', async () => {
    const a = createMetrics({ defaultLabels: { service: 'coordinator' } });
    const b = createMetrics({ processMetrics: false });
    a.setLoss('r', 'x', 'total', 1);
    const fa = parsePrometheusText(await a.render());
    const fb = parsePrometheusText(await b.render());
    expect(fa.has('lorkd_process_cpu_seconds_total')).toBe(true);
    expect(fa.get('lorkd_loss')?.samples[0]?.labels.service).toBe('coordinator');
    expect(fb.has('lorkd_process_cpu_seconds_total')).toBe(false);
    expect(fb.get('lorkd_loss')?.samples).toHaveLength(0);
  });
});

describe('parsePrometheusText', () => {
  it('rejects malformed exposition text, naming the line', () => {
    expect(() => parsePrometheusText('# TYPE x gauge\nx{a="1" 2\n')).toThrow(/line 2/);
    expect(() => parsePrometheusText('y 1\n')).toThrow(/no # TYPE/);
    expect(() => parsePrometheusText('# TYPE x gauge\nx abc\n')).toThrow(/not a sample value/);
    const ok = parsePrometheusText('# HELP x h\n# TYPE x gauge\nx{a="q\\"z",b="2"} 3 1700000000\n');
    expect(ok.get('x')?.samples[0]).toEqual({ name: 'x', labels: { a: 'q"z', b: '2' }, value: 3 });
  });
});
