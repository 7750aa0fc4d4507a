import { selectBackend } from '@lorkd/compute';
import { parseRunSpec, type RunRecord, type RunSpecInput, stageRunId } from '@lorkd/contracts';
import { tinySpecInput, trainSingleProcess } from '@lorkd/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppProcess, Cluster, maxRelError, sleep } from './harness.js';

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
    cluster.startWorker(); // keep 4 workers for the next tests
    expect(maxRelError(reference, await cluster.finalParams(stageRunId(run.id, 'student')))).toBeLessThanOrEqual(1e-4);
  }, 600_000);

  it('SIGTERM: the worker checkpoints and exits 0, another worker takes the slot, params equal', async () => {
    const run = await cluster.createRun(spec('preempt'));
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
    cluster.startWorker();
    expect(maxRelError(reference, await cluster.finalParams(stageRunId(run.id, 'student')))).toBeLessThanOrEqual(1e-4);
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

  it('full stop mid-run, new coordinator and workers, resume: same final params', async () => {
    const run = await cluster.createRun(spec('resume'));
    await cluster.waitFor(run.id, inStudent);
    await cluster.killAll();
    await sleep(500);
    await cluster.startCoordinator();
    for (let i = 0; i < 3; i++) cluster.startWorker();
    await cluster.api('POST', `/api/runs/${run.id}/resume`);
    const done = await cluster.waitForEnd(run.id);
    expect(done.state.phase, cluster.logs()).toBe('done');
    expect(maxRelError(reference, await cluster.finalParams(stageRunId(run.id, 'student')))).toBeLessThanOrEqual(1e-4);
  }, 600_000);
});
