import { selectBackend } from '@lorkd/compute';
import { parseRunSpec, stageRunId } from '@lorkd/contracts';
import { tinySpecInput, trainSingleProcess } from '@lorkd/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, maxRelError } from './harness.js';

const twoRegions = tinySpecInput({
  name: 'equiv',
  regions: tinySpecInput().regions?.slice(0, 2),
});

describe('distributed runtime: 1 coordinator + 3 workers as processes', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 3 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('trains teacher and student to completion, exports, and equals the single-process trainer', async () => {
    const created = await cluster.createRun({ ...twoRegions, cluster: { ...twoRegions.cluster, workers: 3 } });
    const done = await cluster.waitForEnd(created.id);
    expect(done.state, cluster.logs()).toMatchObject({ phase: 'done' });
    const distributed = await cluster.finalParams(stageRunId(created.id, 'student'));

    const report = await cluster.api<{ regions: Array<{ region: string; foldedExpertAccuracy: number }> }>(
      'GET',
      `/api/runs/${created.id}/report`,
    );
    expect(report.regions.map((r) => r.region)).toEqual(['brain', 'head-neck']);

    // the same run on 1 worker (one slot hosting both regions)
    const one = await cluster.createRun({
      ...twoRegions,
      name: 'equiv-one',
      cluster: { ...twoRegions.cluster, workers: 1 },
    });
    expect((await cluster.waitForEnd(one.id)).state.phase, cluster.logs()).toBe('done');
    const oneWorker = await cluster.finalParams(stageRunId(one.id, 'student'));
    expect(maxRelError(oneWorker, distributed)).toBeLessThanOrEqual(1e-4);

    await selectBackend({ preference: 'wasm' });
    const single = await trainSingleProcess(parseRunSpec(twoRegions));
    expect(maxRelError(single.student, distributed)).toBeLessThanOrEqual(1e-4);
    expect(maxRelError(single.student, oneWorker)).toBeLessThanOrEqual(1e-4);
  }, 600_000);
});
