import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers' bundle registers tfjs-core's gradient functions, which the core bundle alone lacks.
import '@tensorflow/tfjs-layers';
import { type Batch, type SortedBatch, sortBatch } from './batch.js';
import { ModelError } from './errors.js';
import { type ForwardMode, features, groupLogits } from './forward.js';
import { kdLossSum, taskLossSum } from './loss.js';
import type { LorkdModel } from './model.js';

export interface LossOptions {
  /** Weight of the distillation term (ignored without teacher logits). Default 1. */
  readonly beta?: number;
  /** Distillation temperature τ. Default 4. */
  readonly temperature?: number;
  /** Samples in the whole step across all workers; losses and gradients are divided by it. Default: this batch's size. */
  readonly globalBatchSize?: number;
  /** EKS routing; default `auto`. */
  readonly strategy?: ForwardMode;
}

/** Loss parts, each already divided by the global batch size (so they add up across shards). */
export interface LossParts {
  /** Σ task loss / G. */
  readonly task: number;
  /** β·τ²·Σ KL / G (0 without teacher logits). */
  readonly kd: number;
  readonly total: number;
  /** Samples in this (local) batch. */
  readonly count: number;
  /**
   * Per model region t, at [3t, 3t+1, 3t+2]: the batch's summed task loss, summed β·τ²·KL (not divided by
   * anything) and sample count, so shards add up and `sum / count` is the region's mean loss.
   */
  readonly byRegion?: Float32Array;
}

export interface GradientResult {
  readonly loss: LossParts;
  /** One entry per parameter (model order); exact zeros for parameters this batch does not touch. */
  readonly grads: Map<string, Float32Array>;
}

interface RegionPart {
  t: number;
  count: number;
  task?: tf.Scalar;
  kd?: tf.Scalar;
}
/** Scalars `scalarLoss` keeps out of its tidy scope for the caller to read and dispose. */
interface Kept {
  task?: tf.Scalar;
  kd?: tf.Scalar;
  regions?: RegionPart[];
}

/** Reads and disposes what `scalarLoss` kept: the loss parts of a batch of `n` samples. */
function readKept(model: LorkdModel, keep: Kept, total: number, n: number): LossParts {
  const byRegion = new Float32Array(3 * model.numRegions);
  for (const r of keep.regions ?? []) {
    byRegion[3 * r.t] = r.task?.dataSync()[0] ?? 0;
    byRegion[3 * r.t + 1] = r.kd?.dataSync()[0] ?? 0;
    byRegion[3 * r.t + 2] = r.count;
    r.task?.dispose();
    r.kd?.dispose();
  }
  const parts = { task: keep.task?.dataSync()[0] ?? 0, kd: keep.kd?.dataSync()[0] ?? 0, total, count: n, byRegion };
  keep.task?.dispose();
  keep.kd?.dispose();
  return parts;
}

function scalarLoss(model: LorkdModel, sb: SortedBatch, opts: LossOptions, keep: Kept): tf.Scalar {
  const seg = model.arch.head === 'conv';
  const x = tf.tensor4d(sb.x, [sb.n, ...model.config.inputShape]);
  const feats = features(model, x, sb.layout, opts.strategy ?? 'auto');
  const logits = groupLogits(model, feats, sb.layout);
  const [h, w] = model.config.inputShape;
  let task: tf.Scalar = tf.scalar(0);
  let kd: tf.Scalar = tf.scalar(0);
  let tOff = 0;
  keep.regions = [];
  sb.layout.groups.forEach((g, i) => {
    const z = logits[i] as tf.Tensor;
    const part: { t: number; count: number; task?: tf.Scalar; kd?: tf.Scalar } = { t: g.region, count: g.count };
    if (sb.labels) {
      const lp = seg ? h * w : 1;
      const y = tf.tensor1d(sb.labels.subarray(g.start * lp, (g.start + g.count) * lp), 'int32');
      const sum = taskLossSum(z, y, seg);
      part.task = tf.keep(tf.clone(sum));
      task = tf.add(task, sum);
    }
    if (sb.teacher) {
      const size = z.size;
      const t = tf.tensor(sb.teacher.subarray(tOff, tOff + size), z.shape);
      tOff += size;
      const sum = tf.mul(kdLossSum(z, t, opts.temperature ?? 4, seg), opts.beta ?? 1) as tf.Scalar;
      part.kd = tf.keep(tf.clone(sum));
      kd = tf.add(kd, sum);
    }
    keep.regions?.push(part);
  });
  const g = opts.globalBatchSize ?? sb.n;
  const taskN = tf.div(task, g) as tf.Scalar;
  const kdN = tf.div(kd, g) as tf.Scalar;
  keep.task = tf.keep(taskN);
  keep.kd = tf.keep(kdN);
  return tf.add(taskN, kdN);
}

function checkOptions(n: number, opts: LossOptions): void {
  if (n === 0)
    throw new ModelError('the batch is empty (pass globalBatchSize to get zero gradients for an empty shard)');
  const g = opts.globalBatchSize ?? n;
  if (!(Number.isFinite(g) && g >= n && g > 0)) {
    throw new ModelError(`globalBatchSize (${g}) must be a positive number >= this batch's ${n} samples`, {
      globalBatchSize: g,
      n,
    });
  }
  if (opts.temperature !== undefined && !(opts.temperature > 0))
    throw new ModelError(`temperature must be > 0 (got ${opts.temperature})`);
}

/**
 * Loss parts and gradients of one (local) batch: a pure function of the parameters, the batch and
 * the teacher logits (flat, sample-major in batch order; see `logitOffsets`). Summing the gradients of
 * disjoint shards computed with the same `globalBatchSize` gives the gradient of the whole batch.
 */
export function computeGradients(
  model: LorkdModel,
  batch: Batch,
  teacherLogits: Float32Array | undefined,
  opts: LossOptions = {},
): GradientResult {
  if (batch.regions.length === 0 && (opts.globalBatchSize ?? 0) > 0) {
    // an empty shard (a worker with no samples this step) contributes exact zeros
    return {
      loss: { task: 0, kd: 0, total: 0, count: 0, byRegion: new Float32Array(3 * model.numRegions) },
      grads: new Map(model.params.map((p) => [p.name, new Float32Array(p.size)])),
    };
  }
  checkOptions(batch.regions.length, opts);
  const sb = sortBatch(model, batch.x, batch.regions, batch.labels, teacherLogits);
  const keep: Kept = {};
  const vars = model.variables();
  const { value, grads } = tf.variableGrads(() => scalarLoss(model, sb, opts, keep), vars);
  const out = new Map<string, Float32Array>();
  model.params.forEach((p, i) => {
    const g = grads[(vars[i] as tf.Variable).name];
    out.set(p.name, g ? (g.dataSync() as Float32Array).slice() : new Float32Array(p.size));
  });
  const loss = readKept(model, keep, value.dataSync()[0] ?? 0, sb.n);
  value.dispose();
  for (const g of Object.values(grads)) g.dispose();
  return { loss, grads: out };
}

/** Loss parts without gradients (e.g. validation loss). */
export function computeLoss(
  model: LorkdModel,
  batch: Batch,
  teacherLogits: Float32Array | undefined,
  opts: LossOptions = {},
): LossParts {
  checkOptions(batch.regions.length, opts);
  const sb = sortBatch(model, batch.x, batch.regions, batch.labels, teacherLogits);
  const keep: Kept = {};
  const total = tf.tidy(() => scalarLoss(model, sb, opts, keep));
  const parts = readKept(model, keep, total.dataSync()[0] ?? 0, sb.n);
  total.dispose();
  return parts;
}
