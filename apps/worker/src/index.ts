export { clusterGenerations } from './cluster-generations.js';
export type { EngineSnapshot, GroupLayout, SlotEngine, StepGradients } from './engine/engine.js';
export { type EngineThreadInit, LORKD_ENGINE_ENTRY } from './engine/engine-thread-init.js';
export { buildStageModel, LorkdEngine, type LorkdEngineInit, stageSteps } from './engine/lorkd-engine.js';
export { loadRunDataset, RunDataError } from './engine/run-dataset.js';
export { EngineThreadError, ThreadEngine, type ThreadEngineOptions } from './engine/thread-engine.js';
export { HealthServer, type HealthServerOptions, type MetricsSource } from './http/health-server.js';
export { trainSingleProcess } from './single-process.js';
export { snapshotToTensors, tensorsToSnapshot } from './slot/checkpoint-codec.js';
export {
  processSeat,
  type SeatDeps,
  SeatFailure,
  type SeatJob,
  type SeatResult,
  type SlotMetrics,
} from './slot/seat.js';
export {
  type AllReduce,
  runSlotLoop,
  type SlotLoopOptions,
  type SlotLoopOutcome,
  type StepReport,
} from './slot/slot-loop.js';
export { tinySpecInput } from './test-support.js';
export { createWorker, type LorkdWorker, type WorkerDeps } from './worker.js';
