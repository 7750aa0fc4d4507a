export { BackendUnavailableError, KernelInputError, ThreadPoolError } from './errors.js';
export { registerWasmKernels, WASM_KERNEL_NAMES, type WasmKernelName } from './kernels/register-wasm-kernels.js';
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
export { activateWasmBackend } from './wasm-backend.js';
