export {
  DEFAULT_PORTS,
  ENV_VARS,
  type EnvConfig,
  EnvConfigSchema,
  type EnvVarName,
  HEALTH_PATHS,
  parseEnvConfig,
} from './config.js';
export { LorkdError, ValidationError, type ValidationIssue } from './errors.js';
export { type LogFields, type Logger, type LogLevel, silentLogger } from './logger.js';
export {
  CheckpointInfoSchema,
  type FailureCause,
  FailureCauseSchema,
  type QueueCounts,
  type RegionProgress,
  RegionProgressSchema,
  type RestartRecord,
  RestartRecordSchema,
  type RunEvent,
  RunEventSchema,
  type RunPhase,
  type RunRecord,
  type RunService,
  type RunState,
  RunStateSchema,
  TERMINAL_PHASES,
} from './run.js';
export {
  type DataSource,
  DataSourceSchema,
  type OptimizerSettings,
  parseRunSpec,
  parseRunSpecYaml,
  type RegionSpec,
  RegionSpecSchema,
  type RunSpec,
  type RunSpecInput,
  RunSpecSchema,
} from './run-spec.js';
export { parseStageRunId, parseTaggedFailure, type RunStage, stageRunId, tagFailure } from './runtime.js';
export { formatPath, toValidationIssues } from './zod-issues.js';
