import type { QueueCounts, RunEvent, RunRecord } from '@lorkd/contracts';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Where scrape-time values come from (queried on every `/metrics` request). */
export interface MetricsSources {
  /** Job counts per BullMQ queue (`lorkd queues`). */
  queues?: () => Promise<readonly QueueCounts[]>;
  /** Workers currently connected (heartbeating). */
  workers?: () => Promise<number> | number;
}

export interface MetricsOptions {
  /** Metric name prefix; default `lorkd_`. */
  prefix?: string;
  /** Also export Node process metrics (CPU, memory, event loop lag); default true. */
  processMetrics?: boolean;
  /** Labels put on every series, e.g. `{ service: 'coordinator' }`. */
  defaultLabels?: Record<string, string>;
  sources?: MetricsSources;
}

export type LossPart = 'total' | 'task' | 'kd';

/**
 * lorkd's Prometheus metrics in their own registry. Series are labelled by `run` and `region`
 * (restarts by `cause`, queue depths by `queue` and `state`).
 */
export interface LorkdMetrics {
  /** The exposition text (`/metrics` body). */
  render(): Promise<string>;
  /** The Content-Type header that goes with `render()`. */
  readonly contentType: string;
  observeStep(run: string, region: string, seconds: number): void;
  setSamplesPerSecond(run: string, region: string, value: number): void;
  observeSync(run: string, group: string, seconds: number): void;
  observeCheckpoint(run: string, seconds: number, bytes: number): void;
  setLoss(run: string, region: string, part: LossPart, value: number): void;
  countRestart(run: string, cause: string): void;
  setProgress(run: string, region: string, step: number, totalSteps: number): void;
  /** Updates the run/region series from one event of a run's stream. */
  observeEvent(run: string, event: RunEvent): void;
  /**
   * Brings the run/region series up to date from a run record (progress, losses, throughput,
   * restarts by cause, a new checkpoint): what a scrape-time collector over `RunService.list()` calls.
   */
  observeRecord(record: RunRecord): void;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

/** Creates a fresh registry with lorkd's metrics; nothing global is touched. */
export function createMetrics(options: MetricsOptions = {}): LorkdMetrics {
  const prefix = options.prefix ?? 'lorkd_';
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix });
  const registers = [registry];

  const stepSeconds = new Histogram({
    name: `${prefix}step_seconds`,
    help: 'Wall time of one training step',
    labelNames: ['run', 'region'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const samplesPerSecond = new Gauge({
    name: `${prefix}samples_per_second`,
    help: 'Training throughput (samples/s) over the last progress window',
    labelNames: ['run', 'region'],
    registers,
  });
  const syncSeconds = new Histogram({
    name: `${prefix}sync_seconds`,
    help: 'Time spent in gradient collectives per step',
    labelNames: ['run', 'group'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers,
  });
  const checkpointSeconds = new Histogram({
    name: `${prefix}checkpoint_seconds`,
    help: 'Time to write one checkpoint (blobs + manifest + LATEST)',
    labelNames: ['run'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const checkpointBytes = new Counter({
    name: `${prefix}checkpoint_bytes_total`,
    help: 'Bytes written by checkpoints',
    labelNames: ['run'],
    registers,
  });
  const lastCheckpointStep = new Gauge({
    name: `${prefix}checkpoint_last_step`,
    help: 'Step of the last committed checkpoint',
    labelNames: ['run'],
    registers,
  });
  const loss = new Gauge({
    name: `${prefix}loss`,
    help: 'Latest training loss per region (part: total, task, kd)',
    labelNames: ['run', 'region', 'part'],
    registers,
  });
  const step = new Gauge({
    name: `${prefix}step`,
    help: 'Current training step per region',
    labelNames: ['run', 'region'],
    registers,
  });
  const totalSteps = new Gauge({
    name: `${prefix}total_steps`,
    help: 'Total training steps per region',
    labelNames: ['run', 'region'],
    registers,
  });
  const restarts = new Counter({
    name: `${prefix}restarts_total`,
    help: 'Generation restarts by failure cause',
    labelNames: ['run', 'cause'],
    registers,
  });

  const queues = options.sources?.queues;
  new Gauge({
    name: `${prefix}queue_jobs`,
    help: 'BullMQ jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      this.reset();
      if (!queues) return;
      for (const q of await queues()) {
        for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, q[state]);
      }
    },
  });
  const workers = options.sources?.workers;
  // Registered only with a source: a gauge stuck at 0 would claim there are no workers.
  if (workers)
    new Gauge({
      name: `${prefix}workers`,
      help: 'Workers currently connected',
      registers,
      async collect() {
        this.set(await workers());
      },
    });
  const seenRestarts = new Map<string, number>();
  const seenCheckpoint = new Map<string, string>();

  const api: LorkdMetrics = {
    render: () => registry.metrics(),
    contentType: registry.contentType,
    observeStep: (run, region, seconds) => stepSeconds.observe({ run, region }, seconds),
    setSamplesPerSecond: (run, region, value) => samplesPerSecond.set({ run, region }, value),
    observeSync: (run, group, seconds) => syncSeconds.observe({ run, group }, seconds),
    observeCheckpoint(run, seconds, bytes) {
      checkpointSeconds.observe({ run }, seconds);
      checkpointBytes.inc({ run }, bytes);
    },
    setLoss: (run, region, part, value) => loss.set({ run, region, part }, value),
    countRestart: (run, cause) => restarts.inc({ run, cause }),
    setProgress(run, region, s, total) {
      step.set({ run, region }, s);
      totalSteps.set({ run, region }, total);
    },
    observeEvent(run, event) {
      switch (event.type) {
        case 'progress':
          if (event.phase !== 'training') return;
          for (const p of event.progress) {
            api.setProgress(run, p.region, p.step, p.totalSteps);
            if (p.loss !== undefined) api.setLoss(run, p.region, 'total', p.loss);
            if (p.taskLoss !== undefined) api.setLoss(run, p.region, 'task', p.taskLoss);
            if (p.kdLoss !== undefined) api.setLoss(run, p.region, 'kd', p.kdLoss);
            if (p.samplesPerSec !== undefined) api.setSamplesPerSecond(run, p.region, p.samplesPerSec);
          }
          return;
        case 'checkpoint':
          api.observeCheckpoint(run, event.ms / 1000, event.bytes);
          lastCheckpointStep.set({ run }, event.step);
          return;
        case 'restart':
          api.countRestart(run, event.cause);
          return;
        default:
          return;
      }
    },
    observeRecord(record) {
      const run = record.id;
      for (const p of Object.values(record.progress)) {
        api.observeEvent(run, { type: 'progress', at: record.updatedAt, phase: 'training', progress: [p] });
      }
      const byCause = new Map<string, number>();
      for (const r of record.restarts) byCause.set(r.cause, (byCause.get(r.cause) ?? 0) + 1);
      for (const [cause, n] of byCause) {
        const key = `${run}\u0000${cause}`;
        const delta = n - (seenRestarts.get(key) ?? 0);
        if (delta > 0) restarts.inc({ run, cause }, delta);
        seenRestarts.set(key, n);
      }
      const c = record.lastCheckpoint;
      if (c && seenCheckpoint.get(run) !== `${c.step}@${c.at}`) {
        seenCheckpoint.set(run, `${c.step}@${c.at}`);
        api.observeEvent(run, { type: 'checkpoint', ...c });
      }
    },
  };
  return api;
}
