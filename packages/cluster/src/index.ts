export {
  Collective,
  type CollectiveCallOptions,
  type CollectiveOptions,
  partBounds,
  sumInOrder,
} from './collective.js';
export {
  ClusterAbortedError,
  ClusterUsageError,
  CollectiveTimeoutError,
  GenerationFencedError,
  JobReleasedError,
  RedisConfigError,
  RedisUnavailableError,
  RunExistsError,
  RunNotFoundError,
} from './errors.js';
export { decodeHalf, encodeHalf, roundToHalf } from './fp16.js';
export { GenerationFence } from './generation-fence.js';
export {
  type ControlJobData,
  ControlJobDataSchema,
  type ExportJobData,
  ExportJobDataSchema,
  type GroupMembership,
  GroupMembershipSchema,
  type PlanJobData,
  PlanJobDataSchema,
  QUEUE_NAMES,
  type QueueName,
  type SlotJobData,
  SlotJobDataSchema,
  type SlotJobResult,
  SlotJobResultSchema,
  type SlotRegion,
  SlotRegionSchema,
} from './job-data.js';
export {
  type AbortReasonKind,
  createControlWorker,
  createSlotWorker,
  type JobContext,
  type JobProcessor,
  QueueWorker,
  type QueueWorkerOptions,
} from './queue-worker.js';
export {
  type EnqueuedRun,
  type JobInfo,
  type JobState,
  LorkdQueues,
  type LorkdQueuesOptions,
  type QueueJobEvent,
  runJobIds,
} from './queues.js';
export {
  type ConnectionPurpose,
  type RedisClient,
  RedisConnections,
  type RedisConnectionsOptions,
  redactRedisUrl,
} from './redis-connections.js';
export {
  type ExpiredMember,
  RendezvousMember,
  type RendezvousMemberInfo,
  RendezvousMonitor,
  type RendezvousOptions,
} from './rendezvous.js';
export { type RunPatch, RunStore, type RunStoreOptions, type TransitionResult } from './run-store.js';
