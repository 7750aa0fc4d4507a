export { type Batch, type BatchArray, type BatchField, batchSize, splitBatch } from './batch.js';
export {
  type CreateGradientFunction,
  type DataParallelOptions,
  DataParallelOptionsSchema,
  DataParallelTrainer,
  type GradientFunction,
  type StepResult,
} from './data-parallel.js';
export { BackendUnavailableError, KernelInputError, ThreadPoolError } from './errors.js';
export {
  activeWasmKernels,
  registerWasmKernels,
  WASM_KERNEL_NAMES,
  type WasmKernelName,
} from './kernels/register-wasm-kernels.js';
export {
  createFlatOptimizer,
  type FlatOptimizer,
  type OptimizerSettings,
  OptimizerSettingsSchema,
} from './optimizer.js';
export {
  initReferenceCnnParams,
  mulberry32,
  type ParamSpec,
  paramCount,
  type ReferenceCnnConfig,
  referenceCnnConfig,
  referenceCnnFlops,
  referenceCnnLayout,
  referenceCnnLogits,
  referenceCnnLoss,
} from './reference-cnn.js';
export { type ReferenceCnnGradientInit, referenceCnnGradientFunction } from './reference-cnn-gradient.js';
export {
  BACKEND_TIERS,
  type BackendAttempt,
  type BackendDecision,
  type BackendPreference,
  type BackendTier,
  type SelectBackendOptions,
  SelectBackendOptionsSchema,
  selectBackend,
} from './select-backend.js';
export { tfjsGradientFunction } from './tfjs-gradient.js';
export {
  type ThreadContext,
  type ThreadHandler,
  ThreadPool,
  type ThreadPoolOptions,
  ThreadPoolOptionsSchema,
  type ThreadSetup,
  withTransfer,
} from './thread-pool.js';
export { activateWasmBackend } from './wasm-backend.js';

/** Absolute path of the reference CNN's gradient module, for `DataParallelTrainer` (benchmarks, tests). */
export const REFERENCE_CNN_GRADIENT_MODULE = new URL(
  `./reference-cnn-gradient${/\.(c|m)?ts$/.test(new URL(import.meta.url).pathname) ? '.ts' : '.js'}`,
  import.meta.url,
);
