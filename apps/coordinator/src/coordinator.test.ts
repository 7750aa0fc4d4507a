import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRunSpec, type RunRecord, type RunSpecInput, ValidationError } from '@lorkd/contracts';
import { SHARED_REDIS_URL, tempDir, uniquePrefix } from '@lorkd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Coordinator, createCoordinator } from './coordinator.js';

const input: RunSpecInput = {
  apiVersion: 'lorkd/v1',
  name: 'unit',
  regions: [
    {
      name: 'brain',
      labels: ['non-enhancing', 'faint-enhancing', 'enhancing', 'hemorrhagic'],
      source: { kind: 'phantom' },
    },
  ],
  data: { imageSize: 28, phantom: { trainPerRegion: 8, valPerRegion: 0, testPerRegion: 8 } },
  model: { width: 4, depth: 1 },
  teacher: { kind: 'train', width: 4, depth: 1, steps: 1 },
  training: { steps: 2, batchPerRegion: 2 },
  cluster: { workers: 2 },
};

async function waitFor(c: Coordinator, id: string, ok: (r: RunRecord) => boolean): Promise<RunRecord> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await c.get(id);
    if (r && ok(r)) return r;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(r?.state)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('coordinator (real Redis, file storage, no workers)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let coordinator: Coordinator;
  beforeAll(async () => {
    dir = await tempDir();
    coordinator = createCoordinator({
      redisUrl: SHARED_REDIS_URL,
      prefix: uniquePrefix('coord'),
      storageUrl: `file://${dir.path}`,
    });
    await coordinator.start();
  });
  afterAll(async () => {
    await coordinator?.close();
    await dir?.remove();
  });

  it('creates a run: spec.json in storage, teacher stage planned with its slot jobs queued', async () => {
    const run = await coordinator.create(parseRunSpec(input));
    expect(run.state).toEqual({ phase: 'pending' });
    expect(run.storageUrl).toBe(`file://${dir.path}/runs/${run.id}`);
    const teacher = await waitFor(coordinator, run.id, (r) => r.state.phase === 'teacher');
    expect(teacher.state).toEqual({ phase: 'teacher', step: 0, totalSteps: 1 });
    const queued = await waitFor(coordinator, run.id, (r) => r.generation === 0);
    expect(queued.generation).toBe(0);
    let waiting = 0;
    for (let i = 0; i < 100 && waiting < 2; i++) {
      waiting = (await coordinator.queues()).find((q) => q.name === 'lorkd-train')?.waiting ?? 0;
      if (waiting < 2) await new Promise((res) => setTimeout(res, 100));
    }
    expect(waiting).toBe(2); // one slot job per seat
    const cancelled = await coordinator.cancel(run.id, 'test over');
    expect(cancelled.state).toEqual({ phase: 'cancelled', reason: 'test over' });
  });

  it('fails a run whose dataset is missing, naming the file', async () => {
    const run = await coordinator.create(
      parseRunSpec({
        ...input,
        name: 'missing',
        regions: [{ name: 'chest', labels: ['a', 'b'], source: { kind: 'npz', uri: `file://${dir.path}/nope.npz` } }],
      }),
    );
    const failed = await waitFor(coordinator, run.id, (r) => r.state.phase === 'failed');
    expect(failed.state).toMatchObject({ phase: 'failed', cause: 'bad-input' });
    expect(failed.state.phase === 'failed' && failed.state.reason).toContain('nope.npz');
  });

  it('rejects an invalid spec with a ValidationError naming the field', async () => {
    await expect(coordinator.create({ ...parseRunSpec(input), name: 'Bad Name' })).rejects.toThrow(ValidationError);
  });

  it('resume rebuilds a run that Redis lost from spec.json', async () => {
    const id = 'lost-run-abc123';
    await mkdir(join(dir.path, 'runs', id), { recursive: true });
    await writeFile(join(dir.path, 'runs', id, 'spec.json'), JSON.stringify(parseRunSpec({ ...input, name: 'lost' })));
    const rebuilt = await coordinator.resume(id);
    expect(rebuilt.id).toBe(id);
    const resumed = await waitFor(coordinator, id, (r) => r.state.phase === 'restarting');
    expect(resumed.state).toMatchObject({ phase: 'restarting', reason: 'resumed by request', fromStep: 0 });
    await coordinator.cancel(id);
  });
});
