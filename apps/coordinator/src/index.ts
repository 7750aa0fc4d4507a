export { type Coordinator, type CoordinatorDeps, createCoordinator } from './coordinator.js';
export { exportRun, type RegionReport, type RunReport } from './export/exporter.js';
export {
  createHttpServer,
  DRIVER_SPEC,
  driveRun,
  type HttpServerOptions,
  type LorkdHttpServer,
  MemoryRunService,
  type MetricsEndpoint,
  type ReportSource,
} from './http/index.js';
export {
  groupRanks,
  type PlanInput,
  planSlots,
  type RegionShare,
  type SlotAssignment,
  type SlotPlan,
  slotRegions,
  splitEven,
} from './plan/planner.js';
export { storageReports } from './report-source.js';
export {
  budgetFor,
  decideOnFailure,
  type FailureBudgets,
  type FailureCounts,
  type FailureDecision,
  type FailureReport,
  NO_FAILURES,
  primaryFailure,
} from './run/failure-policy.js';
export { countFailures, RunDriver, type RunDriverDeps, storageRoot } from './run/run-driver.js';
export { isTerminal, type RunMachineEvent, type Stage, type Transition, transition } from './run/run-machine.js';
