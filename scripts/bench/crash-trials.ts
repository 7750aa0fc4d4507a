// Worker-crash trials (issue #8): a local cluster of OS processes (redis-server, S3-compatible server,
// coordinator, 4 workers) runs the same 3-slot run once uninterrupted and then N times with a `kill -9`
// of one of its workers at a seeded random step. Per trial it prints the kill step, the detection time
// (kill → the coordinator's restart decision), the checkpoint it restarted from, the time lost (kill →
// the run back at the step it had reached), the bound the issue sets (one checkpoint interval of the
// uninterrupted run's steps + detection), and the largest relative parameter error against the
// uninterrupted run.
//
//   node --conditions=lorkd-source --import tsx scripts/bench/crash-trials.ts [--trials 5] [--seed 8]
//        [--steps 30] [--every 5] [--json] [--logs FILE]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { mulberry32 } from '@lorkd/compute';
import type { RunRecord, RunSpecInput } from '@lorkd/contracts';
import { stageRunId } from '@lorkd/contracts';
import { tinySpecInput } from '@lorkd/worker';
import { type AppProcess, Cluster, maxRelError, sleep } from '../../test/harness.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '5' },
    seed: { type: 'string', default: '8' },
    steps: { type: 'string', default: '30' },
    every: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    /** Write every process's log (JSON lines) here at the end, e.g. to read the seat start-up phases. */
    logs: { type: 'string' },
  },
});
const trials = Number(values.trials);
const steps = Number(values.steps);
const every = Number(values.every);

// mulberry32: a small seeded PRNG, so a trial's kill step and victim can be replayed.
const rand = mulberry32(Number(values.seed));

const base = tinySpecInput({ regions: tinySpecInput().regions?.slice(0, 2) });
const spec = (name: string): RunSpecInput => ({
  ...base,
  name,
  training: { ...(base.training as object), steps } as RunSpecInput['training'],
  cluster: { ...base.cluster, workers: 3, checkpointEvery: every, heartbeatTimeoutSec: 3 },
});

const log = (line: string) => process.stderr.write(`${line}\n`);
const loadAverage = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

/** Polls a run every 100 ms, remembering when each student step was first seen. */
async function follow(
  cluster: Cluster,
  id: string,
  until: (r: RunRecord) => boolean,
  seen: Map<number, number>,
  timeoutMs = 600_000,
): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await cluster.getRun(id);
    if (r.state.phase === 'training' && !seen.has(r.state.step)) seen.set(r.state.step, Date.now());
    if (until(r)) return r;
    if (['done', 'failed', 'cancelled'].includes(r.state.phase))
      throw new Error(`run ${id} ended as ${JSON.stringify(r.state)}\n${cluster.logs()}`);
    if (Date.now() > deadline) throw new Error(`timed out on run ${id}: ${JSON.stringify(r.state)}\n${cluster.logs()}`);
    await sleep(100);
  }
}

/** Live workers whose logs show they joined `generation` of `jobRunId`. */
function membersOf(cluster: Cluster, jobRunId: string, generation: number): AppProcess[] {
  return cluster.workers.filter(
    (p) =>
      p.child.exitCode === null &&
      p.child.signalCode === null &&
      p
        .output()
        .split('\n')
        .some(
          (l) =>
            l.includes('"generation joined"') &&
            l.includes(`"runId":"${jobRunId}"`) &&
            l.includes(`"generation":${generation}`),
        ),
  );
}

/** When the first / last slot of `generation` logged `message` (ms since epoch), from every worker's output. */
function logTimes(cluster: Cluster, jobRunId: string, generation: number, message: string): number[] {
  const out: number[] = [];
  for (const p of cluster.workers)
    for (const l of p.output().split('\n')) {
      if (!l.includes(`"message":"${message}"`) || !l.includes(`"runId":"${jobRunId}"`)) continue;
      if (!l.includes(`"generation":${generation}`)) continue;
      const at = /"timestamp":"([^"]+)"/.exec(l)?.[1];
      if (at) out.push(Date.parse(at));
    }
  return out.sort((a, b) => a - b);
}

interface Trial {
  trial: number;
  killStep: number;
  victim: string;
  detectSec: number;
  fromStep: number;
  stepsRedone: number;
  timeLostSec: number;
  boundSec: number;
  withinBound: boolean;
  restartOverheadSec: number;
  /** restart decision → the last slot job of the new generation taken by a worker */
  takenSec: number;
  /** restart decision → the last slot joined the new generation (engine up, teacher + LATEST loaded) */
  joinedSec: number;
  wallSec: number;
  maxRelError: number;
}

const cluster = await Cluster.start({ workers: 4 });
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`${signal}: stopping the cluster`);
    cluster.stop().then(
      () => process.exit(130),
      () => process.exit(1),
    );
  });
const loadBefore = loadAverage();
try {
  // the uninterrupted run
  const t0 = Date.now();
  const ref = await cluster.createRun(spec('crash-reference'));
  const refSeen = new Map<number, number>();
  const refDone = await follow(cluster, ref.id, (r) => r.state.phase === 'done', refSeen);
  const refWallSec = (Date.now() - t0) / 1000;
  if (refDone.state.phase !== 'done') throw new Error('reference run did not finish');
  const reference = await cluster.finalParams(stageRunId(ref.id, 'student'));
  const seenSteps = [...refSeen.keys()].sort((a, b) => a - b);
  const first = seenSteps[0] ?? 0;
  const last = seenSteps.at(-1) ?? 0;
  const stepSec = last > first ? ((refSeen.get(last) ?? 0) - (refSeen.get(first) ?? 0)) / 1000 / (last - first) : 0;
  const intervalSec = every * stepSec;
  log(
    `reference: ${refWallSec.toFixed(1)} s wall, ${stepSec.toFixed(3)} s/step, checkpoint interval ${intervalSec.toFixed(2)} s`,
  );

  const rows: Trial[] = [];
  for (let i = 1; rows.length < trials; i++) {
    const target = 2 + Math.floor(rand() * (steps - 6)); // in [2, steps-5]: steps left after the kill
    const started = Date.now();
    const run = await cluster.createRun(spec(`crash-trial-${i}`));
    const seen = new Map<number, number>();
    const atKill = await follow(
      cluster,
      run.id,
      (r) => (r.state.phase === 'training' && r.state.step >= target) || ['exporting', 'done'].includes(r.state.phase),
      seen,
    );
    if (atKill.state.phase !== 'training') {
      log(`trial ${i}: the run passed step ${target} unseen (${atKill.state.phase}); not counted`);
      await follow(cluster, run.id, (r) => r.state.phase === 'done', seen);
      continue;
    }
    const members = membersOf(cluster, run.id, atKill.generation);
    if (members.length === 0) throw new Error(`no live member of ${run.id} g${atKill.generation}\n${cluster.logs()}`);
    const victim = members[Math.floor(rand() * members.length)] as AppProcess;
    const killStep = atKill.state.phase === 'training' ? atKill.state.step : target;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    await cluster.startWorker(); // keep 4 workers (3 slots + a spare)
    const restarted = await follow(cluster, run.id, (r) => r.restarts.length > 0, seen);
    const restart = restarted.restarts[0];
    if (!restart) throw new Error('no restart recorded');
    const detectSec = (Date.parse(restart.at) - killedAt) / 1000;
    const recovered = await follow(
      cluster,
      run.id,
      (r) => r.state.phase === 'exporting' || (r.state.phase === 'training' && r.state.step >= killStep),
      new Map(),
    );
    const timeLostSec = (Date.now() - killedAt) / 1000;
    const done = await follow(cluster, run.id, (r) => r.state.phase === 'done', seen);
    const params = await cluster.finalParams(stageRunId(run.id, 'student'));
    const stepsRedone = killStep - restart.fromStep;
    const restartAt = Date.parse(restart.at);
    const taken = logTimes(cluster, run.id, restart.generation, 'slot job taken');
    const joined = logTimes(cluster, run.id, restart.generation, 'generation joined');
    const boundSec = intervalSec + detectSec;
    const row: Trial = {
      trial: rows.length + 1,
      killStep,
      victim: victim.name,
      detectSec,
      fromStep: restart.fromStep,
      stepsRedone,
      timeLostSec,
      boundSec,
      withinBound: timeLostSec <= boundSec,
      restartOverheadSec: timeLostSec - detectSec - stepsRedone * stepSec,
      takenSec: ((taken.at(-1) ?? Number.NaN) - restartAt) / 1000,
      joinedSec: ((joined.at(-1) ?? Number.NaN) - restartAt) / 1000,
      wallSec: (Date.now() - started) / 1000,
      maxRelError: maxRelError(reference, params),
    };
    if (done.restarts.length !== 1 || done.restarts[0]?.cause !== 'crashed')
      log(`trial ${i}: unexpected restarts ${JSON.stringify(done.restarts)}`);
    rows.push(row);
    log(
      `trial ${row.trial}: kill -9 ${row.victim} at step ${killStep}: detected ${detectSec.toFixed(2)} s, from step ${row.fromStep}, lost ${timeLostSec.toFixed(2)} s (jobs taken +${row.takenSec.toFixed(2)} s, all joined +${row.joinedSec.toFixed(2)} s after the decision), max rel err ${row.maxRelError.toExponential(2)} (${recovered.state.phase})`,
    );
  }
  const loadAfter = loadAverage();
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ refWallSec, stepSec, intervalSec, rows, loadBefore, loadAfter })}\n`);
  } else {
    const f = (x: number, d = 2) => x.toFixed(d);
    const lines = [
      `crash trials: ${trials} × kill -9 of a random member of a 3-slot run (${steps} steps, checkpoint every ${every}, heartbeat TTL 3 s), seed ${values.seed}`,
      `uninterrupted: ${f(refWallSec, 1)} s wall, ${f(stepSec, 3)} s/step → checkpoint interval ${f(intervalSec)} s`,
      '',
      '| trial | kill step | victim | detection s | restart from | steps redone | time lost s | bound s (interval + detection) | within | restart overhead s | → jobs taken s | → all joined s | run wall s | max rel err |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.trial} | ${r.killStep} | ${r.victim} | ${f(r.detectSec)} | ${r.fromStep} | ${r.stepsRedone} | ${f(r.timeLostSec)} | ${f(r.boundSec)} | ${r.withinBound ? 'yes' : 'no'} | ${f(r.restartOverheadSec)} | ${f(r.takenSec)} | ${f(r.joinedSec)} | ${f(r.wallSec, 1)} | ${r.maxRelError.toExponential(2)} |`,
      ),
      '',
      'time lost = kill → the run back at the step it had reached; restart overhead = time lost − detection − steps redone × s/step;',
      '→ jobs taken / → all joined: from the restart decision to the last slot job of the new generation taken / joined.',
      '',
      `all equal to the uninterrupted run (≤ 1e-4): ${rows.every((r) => r.maxRelError <= 1e-4) ? 'yes' : 'NO'}`,
      `load before: ${loadBefore}`,
      `load after:  ${loadAfter}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
} finally {
  if (values.logs) writeFileSync(values.logs, cluster.logs());
  await cluster.stop();
}
