export { BlobCache } from './blob-cache.js';
export {
  CheckpointStore,
  type CheckpointStoreOptions,
  type CheckpointSummary,
  type CheckpointTensor,
  type LoadedCheckpoint,
  type RetainOptions,
  type RetainResult,
  type SaveCheckpointInput,
  sha256Hex,
} from './checkpoint-store.js';
export {
  createObjectStore,
  type ObjectStoreOptions,
  parseStorageUrl,
  type StorageLocation,
  s3OptionsFromEnvConfig,
} from './create-object-store.js';
export {
  CheckpointNotFoundError,
  ConditionalWritesUnsupportedError,
  IntegrityError,
  StorageConfigError,
  StorageError,
} from './errors.js';
export { FileObjectStore } from './file-store.js';
export {
  type CheckpointManifest,
  CheckpointManifestSchema,
  type JsonValue,
  type LatestPointer,
  LatestPointerSchema,
  type TensorDtype,
  type TensorEntry,
} from './manifest.js';
export type { ConditionalResult, ObjectInfo, ObjectStore } from './object-store.js';
export { type FailureKind, type RetryDecision, type RetryPolicy, RetryPolicySchema, retryDecision } from './retry.js';
export { type ReportFiles, RunStorage } from './run-storage.js';
export { S3ObjectStore, type S3Options, type S3OptionsInput, S3OptionsSchema } from './s3-store.js';
export { registerStorageIO, storageIOHandler, type TfjsIOOptions } from './tfjs-io.js';
