import { fileURLToPath } from 'node:url';
import { type Logger, silentLogger, toValidationIssues, ValidationError } from '@lorkd/contracts';
import { z } from 'zod';
import { type Batch, batchSize, splitBatch } from './batch.js';
import { createFlatOptimizer, type FlatOptimizer, OptimizerSettingsSchema } from './optimizer.js';
import { ThreadPool } from './thread-pool.js';

/**
 * What a gradient module computes for one shard: the loss and gradient of Σ_{samples in shard} loss_i / globalBatch,
 * so that the shards' results add up to the global batch's mean loss and gradient. The gradient is written into
 * `gradient` (length = parameter count, in the same flat order as `params`).
 */
export type GradientFunction = (
  params: Float32Array,
  shard: Batch,
  globalBatchSize: number,
  gradient: Float32Array,
) => Promise<{ loss: number }> | { loss: number };

/**
 * A gradient module exports `createGradientFunction(init, context)`. It runs inside a worker thread, so it
 * can set up its own tfjs backend there (e.g. `await selectBackend({ preference: 'wasm' })`).
 */
export type CreateGradientFunction<Init = unknown> = (
  init: Init,
  context: { threadIndex: number; threads: number },
) => Promise<GradientFunction> | GradientFunction;

export const DataParallelOptionsSchema = z.object({
  threads: z.number().int().min(1).max(64),
  /** Absolute path (or file: URL) of the gradient module. */
  gradientModule: z.union([z.string().min(1), z.instanceof(URL)]),
  /** Passed to `createGradientFunction` in every thread. */
  init: z.unknown().optional(),
  /** Initial parameters (copied). */
  params: z.custom<Float32Array>((v) => v instanceof Float32Array, { message: 'must be a Float32Array' }),
  optimizer: OptimizerSettingsSchema,
});
export type DataParallelOptions = z.input<typeof DataParallelOptionsSchema>;

/** Result of one step. */
export interface StepResult {
  readonly loss: number;
  readonly step: number;
}

/** Init the internal thread module receives. */
export interface DataParallelThreadInit {
  readonly gradientModule: string;
  readonly init: unknown;
  readonly params: SharedArrayBuffer;
  readonly gradients: SharedArrayBuffer;
  readonly paramCount: number;
}
export interface DataParallelTask {
  readonly shard: Batch;
  readonly globalBatchSize: number;
}

/**
 * Synchronous data-parallel training across worker threads. Parameters live in a SharedArrayBuffer every
 * thread reads; each step the global batch is split into one shard per thread, every thread writes its shard's
 * gradient into its own slice of a shared gradient buffer, and the main thread sums the slices in fixed thread
 * order and applies the optimizer. With per-sample losses normalised by the global batch (and per-sample norms),
 * the result equals single-thread training on the same batch up to float summation order.
 */
export class DataParallelTrainer {
  private constructor(
    private readonly pool: ThreadPool<DataParallelTask, { loss: number }>,
    private readonly paramView: Float32Array,
    private readonly gradViews: Float32Array[],
    private readonly summed: Float32Array,
    private readonly optimizer: FlatOptimizer,
  ) {}

  static async create(options: DataParallelOptions, logger: Logger = silentLogger): Promise<DataParallelTrainer> {
    const parsed = DataParallelOptionsSchema.safeParse(options);
    if (!parsed.success) throw new ValidationError('data-parallel trainer options', toValidationIssues(parsed.error));
    const opts = parsed.data;
    const n = opts.params.length;
    const paramsSab = new SharedArrayBuffer(n * 4);
    const gradsSab = new SharedArrayBuffer(n * 4 * opts.threads);
    const paramView = new Float32Array(paramsSab);
    paramView.set(opts.params);
    const gm = opts.gradientModule;
    const init: DataParallelThreadInit = {
      gradientModule: gm instanceof URL || gm.startsWith('file:') ? fileURLToPath(gm) : gm,
      init: opts.init,
      params: paramsSab,
      gradients: gradsSab,
      paramCount: n,
    };
    const pool = await ThreadPool.create<DataParallelTask, { loss: number }>(
      {
        threads: opts.threads,
        modulePath: new URL(`./data-parallel-thread${extension()}`, import.meta.url),
        init,
        name: 'lorkd-dp',
      },
      logger,
    );
    const gradViews = Array.from({ length: opts.threads }, (_, t) => new Float32Array(gradsSab, t * n * 4, n));
    return new DataParallelTrainer(
      pool,
      paramView,
      gradViews,
      new Float32Array(n),
      createFlatOptimizer(opts.optimizer, n),
    );
  }

  get threads(): number {
    return this.pool.size;
  }

  /** Steps applied so far. */
  get steps(): number {
    return this.optimizer.steps;
  }

  /** A copy of the current parameters. */
  params(): Float32Array {
    return Float32Array.from(this.paramView);
  }

  /** Computes the global gradient of `batch` across the threads without updating anything. */
  async gradient(batch: Batch): Promise<{ loss: number; gradient: Float32Array }> {
    const loss = await this.computeGradient(batch);
    return { loss, gradient: this.summed.slice() };
  }

  /** One synchronous training step on `batch` (the global batch). */
  async step(batch: Batch): Promise<StepResult> {
    const loss = await this.computeGradient(batch);
    this.optimizer.apply(this.paramView, this.summed);
    return { loss, step: this.optimizer.steps };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async computeGradient(batch: Batch): Promise<number> {
    const n = batchSize(batch);
    const shards = splitBatch(batch, Math.min(this.pool.size, n));
    const results = await Promise.all(shards.map((shard, t) => this.pool.runOn(t, { shard, globalBatchSize: n })));
    // Fixed thread order, so the sum does not depend on which thread finished first.
    const first = this.gradViews[0] as Float32Array;
    this.summed.set(first);
    for (let t = 1; t < shards.length; t++) {
      const g = this.gradViews[t] as Float32Array;
      for (let i = 0; i < g.length; i++) this.summed[i] = (this.summed[i] as number) + (g[i] as number);
    }
    let loss = 0;
    for (const r of results) loss += r.loss;
    return loss;
  }
}

function extension(): string {
  return /\.(c|m)?ts$/.test(new URL(import.meta.url).pathname) ? '.ts' : '.js';
}
