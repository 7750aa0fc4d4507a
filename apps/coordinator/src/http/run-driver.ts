import { parseRunSpec, type RunSpec } from '@lorkd/contracts';
import type { MemoryRunService } from './memory-run-service.js';

export const DRIVER_SPEC: RunSpec = parseRunSpec({
  apiVersion: 'lorkd/v1',
  name: 'follow-test',
  regions: [
    { name: 'brain', labels: ['a', 'b'], source: { kind: 'phantom' } },
    { name: 'thorax', labels: ['a', 'b'], source: { kind: 'phantom' } },
  ],
  training: { steps: 40 },
});

/**
 * Plays a run's life on a MemoryRunService (for tests of the live views): training progress with
 * task/KD losses, a checkpoint, a preemption restart, more progress, then done.
 */
export async function driveRun(
  runs: MemoryRunService,
  id: string,
  options: { stepMs?: number; waitForListener?: boolean; reportUrl?: string } = {},
): Promise<void> {
  const stepMs = options.stepMs ?? 100;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  if (options.waitForListener ?? true) {
    const deadline = Date.now() + 60_000;
    while (runs.listeners(id) === 0 && Date.now() < deadline) await sleep(50);
  }
  const at = () => new Date().toISOString();
  const total = 40;
  let generation = 0;
  runs.emit(id, { type: 'state', at: at(), state: { phase: 'teacher', step: 0, totalSteps: 10 } });
  for (let s = 2; s <= 10; s += 2) {
    runs.emit(id, {
      type: 'progress',
      at: at(),
      phase: 'teacher',
      progress: [{ region: 'teacher', step: s, totalSteps: 10, loss: 2 / s }],
    });
    await sleep(stepMs / 2);
  }
  runs.emit(id, { type: 'state', at: at(), state: { phase: 'training', generation, step: 0, totalSteps: total } });
  const progress = (step: number) => {
    runs.emit(id, {
      type: 'progress',
      at: at(),
      phase: 'training',
      progress: ['brain', 'thorax'].map((region, i) => {
        const task = 1.5 / (1 + step / 10) + i * 0.1;
        const kd = 0.5 / (1 + step / 20);
        return {
          region,
          step,
          totalSteps: total,
          loss: task + kd,
          taskLoss: task,
          kdLoss: kd,
          samplesPerSec: 40 + i * 5 + step / 4,
          etaSec: (total - step) * (stepMs / 1000),
        };
      }),
    });
  };
  for (let step = 2; step <= 20; step += 2) {
    progress(step);
    await sleep(stepMs);
  }
  runs.emit(id, { type: 'checkpoint', at: at(), step: 20, bytes: 123_456, ms: 42 });
  await sleep(stepMs);
  generation = 1;
  runs.emit(id, {
    type: 'restart',
    at: at(),
    generation,
    cause: 'preempted',
    reason: 'worker local-worker-2 got SIGTERM',
    fromStep: 20,
  });
  runs.emit(id, {
    type: 'state',
    at: at(),
    state: {
      phase: 'restarting',
      generation,
      cause: 'preempted',
      reason: 'worker local-worker-2 got SIGTERM',
      fromStep: 20,
    },
  });
  await sleep(stepMs);
  runs.emit(id, { type: 'state', at: at(), state: { phase: 'training', generation, step: 20, totalSteps: total } });
  for (let step = 22; step <= total; step += 2) {
    progress(step);
    await sleep(stepMs);
  }
  runs.emit(id, { type: 'checkpoint', at: at(), step: total, bytes: 130_000, ms: 40 });
  runs.emit(id, { type: 'state', at: at(), state: { phase: 'exporting' } });
  await sleep(stepMs);
  runs.emit(id, {
    type: 'state',
    at: at(),
    state: { phase: 'done', reportUrl: options.reportUrl ?? 's3://lorkd/test/runs/x/report/index.html' },
  });
}
