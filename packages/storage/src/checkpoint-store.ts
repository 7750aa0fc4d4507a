import { createHash } from 'node:crypto';
import { type Logger, silentLogger, toValidationIssues, ValidationError } from '@lorkd/contracts';
import type { BlobCache } from './blob-cache.js';
import { Mutex, mapLimit } from './concurrency.js';
import { CheckpointNotFoundError, IntegrityError, StorageError } from './errors.js';
import { advanceLatest } from './latest.js';
import {
  type CheckpointManifest,
  CheckpointManifestSchema,
  type JsonValue,
  type LatestPointer,
  LatestPointerSchema,
  parseStepSegment,
  stepSegment,
  type TensorDtype,
  type TensorEntry,
} from './manifest.js';
import type { ObjectStore } from './object-store.js';

export interface CheckpointTensor {
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

export interface SaveCheckpointInput {
  readonly step: number;
  readonly generation: number;
  readonly tensors: ReadonlyMap<string, CheckpointTensor>;
  readonly sampler: JsonValue;
  readonly rng: JsonValue;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly specHash: string;
  readonly datasetHash: string;
  readonly writer?: string;
}

export interface LoadedCheckpoint {
  readonly manifest: CheckpointManifest;
  readonly tensors: Map<string, CheckpointTensor>;
}

export interface CheckpointSummary {
  readonly step: number;
  readonly manifestKey: string;
  readonly lastModified: Date;
}

export interface RetainOptions {
  /** How many of the newest valid checkpoints to keep. */
  readonly keep: number;
  /** Steps kept whatever their age (e.g. the teacher's or a release). */
  readonly pinned?: readonly number[];
  /** Steps a running generation resumed from or still reads. */
  readonly protect?: readonly number[];
  /** Unreferenced blobs younger than this are left alone (another writer may be mid-save). */
  readonly blobGraceMs?: number;
}

export interface RetainResult {
  readonly kept: number[];
  readonly deleted: number[];
  readonly blobsDeleted: number;
}

export interface CheckpointStoreOptions {
  readonly store: ObjectStore;
  readonly runId: string;
  readonly logger?: Logger;
  /** Blobs uploaded/downloaded at once (default 8). */
  readonly concurrency?: number;
  /** Blobs this process already holds (shared across stores and runs); reads hit it before storage. */
  readonly blobCache?: BlobCache;
}

/** Blob requests in flight per save or load: checkpoints are many small tensors, so latency-bound. */
const DEFAULT_CONCURRENCY = 8;

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkRunId(runId: string): string {
  if (!RUN_ID.test(runId))
    throw new StorageError(`invalid run id ${JSON.stringify(runId)}: use letters, digits, _ . - (at most 128)`, {
      fields: { runId },
    });
  return runId;
}

function tensorOf(entry: TensorEntry, buffer: ArrayBuffer): CheckpointTensor {
  const data = entry.dtype === 'float32' ? new Float32Array(buffer) : new Int32Array(buffer);
  return { dtype: entry.dtype, shape: entry.shape, data };
}

function bytesOf(data: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The checkpoint protocol of one run (docs/storage.md): tensors go up as content-addressed blobs
 * (`blobs/sha256/HASH`, uploaded once), then the manifest (`checkpoints/STEP/manifest.json`), then
 * `LATEST` is advanced, only forward. A manifest exists only once all its blobs do, so a crash at any
 * point leaves the previous checkpoints intact and at most some unreferenced blobs (collected later).
 * Saves and retention of one instance are serialised.
 */
export class CheckpointStore {
  readonly runId: string;
  private readonly base: string;
  private readonly mutex = new Mutex();

  private constructor(
    readonly store: ObjectStore,
    runId: string,
    private readonly logger: Logger,
    private readonly concurrency: number,
    private readonly cache: BlobCache | undefined,
  ) {
    this.runId = checkRunId(runId);
    this.base = `runs/${runId}`;
  }

  static async create(options: CheckpointStoreOptions): Promise<CheckpointStore> {
    const logger = (options.logger ?? silentLogger).child({ runId: options.runId });
    return new CheckpointStore(
      options.store,
      options.runId,
      logger,
      options.concurrency ?? DEFAULT_CONCURRENCY,
      options.blobCache,
    );
  }

  blobKey(hash: string): string {
    return `${this.base}/blobs/sha256/${hash}`;
  }

  manifestKey(step: number): string {
    return `${this.base}/checkpoints/${stepSegment(step)}/manifest.json`;
  }

  get latestKey(): string {
    return `${this.base}/LATEST`;
  }

  save(input: SaveCheckpointInput): Promise<CheckpointManifest> {
    return this.mutex.run(() => this.saveLocked(input));
  }

  private async saveLocked(input: SaveCheckpointInput): Promise<CheckpointManifest> {
    const started = Date.now();
    if (!Number.isInteger(input.step) || input.step < 0 || !Number.isInteger(input.generation) || input.generation < 0)
      throw new ValidationError('checkpoint', [
        {
          path: 'step',
          message: `step and generation must be integers >= 0, got ${input.step} and ${input.generation}`,
        },
      ]);
    const entries: Array<{ entry: TensorEntry; bytes: Uint8Array }> = [];
    for (const [name, tensor] of input.tensors) {
      const expected = tensor.shape.reduce((a, b) => a * b, 1);
      const okType =
        tensor.dtype === 'float32' ? tensor.data instanceof Float32Array : tensor.data instanceof Int32Array;
      if (!okType || tensor.data.length !== expected)
        throw new StorageError(
          `tensor ${name}: dtype ${tensor.dtype} shape [${tensor.shape.join(',')}] needs a ${tensor.dtype === 'float32' ? 'Float32Array' : 'Int32Array'} of ${expected} elements, got ${tensor.data.constructor.name}(${tensor.data.length})`,
          { fields: { name, dtype: tensor.dtype, shape: tensor.shape } },
        );
      const bytes = bytesOf(tensor.data);
      entries.push({
        entry: { name, dtype: tensor.dtype, shape: [...tensor.shape], sha256: sha256Hex(bytes), bytes: bytes.length },
        bytes,
      });
    }
    // The manifest is checked before anything is uploaded, and written last.
    const parsed = CheckpointManifestSchema.safeParse({
      format: 'lorkd.checkpoint',
      version: 1,
      runId: this.runId,
      step: input.step,
      generation: input.generation,
      createdAt: new Date().toISOString(),
      tensors: entries.map((e) => e.entry),
      sampler: input.sampler,
      rng: input.rng,
      metrics: input.metrics ?? {},
      specHash: input.specHash,
      datasetHash: input.datasetHash,
      ...(input.writer === undefined ? {} : { writer: input.writer }),
    });
    if (!parsed.success)
      throw new ValidationError('checkpoint', toValidationIssues(parsed.error), { cause: parsed.error });
    const manifest = parsed.data;
    for (const e of entries) this.cache?.put(e.entry.sha256, e.bytes);
    // 1. Blobs, each at most once: content addressing makes re-uploads idempotent.
    const unique = new Map(entries.map((e) => [e.entry.sha256, e]));
    let uploaded = 0;
    await mapLimit([...unique.values()], this.concurrency, async ({ entry, bytes }) => {
      const key = this.blobKey(entry.sha256);
      const existing = await this.store.head(key);
      if (existing && existing.size === entry.bytes) return;
      await this.store.put(key, bytes, { contentType: 'application/octet-stream' });
      uploaded += entry.bytes;
    });
    // 2. The manifest.
    const manifestBytes = encoder.encode(JSON.stringify(manifest));
    await this.store.put(this.manifestKey(input.step), manifestBytes, { contentType: 'application/json' });
    // 3. LATEST, forward only.
    const advanced = await advanceLatest({
      store: this.store,
      key: this.latestKey,
      pointer: this.pointerFor(manifest, manifestBytes),
      newestCommitted: () => this.newestPointer(),
      logger: this.logger,
    });
    const fields = {
      step: input.step,
      generation: input.generation,
      uploadedBytes: uploaded,
      ms: Date.now() - started,
    };
    if (advanced) this.logger.info('checkpoint saved', fields);
    else this.logger.warn('checkpoint saved but LATEST is already at a later step; not moved back', fields);
    return manifest;
  }

  private pointerFor(manifest: CheckpointManifest, manifestBytes: Uint8Array): LatestPointer {
    return {
      format: 'lorkd.latest',
      version: 1,
      step: manifest.step,
      generation: manifest.generation,
      manifest: `checkpoints/${stepSegment(manifest.step)}/manifest.json`,
      manifestSha256: sha256Hex(manifestBytes),
      at: new Date().toISOString(),
    };
  }

  /** A pointer to the newest manifest present (for the fallback's repair step). */
  private async newestPointer(): Promise<LatestPointer | undefined> {
    for (const summary of (await this.list()).reverse()) {
      const got = await this.store.get(summary.manifestKey);
      if (!got) continue;
      const manifest = this.parseManifest(got.body, summary.step);
      if (manifest) return this.pointerFor(manifest, got.body);
    }
    return undefined;
  }

  private parseManifest(body: Uint8Array, step: number): CheckpointManifest | undefined {
    try {
      const parsed = CheckpointManifestSchema.safeParse(JSON.parse(decoder.decode(body)));
      if (parsed.success && parsed.data.step === step && parsed.data.runId === this.runId) return parsed.data;
    } catch {
      // fall through
    }
    this.logger.warn('unreadable checkpoint manifest', { step });
    return undefined;
  }

  /** The LATEST pointer as stored (undefined before the first save or if unreadable). */
  async latest(): Promise<LatestPointer | undefined> {
    const got = await this.store.get(this.latestKey);
    if (!got) return undefined;
    try {
      return LatestPointerSchema.parse(JSON.parse(decoder.decode(got.body)));
    } catch (error) {
      this.logger.warn('unreadable LATEST pointer; using the checkpoint listing', {
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  /** Checkpoints with a manifest, oldest first. */
  async list(): Promise<CheckpointSummary[]> {
    const prefix = `${this.base}/checkpoints/`;
    const out: CheckpointSummary[] = [];
    for (const info of await this.store.list(prefix)) {
      const [segment, file, ...rest] = info.key.slice(prefix.length).split('/');
      const step = segment === undefined ? undefined : parseStepSegment(segment);
      if (step === undefined || file !== 'manifest.json' || rest.length > 0) continue;
      out.push({ step, manifestKey: info.key, lastModified: info.lastModified });
    }
    return out.sort((a, b) => a.step - b.step);
  }

  /** Loads and verifies one checkpoint; throws IntegrityError if any byte is off. */
  async load(step: number): Promise<LoadedCheckpoint> {
    const got = await this.store.get(this.manifestKey(step));
    if (!got) throw new CheckpointNotFoundError(this.runId, step);
    const manifest = this.parseManifest(got.body, step);
    if (!manifest)
      throw new IntegrityError(`checkpoint ${step} of run ${this.runId} has an invalid manifest`, {
        fields: { runId: this.runId, step },
      });
    const tensors = new Map<string, CheckpointTensor>();
    await mapLimit(manifest.tensors, this.concurrency, async (entry) => {
      tensors.set(entry.name, await this.readTensor(entry, step));
    });
    // Keep the manifest's order.
    return {
      manifest,
      tensors: new Map(manifest.tensors.map((e) => [e.name, tensors.get(e.name) as CheckpointTensor])),
    };
  }

  private async readTensor(entry: TensorEntry, step: number): Promise<CheckpointTensor> {
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (count * 4 !== entry.bytes)
      throw new IntegrityError(`checkpoint ${step}: tensor ${entry.name} shape does not match its size`, {
        fields: { step, name: entry.name },
      });
    const buffer = new ArrayBuffer(entry.bytes);
    const bytes = new Uint8Array(buffer);
    if (this.cache?.readInto(entry.sha256, bytes)) return tensorOf(entry, buffer);
    const key = this.blobKey(entry.sha256);
    let found: boolean;
    try {
      found = await this.store.getInto(key, bytes);
    } catch (error) {
      if (error instanceof StorageError && (error.fields as { size?: number }).size !== undefined) {
        await this.quarantine(key, step, 'wrong size');
        throw new IntegrityError(`checkpoint ${step}: blob ${entry.sha256} has the wrong size`, {
          fields: { step, name: entry.name, sha256: entry.sha256 },
          cause: error,
        });
      }
      throw error;
    }
    if (!found)
      throw new IntegrityError(`checkpoint ${step}: blob ${entry.sha256} (${entry.name}) is missing`, {
        fields: { step, name: entry.name, sha256: entry.sha256 },
      });
    // A second read tells a corrupt object from a read torn by a concurrent rewrite of the same bytes.
    if (
      sha256Hex(bytes) !== entry.sha256 &&
      (!(await this.store.getInto(key, bytes)) || sha256Hex(bytes) !== entry.sha256)
    ) {
      await this.quarantine(key, step, 'hash mismatch');
      throw new IntegrityError(`checkpoint ${step}: blob ${entry.sha256} (${entry.name}) does not match its hash`, {
        fields: { step, name: entry.name, sha256: entry.sha256 },
      });
    }
    this.cache?.put(entry.sha256, bytes);
    return tensorOf(entry, buffer);
  }

  /**
   * Puts tensors this process holds into the blob cache under their hashes, so that loading a
   * checkpoint that contains the same bytes (written by another process) skips downloading them.
   * A slot calls it at every checkpoint step with its own copy of the state.
   */
  remember(tensors: ReadonlyMap<string, CheckpointTensor>): void {
    if (!this.cache) return;
    for (const tensor of tensors.values()) {
      const bytes = bytesOf(tensor.data);
      this.cache.put(sha256Hex(bytes), bytes);
    }
  }

  /** Deletes a corrupt blob so the next save that needs those bytes uploads them again. */
  private async quarantine(key: string, step: number, why: string): Promise<void> {
    this.logger.error('corrupt checkpoint blob removed', { key, step, why });
    await this.store.delete(key);
  }

  /**
   * The newest checkpoint that verifies: the newer of LATEST and the newest manifest is tried first
   * (a writer may have died between writing its manifest and advancing LATEST), then older ones.
   * A checkpoint that fails verification is logged, reported to `onSkip` and skipped. Undefined
   * when none verifies.
   */
  async loadLatest(
    options: { onSkip?: (skipped: { step: number; reason: string }) => void } = {},
  ): Promise<LoadedCheckpoint | undefined> {
    const latest = await this.latest();
    const steps = (await this.list()).map((s) => s.step).reverse();
    for (const step of steps) {
      try {
        const loaded = await this.load(step);
        if (latest && step !== latest.step && step < latest.step)
          this.logger.warn('LATEST checkpoint is unusable; resuming from an older one', {
            latest: latest.step,
            step,
          });
        return loaded;
      } catch (error) {
        if (!(error instanceof IntegrityError || error instanceof CheckpointNotFoundError)) throw error;
        this.logger.error('checkpoint failed verification; trying the previous one', {
          step,
          error: error.message,
        });
        options.onSkip?.({ step, reason: error.message });
      }
    }
    return undefined;
  }

  /**
   * Keeps the newest `keep` valid checkpoints, the pinned and protected ones and the one LATEST names;
   * deletes the other manifests, then the blobs no remaining manifest references.
   */
  retain(options: RetainOptions): Promise<RetainResult> {
    return this.mutex.run(() => this.retainLocked(options));
  }

  private async retainLocked(options: RetainOptions): Promise<RetainResult> {
    if (!Number.isInteger(options.keep) || options.keep < 1)
      throw new StorageError(`retain: keep must be an integer >= 1, got ${options.keep}`, {
        fields: { keep: options.keep },
      });
    const latest = await this.latest();
    const summaries = (await this.list()).reverse();
    const always = new Set<number>([...(options.pinned ?? []), ...(options.protect ?? [])]);
    if (latest) always.add(latest.step);
    const keep = new Map<number, CheckpointManifest | undefined>();
    let validKept = 0;
    for (const { step, manifestKey } of summaries) {
      const forced = always.has(step);
      if (!forced && validKept >= options.keep) continue;
      const got = await this.store.get(manifestKey);
      const manifest = got ? this.parseManifest(got.body, step) : undefined;
      const valid = manifest !== undefined && (await this.blobsPresent(manifest));
      if (valid && validKept < options.keep) {
        validKept += 1;
        keep.set(step, manifest);
      } else if (forced) keep.set(step, manifest);
    }
    const deleted: number[] = [];
    for (const { step, manifestKey } of summaries) {
      if (keep.has(step)) continue;
      await this.store.delete(manifestKey);
      deleted.push(step);
    }
    // Blobs: referenced by any kept manifest (an unreadable pinned manifest keeps every blob).
    const referenced = new Set<string>();
    let keepAllBlobs = false;
    for (const manifest of keep.values()) {
      if (!manifest) keepAllBlobs = true;
      for (const t of manifest?.tensors ?? []) referenced.add(t.sha256);
    }
    let blobsDeleted = 0;
    const grace = options.blobGraceMs ?? 10 * 60_000;
    if (!keepAllBlobs) {
      const prefix = `${this.base}/blobs/sha256/`;
      for (const blob of await this.store.list(prefix)) {
        const hash = blob.key.slice(prefix.length);
        if (referenced.has(hash) || Date.now() - blob.lastModified.getTime() < grace) continue;
        await this.store.delete(blob.key);
        blobsDeleted += 1;
      }
    }
    await this.store.sweep(`${this.base}/`, grace);
    const kept = [...keep.keys()].sort((a, b) => a - b);
    this.logger.info('checkpoint retention', { kept, deleted, blobsDeleted });
    return { kept, deleted: deleted.sort((a, b) => a - b), blobsDeleted };
  }

  private async blobsPresent(manifest: CheckpointManifest): Promise<boolean> {
    const results = await mapLimit(manifest.tensors, this.concurrency, async (t) => {
      const info = await this.store.head(this.blobKey(t.sha256));
      return info !== undefined && info.size === t.bytes;
    });
    return results.every(Boolean);
  }
}
