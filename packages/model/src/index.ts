export { type Architecture, type ArchNode, buildArchitecture, groupsFor } from './architecture.js';
export { type Batch, logitOffsets, outputSize, validateBatch } from './batch.js';
export {
  expertScale,
  type ModelConfig,
  type ModelConfigInput,
  ModelConfigSchema,
  type RegionConfig,
  resolveModelConfig,
} from './config.js';
export { countFlops, countParams, type FlopCounts, type ParamCounts } from './counts.js';
export {
  chooseStrategy,
  type EksStrategy,
  type ExpertConvWeights,
  eksConv2d,
  expertDelta,
  foldedKernel,
  foldedKernels,
  naiveConv2d,
  type RegionGroup,
  type RegionLayout,
  regionConv2d,
  sortByRegion,
} from './eks.js';
export { ModelError } from './errors.js';
export { ExpertConv2D, type ExpertConv2DArgs } from './expert-conv2d.js';
export { type ExportOptions, fold, switchExpert, toLayersModel } from './fold.js';
export { type ForwardMode, features, groupNorm, upsample2x } from './forward.js';
export {
  type EvalResult,
  evaluate,
  type PredictOptions,
  predictLogits,
  type RegionScore,
  scoreLogits,
  teacherLogits,
} from './inference.js';
export {
  type MethodCheckData,
  type MethodCheckOptions,
  type MethodCheckResult,
  makeConflictingData,
  runMethodCheck,
  type TrainOptions,
  trainModel,
} from './method-check.js';
export {
  buildStudent,
  buildTeacher,
  getParams,
  LorkdModel,
  type ParamInfo,
  type SyncGroup,
  setParams,
} from './model.js';
export {
  clipByGlobalNorm,
  createOptimizer,
  decays,
  globalNorm,
  gradNormSquaredByGroup,
  learningRate,
  Optimizer,
  type OptimizerOptions,
  type ScheduleSettings,
} from './optimizer.js';
export { rowGroupedConv2d } from './row-grouped-conv2d.js';
export { modelConfigsFromRunSpec, type RunModelConfigs } from './run-spec.js';
export { computeGradients, computeLoss, type GradientResult, type LossOptions, type LossParts } from './train-step.js';
