import { selectBackend } from '@lorkd/compute';
import { parseRunSpec, type RunRecord, type RunSpecInput, stageRunId } from '@lorkd/contracts';
import { tinySpecInput, trainSingleProcess } from '@lorkd/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppProcess, Cluster, maxRelError, sleep, sumSamples } from './harness.js';

const base = tinySpecInput({ regions: tinySpecInput().regions?.slice(0, 2) });
const spec = (name: string, over: Partial<RunSpecInput> = {}): RunSpecInput => ({
  ...base,
  name,
  training: { ...(base.training as object), steps: 6 } as RunSpecInput['training'],
  cluster: { ...base.cluster, workers: 3, checkpointEvery: 2 },
  ...over,
});

/** The worker whose output shows it most recently joined a generation of `jobRunId`. */
function activeWorker(cluster: Cluster, jobRunId: string): AppProcess {
  let best: { p: AppProcess; at: string } | undefined;
  for (const p of cluster.workers) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    for (const line of p.output().split('\n')) {
      if (!line.includes('"generation joined"') || !line.includes(`"runId":"${jobRunId}"`)) continue;
      const at = /"timestamp":"([^"]+)"/.exec(line)?.[1] ?? '';
      if (!best || at > best.at) best = { p, at };
    }
  }
  if (!best) throw new Error(`no worker has joined ${jobRunId}\n${cluster.logs()}`);
  return best.p;
}

const inStudent = (r: RunRecord) => r.state.phase === 'training' && r.state.step >= 2;

describe('distributed runtime failures (processes on loopback)', () => {
  let cluster: Cluster;
  let reference: Map<string, Float32Array>;

  beforeAll(async () => {
    cluster = await Cluster.start({ workers: 4 });
    await selectBackend({ preference: 'wasm' });
    reference = (await trainSingleProcess(parseRunSpec(spec('reference')))).student;
  }, 300_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('kill -9 of a worker mid-run: the generation restarts from the checkpoint and ends with equal params', async () => {
    const run = await cluster.createRun(spec('crash'));
    await cluster.waitFor(run.id, inStudent);
    const victim = activeWorker(cluster, run.id);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    const restarted = await cluster.waitFor(run.id, (r) => r.restarts.length > 0);
    const detectMs = Date.parse(restarted.restarts[0]?.at ?? '') - killedAt;
    const done = await cluster.waitForEnd(run.id);
    expect(done.state.phase, cluster.logs()).toBe('done');
    expect(done.restarts[0]).toMatchObject({ cause: 'crashed' });
    process.stderr.write(`kill -9 → restart decided after ${detectMs} ms (${restarted.restarts[0]?.reason})\n`);
    expect(detectMs).toBeLessThan(30_000);
    await cluster.startWorker(); // keep 4 workers for the next tests
    expect(maxRelError(reference, await cluster.finalParams(stageRunId(run.id, 'student')))).toBeLessThanOrEqual(1e-4);
  }, 600_000);

  it('SIGTERM: the worker checkpoints and exits 0, another worker takes the slot, params equal', async () => {
    // 20 steps, not 6: the stop is honoured at the end of the current step, and a fast machine could
    // otherwise finish all 6 before the vote lands (the run would end 'done' with no preemption)
    const long = (name: string) =>
      spec(name, { training: { ...(base.training as object), steps: 20 } as RunSpecInput['training'] });
    const longReference = (await trainSingleProcess(parseRunSpec(long('preempt-reference')))).student;
    const run = await cluster.createRun(long('preempt'));
    await cluster.waitFor(run.id, inStudent);
    const victim = activeWorker(cluster, run.id);
    victim.child.kill('SIGTERM');
    const exit = await victim.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const done = await cluster.waitForEnd(run.id);
    expect(done.state.phase, cluster.logs()).toBe('done');
    expect(done.restarts.map((r) => r.cause)).toContain('preempted');
    const pre = done.restarts.find((r) => r.cause === 'preempted');
    expect(pre?.fromStep).toBeGreaterThanOrEqual(2);
    await cluster.startWorker();
    expect(maxRelError(longReference, await cluster.finalParams(stageRunId(run.id, 'student')))).toBeLessThanOrEqual(
      1e-4,
    );
  }, 600_000);

  it('bad input fails fast with a clear reason and does not block other runs', async () => {
    const missing = await cluster.createRun(
      spec('missing-data', {
        regions: [{ name: 'brain', labels: ['a', 'b'], source: { kind: 'npz', uri: 'file:///nonexistent/brain.npz' } }],
      }),
    );
    const failed = await cluster.waitForEnd(missing.id, 60_000);
    expect(failed.state).toMatchObject({ phase: 'failed', cause: 'bad-input' });
    expect(failed.state.phase === 'failed' && failed.state.reason).toMatch(/nonexistent\/brain\.npz/);

    const noBucket = await cluster.createRun(spec('no-bucket', { storage: { url: 's3://no-such-bucket-here/x' } }));
    const failedS3 = await cluster.waitForEnd(noBucket.id, 120_000);
    expect(failedS3.state).toMatchObject({ phase: 'failed', cause: 'storage' });
    expect(failedS3.state.phase === 'failed' && failedS3.state.reason).toMatch(/spec\.json/);
  }, 300_000);

  it('unreachable S3 (closed port): the run fails with a clear storage reason, fast; the cluster then runs another', async () => {
    await cluster.stopS3();
    const started = Date.now();
    try {
      const run = await cluster.createRun(spec('no-s3'));
      const failed = await cluster.waitForEnd(run.id, 90_000);
      expect(failed.state).toMatchObject({ phase: 'failed', cause: 'storage' });
      const reason = failed.state.phase === 'failed' ? failed.state.reason : '';
      expect(reason).toMatch(/cannot write spec\.json .*ECONNREFUSED/);
      expect(reason).not.toMatch(/\[object Object\]|S3RVER/);
      expect(Date.now() - started).toBeLessThan(90_000);
    } finally {
      await cluster.startS3();
    }
    const tiny: Partial<RunSpecInput> = {
      teacher: { kind: 'train', width: 4, depth: 1, steps: 1 },
      training: { ...(base.training as object), steps: 2 } as RunSpecInput['training'],
    };
    const after = await cluster.createRun(spec('after-s3', tiny));
    expect((await cluster.waitForEnd(after.id)).state.phase, cluster.logs()).toBe('done');
  }, 300_000);

  it('S3 lost mid-run for seconds: storage failures restart with backoff, the run ends with equal params', async () => {
    // 30 steps, so the outage (from the first checkpoint on, 8 s) hits training and not only the export
    const input = spec('s3-blip', {
      training: { ...(base.training as object), steps: 30 } as RunSpecInput['training'],
    });
    const run = await cluster.createRun(input);
    await cluster.waitFor(run.id, (r) => r.state.phase === 'training' && (r.lastCheckpoint?.step ?? 0) >= 2);
    await cluster.stopS3();
    await sleep(8_000);
    await cluster.startS3();
    const done = await cluster.waitForEnd(run.id);
    expect(done.state.phase, cluster.logs()).toBe('done');
    const storage = done.restarts.filter((r) => r.cause === 'storage');
    expect(storage.length, JSON.stringify(done.restarts)).toBeGreaterThanOrEqual(1);
    expect(storage[0]?.reason).toMatch(/ECONNREFUSED|checkpoint/);
    await selectBackend({ preference: 'wasm' });
    const expected = (await trainSingleProcess(parseRunSpec(input))).student;
    expect(maxRelError(expected, await cluster.finalParams(stageRunId(run.id, 'student')))).toBeLessThanOrEqual(1e-4);
  }, 600_000);

  it('a corrupt latest checkpoint: the restart falls back to the previous one, says why, ends with equal params', async () => {
    const input = spec('corrupt', {
      training: { ...(base.training as object), steps: 10 } as RunSpecInput['training'],
    });
    const run = await cluster.createRun(input);
    await cluster.waitFor(run.id, (r) => r.state.phase === 'training' && (r.lastCheckpoint?.step ?? 0) >= 4);
    // every worker dies, so nothing writes checkpoints while the latest one is corrupted
    await cluster.killWorkers();
    const corrupted = await cluster.corruptLatestCheckpoint(stageRunId(run.id, 'student'));
    for (let i = 0; i < 4; i++) await cluster.startWorker();
    const done = await cluster.waitForEnd(run.id);
    expect(done.state.phase, cluster.logs()).toBe('done');
    expect(done.restarts[0]).toMatchObject({ cause: 'crashed' });
    const events = await cluster.events(run.id, (e) => e.type === 'state' && e.state.phase === 'done');
    const fallback = events.find((e) => e.type === 'log' && /unusable checkpoint/.test(e.message));
    expect(fallback, JSON.stringify(events.filter((e) => e.type === 'log'))).toMatchObject({
      level: 'warn',
      message: expect.stringMatching(
        new RegExp(
          `unusable checkpoint ${corrupted} \\(.*invalid manifest\\); resumed from checkpoint ${corrupted - 2}$`,
        ),
      ),
    });
    await selectBackend({ preference: 'wasm' });
    const expected = (await trainSingleProcess(parseRunSpec(input))).student;
    expect(maxRelError(expected, await cluster.finalParams(stageRunId(run.id, 'student')))).toBeLessThanOrEqual(1e-4);

    // the workers' /metrics: step, sync and checkpoint histograms were fed by the slots they ran
    const texts = await Promise.all(cluster.workers.map((w) => cluster.scrapeMetrics(w)));
    const total = (name: string) => texts.reduce((sum, t) => sum + sumSamples(t, name), 0);
    expect(total('lorkd_step_seconds_count')).toBeGreaterThanOrEqual(10 - corrupted + 2);
    expect(total('lorkd_sync_seconds_count')).toBeGreaterThan(0);
    expect(total('lorkd_checkpoint_seconds_count')).toBeGreaterThan(0);
    expect(total('lorkd_checkpoint_bytes_total')).toBeGreaterThan(0);
  }, 600_000);

  it('full stop mid-run, new coordinator and workers, resume: same final params', async () => {
    const run = await cluster.createRun(spec('resume'));
    await cluster.waitFor(run.id, inStudent);
    await cluster.killAll();
    await sleep(500);
    await cluster.startCoordinator();
    for (let i = 0; i < 3; i++) await cluster.startWorker();
    await cluster.api('POST', `/api/runs/${run.id}/resume`);
    const done = await cluster.waitForEnd(run.id);
    expect(done.state.phase, cluster.logs()).toBe('done');
    expect(maxRelError(reference, await cluster.finalParams(stageRunId(run.id, 'student')))).toBeLessThanOrEqual(1e-4);
  }, 600_000);
});
