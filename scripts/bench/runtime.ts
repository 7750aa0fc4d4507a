// Distributed runtime benchmark: step time split into compute / sync / checkpoint for 1, 2 and 4
// workers, in one run. Each worker is a slot with its own compute thread (LorkdEngine), its own Redis
// connections (rendezvous + collectives over a private redis-server) and rank 0 checkpointing to a
// file store, exactly as the worker app runs them (in one process here, so the numbers show the
// runtime's own costs, not process start-up).
//
//   node --conditions=lorkd-source --import tsx scripts/bench/runtime.ts [--steps 12] [--workers 1,2,4] [--json]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GenerationFence, RedisConnections } from '@lorkd/cluster';
import { parseRunSpec, type RunSpec, silentLogger } from '@lorkd/contracts';
import { planSlots } from '@lorkd/coordinator';
import { CheckpointStore, createObjectStore } from '@lorkd/storage';
import { startRedisServer } from '@lorkd/testing';
import {
  clusterGenerations,
  LORKD_ENGINE_ENTRY,
  runSlotLoop,
  type StepReport,
  snapshotToTensors,
  ThreadEngine,
  tinySpecInput,
} from '@lorkd/worker';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '12' },
    workers: { type: 'string', default: '1,2,4' },
    json: { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const worlds = String(values.workers).split(',').map(Number);

const spec: RunSpec = parseRunSpec(
  tinySpecInput({
    name: 'bench',
    regions: tinySpecInput().regions,
    data: { imageSize: 28, phantom: { seed: 3, trainPerRegion: 64, valPerRegion: 0, testPerRegion: 8, conflict: 0.7 } },
    model: { width: 8, depth: 2, groupNormGroups: 2, expert: { rank: 4, alpha: 16 } },
    teacher: { kind: 'train', width: 8, depth: 2, steps: 1 },
    training: {
      steps,
      batchPerRegion: 8,
      optimizer: { kind: 'adamw', lr: 0.005 },
      schedule: { kind: 'constant' },
      kd: { beta: 0, temperature: 2 },
    },
    cluster: { workers: 1, checkpointEvery: 4, heartbeatTimeoutSec: 10, backend: 'wasm' },
  }),
);

interface Row {
  workers: number;
  stepMs: number;
  computeMs: number;
  syncMs: number;
  checkpointMs: number;
  samplesPerSec: number;
}

async function measure(world: number, redisUrl: string, storeUrl: string): Promise<Row> {
  const connections = await RedisConnections.create({ url: redisUrl });
  const fence = await GenerationFence.create({ connections, prefix: 'bench' });
  const runId = `bench-w${world}`;
  await fence.advance(runId, 0);
  const plan = planSlots({
    regions: spec.regions.map((r) => r.name),
    workers: world,
    batchPerRegion: spec.training.batchPerRegion,
  });
  const store = await createObjectStore(storeUrl);
  const ckpts = await CheckpointStore.create({ store, runId });
  const generations = clusterGenerations({
    connections,
    fence,
    prefix: 'bench',
    workerId: 'bench',
    logger: silentLogger,
  });
  const reports: StepReport[] = [];
  const started = performance.now();
  await Promise.all(
    plan.slots.map(async (slot) => {
      const engine = await ThreadEngine.start({
        entry: LORKD_ENGINE_ENTRY,
        boot: { backend: 'wasm' },
        init: {
          spec,
          stage: 'student',
          regions: slot.shares.map((s) => s.region),
          replica: slot.shares[0]?.replica ?? 0,
          replicas: slot.shares[0]?.replicas ?? 1,
          backend: 'wasm',
        },
        logger: silentLogger,
      });
      const session = await generations.join(runId, 0, slot.slot, plan.worldSize, {
        signal: new AbortController().signal,
        timeoutMs: 300_000,
        collectiveTimeoutMs: 300_000,
        heartbeatTtlMs: 10_000,
        fp16: false,
      });
      try {
        await runSlotLoop(
          {
            engine,
            allReduce: session.allReduce,
            logger: silentLogger,
            stopRequested: () => false,
            onStep: async (r) => {
              if (slot.slot === 0) reports.push(r);
            },
            saveCheckpoint: async (step, snap) => {
              await ckpts.save({
                step,
                generation: 0,
                tensors: snapshotToTensors(snap),
                sampler: { step },
                rng: {},
                specHash: 'bench',
                datasetHash: snap.datasetHash ?? 'bench',
              });
            },
          },
          {
            rank: slot.slot,
            worldSize: plan.worldSize,
            groups: Object.entries(plan.groups)
              .filter(([, ranks]) => ranks.includes(slot.slot))
              .map(([name, ranks]) => ({ name, ranks })),
            fromStep: 0,
            totalSteps: steps,
            checkpointEvery: spec.cluster.checkpointEvery,
          },
        );
      } finally {
        await session.leave();
        await engine.close();
      }
    }),
  );
  void started;
  await store.close();
  await connections.close();
  const warm = reports.slice(2); // first steps include compilation and thread warm-up
  const mean = (f: (r: StepReport) => number) => warm.reduce((a, r) => a + f(r), 0) / Math.max(1, warm.length);
  const computeMs = mean((r) => r.computeMs);
  const syncMs = mean((r) => r.syncMs);
  const checkpointMs = mean((r) => r.checkpointMs);
  const stepMs = computeMs + syncMs + checkpointMs;
  const globalBatch = spec.regions.length * spec.training.batchPerRegion;
  return { workers: world, stepMs, computeMs, syncMs, checkpointMs, samplesPerSec: (globalBatch * 1000) / stepMs };
}

const redis = await startRedisServer();
const dir = await mkdtemp(join(tmpdir(), 'lorkd-bench-runtime-'));
try {
  const rows: Row[] = [];
  for (const w of worlds) rows.push(await measure(w, redis.url, `file://${dir}`));
  if (values.json) process.stdout.write(`${JSON.stringify({ steps, rows }, null, 2)}\n`);
  else {
    const f = (v: number) => v.toFixed(1).padStart(9);
    process.stdout.write(
      `student ${spec.regions.length} regions, width ${spec.model.width}, depth ${spec.model.depth}, ${spec.data.imageSize}x${spec.data.imageSize}, global batch ${spec.regions.length * spec.training.batchPerRegion}, checkpoint every ${spec.cluster.checkpointEvery} steps; mean over steps 3..${steps}\n`,
    );
    process.stdout.write('workers   step ms compute ms   sync ms  ckpt ms  samples/s  vs 1 worker\n');
    const one = rows[0]?.stepMs ?? 1;
    for (const r of rows)
      process.stdout.write(
        `${String(r.workers).padStart(7)} ${f(r.stepMs)} ${f(r.computeMs)} ${f(r.syncMs)} ${f(r.checkpointMs)} ${f(r.samplesPerSec)} ${(one / r.stepMs).toFixed(2).padStart(11)}x\n`,
      );
  }
} finally {
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
