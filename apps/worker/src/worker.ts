import { hostname } from 'node:os';
import {
  createSlotWorker,
  GenerationFence,
  type QueueWorker,
  RedisConnections,
  RunStore,
  type SlotJobData,
} from '@lorkd/cluster';
import { type Logger, type RunEvent, silentLogger, stageRunId } from '@lorkd/contracts';
import {
  BlobCache,
  CheckpointStore,
  createObjectStore,
  type ObjectStore,
  type ObjectStoreOptions,
} from '@lorkd/storage';
import { createMetrics, type LorkdMetrics } from '@lorkd/telemetry';
import { clusterGenerations } from './cluster-generations.js';
import { EngineCache, type EngineHost } from './engine/engine-cache.js';
import { type EngineThreadBoot, type EngineThreadInit, LORKD_ENGINE_ENTRY } from './engine/engine-thread-init.js';
import { stageSteps } from './engine/lorkd-engine.js';
import { ThreadEngine } from './engine/thread-engine.js';
import { HealthServer } from './http/health-server.js';
import type { RunRecordsPort } from './ports.js';
import { HotSpare, type SpareTarget } from './slot/hot-spare.js';
import { processSeat, type SeatResult, storageRoot } from './slot/seat.js';
import { needsTrainedTeacher, TeacherCache } from './slot/seat-state.js';

export interface WorkerDeps {
  readonly redisUrl: string;
  /** BullMQ / lorkd key prefix (LORKD_QUEUE_PREFIX). */
  readonly prefix?: string;
  /** Stable worker name (LORKD_WORKER_ID); default host:pid. */
  readonly workerId?: string;
  /** Compute backend (LORKD_BACKEND); when absent, each run's `cluster.backend` (default auto). */
  readonly backend?: EngineThreadInit['backend'];
  /** The default storage root (LORKD_STORAGE_URL), opened when the worker starts; runs may name others. */
  readonly storageUrl?: string;
  /** Options for opening s3:// and file:// stores (S3 settings from the environment). */
  readonly storage?: ObjectStoreOptions;
  readonly logger?: Logger;
  /** Override how the compute thread boots (default: a ThreadEngine serving LorkdEngines). */
  readonly bootEngine?: (boot: EngineThreadBoot) => Promise<EngineHost>;
  /** BullMQ lock duration of a slot job (a dead worker's job returns to the queue after about this long). */
  readonly lockDurationMs?: number;
  /** Serve `/healthz`, `/readyz` and `/metrics` (LORKD_WORKER_PORT; 0 = any free port); none when absent. */
  readonly http?: { readonly port: number; readonly host?: string };
  /** Memory for checkpoint tensors kept by content hash (default 256 MiB). */
  readonly blobCacheBytes?: number;
  /**
   * While idle, build the engine of the newest running stage ahead of time, so this worker can take
   * over a slot of it in milliseconds (default true).
   */
  readonly hotSpare?: boolean;
  /** The worker's Prometheus series; default a fresh `createMetrics({ defaultLabels: { service: 'worker' } })`. */
  readonly metrics?: LorkdMetrics;
}

export interface LorkdWorker {
  readonly id: string;
  start(): Promise<void>;
  /**
   * Stops: the running slot (if any) finishes its step, the slots checkpoint together, and its job
   * ends; no new job is taken. Resolves once everything is closed.
   */
  stop(reason?: string): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the current slot job (if any) is done; for tests. */
  readonly activeJobs: number;
  /** Step, sync and checkpoint histograms fed by the slots this worker runs (what `/metrics` serves). */
  readonly metrics: LorkdMetrics;
  /** The port `/metrics` is served on once started (undefined without `http`). */
  readonly httpPort: number | undefined;
}

/** A worker process's runtime: takes slot jobs from `lorkd-train` and trains them (compute in a thread). */
export function createWorker(deps: WorkerDeps): LorkdWorker {
  const logger = (deps.logger ?? silentLogger).child({ component: 'worker' });
  const id = deps.workerId ?? `${hostname()}:${process.pid}`;
  const prefix = deps.prefix ?? 'lorkd';
  const stopCtl = new AbortController();
  let connections: RedisConnections | undefined;
  let queueWorker: QueueWorker<SlotJobData, SeatResult> | undefined;
  const stores = new Map<string, Promise<ObjectStore>>();
  let engines: EngineCache | undefined;
  let spare: HotSpare | undefined;
  const teachers = new TeacherCache();
  // Checkpoint tensors this worker holds (wrote, read, or computed as a member of their sync group):
  // a restarted generation on this worker downloads only what it lacks.
  const blobs = new BlobCache(deps.blobCacheBytes);
  const openCheckpoints = (store: ObjectStore, runId: string) =>
    CheckpointStore.create({ store, runId, logger, blobCache: blobs });
  const followed = new Map<string, number>();
  const metrics = deps.metrics ?? createMetrics({ defaultLabels: { service: 'worker' } });
  let ready = false;
  const health = new HealthServer({ metrics, ready: () => ready, logger });
  let httpPort: number | undefined;

  const openStore = (url: string) => {
    let s = stores.get(url);
    if (!s) {
      s = createObjectStore(url, { logger, ...(deps.storage ?? {}) });
      s.catch(() => stores.delete(url));
      stores.set(url, s);
    }
    return s;
  };

  /** Reads the stage's teacher (if it needs one) and builds its engine while no job holds it. */
  const prepareSpare = async ({ record, stage }: SpareTarget, cache: EngineCache): Promise<void> => {
    const { spec } = record;
    const store = await openStore(storageRoot(record));
    let teacherParams: Map<string, Float32Array> | undefined;
    if (needsTrainedTeacher(spec, stage)) {
      const runId = stageRunId(record.id, 'teacher');
      teacherParams = await teachers.load(await openCheckpoints(store, runId), stageSteps(spec, 'teacher'));
      if (!teacherParams) return; // not trained yet
    }
    const first = spec.regions[0]?.name;
    if (!first) return;
    await cache.prepare({
      spec,
      stage,
      regions: [first],
      replica: 0,
      replicas: 1,
      ...(teacherParams ? { teacherParams } : {}),
      backend: deps.backend ?? spec.cluster.backend,
    });
  };

  /** A hot spare reads each new checkpoint of its stage into the blob cache, ahead of a restart. */
  const followCheckpoints = async ({ record, stage, key }: SpareTarget): Promise<void> => {
    const checkpoints = await openCheckpoints(await openStore(storageRoot(record)), stageRunId(record.id, stage));
    const latest = await checkpoints.latest();
    if (!latest || followed.get(key) === latest.step) return;
    await checkpoints.loadLatest();
    followed.set(key, latest.step);
  };

  return {
    id,
    get activeJobs() {
      return queueWorker?.activeJobs ?? 0;
    },
    metrics,
    get httpPort() {
      return httpPort;
    },
    async start() {
      if (deps.http) httpPort = await health.listen(deps.http.port, deps.http.host);
      connections = await RedisConnections.create({ url: deps.redisUrl, clientName: 'lorkd-worker', logger });
      const conns = connections;
      const runStore = await RunStore.create({ connections: conns, prefix, logger });
      const fence = await GenerationFence.create({ connections: conns, prefix });
      const runs: RunRecordsPort = {
        get: (runId) => runStore.get(runId),
        update: (runId, patch) => runStore.update(runId, patch),
        appendEvent: (runId, event: RunEvent) => runStore.appendEvent(runId, event),
      };
      const generations = clusterGenerations({ connections: conns, fence, prefix, workerId: id, logger });
      const cache = new EngineCache(
        deps.bootEngine ?? ((boot) => ThreadEngine.boot({ entry: LORKD_ENGINE_ENTRY, boot, logger })),
        { backend: deps.backend ?? 'auto' },
        logger,
      );
      engines = cache;
      // Get warm before taking jobs: boot the compute thread and open the default storage (client
      // and connection), so that neither the first slot job nor a restarted
      // generation this worker joins waits for them; a worker still starting does not take a job
      // from a warm one. Failures here are logged; the job that needs the part reports them.
      const warming = performance.now();
      await Promise.all([
        cache.warm().catch(() => undefined),
        deps.storageUrl
          ? openStore(deps.storageUrl)
              // a read (connection, credentials, bucket); not the write-capability probe: probes from
              // many workers starting at once race on s3rver (it deletes the probe folder under another)
              .then((store) => store.head('.lorkd/warm-up'))
              .catch((err: unknown) =>
                logger.warn('storage not reachable yet', { url: deps.storageUrl, error: (err as Error).message }),
              )
          : undefined,
      ]);
      logger.info('worker warm', { ms: Math.round(performance.now() - warming) });
      const startEngine = (init: EngineThreadInit) => cache.acquire(init);
      queueWorker = await createSlotWorker<SeatResult>({
        connections: conns,
        prefix,
        workerName: id,
        ...(deps.lockDurationMs ? { lockDurationMs: deps.lockDurationMs } : {}),
        logger,
        processor: async (data) => {
          try {
            logger.info('slot job taken', { runId: data.runId, slot: data.slot, generation: data.generation });
            const result = await processSeat(data, {
              generations,
              runs,
              openStore,
              openCheckpoints,
              startEngine,
              backend: deps.backend,
              workerId: id,
              logger,
              stop: stopCtl.signal,
              metrics,
              teachers,
            });
            logger.info('slot job done', { ...result });
            return result;
          } catch (err) {
            await cache.clear(); // a failed engine is not reused; boot a fresh thread for the next job
            if (!stopCtl.signal.aborted) cache.warm().catch(() => {});
            throw err;
          }
        },
      });
      if (deps.hotSpare ?? true) {
        spare = new HotSpare({
          listRuns: () => runStore.list({ limit: 50 }),
          idle: () => (queueWorker?.activeJobs ?? 1) === 0,
          prepare: (target) => prepareSpare(target, cache),
          follow: (target) => followCheckpoints(target),
          logger,
        });
        spare.start();
      }
      ready = true;
      logger.info('worker started', { id, prefix, ...(httpPort !== undefined ? { httpPort } : {}) });
    },
    async stop(reason = 'stop requested') {
      ready = false;
      if (!stopCtl.signal.aborted) stopCtl.abort(new Error(reason));
      logger.info('worker stopping', { reason, activeJobs: queueWorker?.activeJobs ?? 0 });
      await spare?.stop();
      await queueWorker?.close();
      queueWorker = undefined;
      await this.close();
    },
    async close() {
      ready = false;
      await spare?.stop();
      spare = undefined;
      await queueWorker?.close({ force: true });
      queueWorker = undefined;
      await engines?.clear();
      engines = undefined;
      for (const s of stores.values()) await (await s.catch(() => undefined))?.close();
      stores.clear();
      await connections?.close();
      connections = undefined;
      await health.close();
      httpPort = undefined;
    },
  };
}
