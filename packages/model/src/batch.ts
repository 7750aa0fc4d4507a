import { type RegionLayout, sortByRegion } from './eks.js';
import { ModelError } from './errors.js';
import type { LorkdModel } from './model.js';

/**
 * A batch as plain arrays (so it can cross threads and processes): images NHWC, one label per sample
 * (classification) or per pixel (segmentation, [n,H,W]), and each sample's region index.
 */
export interface Batch {
  readonly x: Float32Array;
  readonly labels: Int32Array;
  readonly regions: Int32Array;
}

/** Logit values one sample of region `t` has: classes (classification) or H·W·classes (segmentation). */
export function outputSize(model: LorkdModel, region: number): number {
  const classes = model.config.regions[region]?.numClasses ?? 0;
  if (model.arch.head === 'dense') return classes;
  const [h, w] = model.config.inputShape;
  return h * w * classes;
}

/** Offsets of each sample's logits in a flat, sample-major logits array (length n + 1). */
export function logitOffsets(model: LorkdModel, regions: ArrayLike<number>): Int32Array {
  const off = new Int32Array(regions.length + 1);
  for (let i = 0; i < regions.length; i++) off[i + 1] = (off[i] as number) + outputSize(model, regions[i] as number);
  return off;
}

/** A batch sorted by region, ready for the model. */
export interface SortedBatch {
  readonly n: number;
  /** `perm[i]` = original index of sorted sample i. */
  readonly perm: Int32Array;
  readonly layout: RegionLayout;
  readonly x: Float32Array;
  readonly labels: Int32Array | undefined;
  readonly teacher: Float32Array | undefined;
}

export function imageSize(model: LorkdModel): number {
  const [h, w, c] = model.config.inputShape;
  return h * w * c;
}

function labelsPerSample(model: LorkdModel): number {
  const [h, w] = model.config.inputShape;
  return model.arch.head === 'dense' ? 1 : h * w;
}

/** Checks a batch against the model; throws a ModelError saying what is wrong. */
export function validateBatch(model: LorkdModel, x: Float32Array, regions: Int32Array, labels?: Int32Array): void {
  const n = regions.length;
  const per = imageSize(model);
  if (x.length !== n * per) {
    throw new ModelError(
      `batch.x has ${x.length} values but ${n} samples of shape [${model.config.inputShape.join(',')}] need ${n * per}`,
      { n, expected: n * per, got: x.length },
    );
  }
  for (let i = 0; i < n; i++) {
    const t = regions[i] as number;
    if (!(t >= 0 && t < model.numRegions)) {
      throw new ModelError(`batch.regions[${i}] = ${t} is not a region index (0..${model.numRegions - 1})`, {
        index: i,
        region: t,
      });
    }
  }
  if (labels) {
    const lp = labelsPerSample(model);
    if (labels.length !== n * lp) {
      throw new ModelError(`batch.labels has ${labels.length} values, expected ${n * lp} (${lp} per sample)`, {
        expected: n * lp,
        got: labels.length,
      });
    }
    for (let i = 0; i < n; i++) {
      const classes = model.config.regions[regions[i] as number]?.numClasses ?? 0;
      for (let j = i * lp; j < (i + 1) * lp; j++) {
        const y = labels[j] as number;
        if (!(y >= 0 && y < classes)) {
          throw new ModelError(
            `batch.labels[${j}] = ${y} is outside 0..${classes - 1} for region '${model.config.regions[regions[i] as number]?.name}'`,
            {
              index: j,
              label: y,
            },
          );
        }
      }
    }
  }
}

/** Validates and sorts a batch (and teacher logits, flat sample-major in batch order) by region. */
export function sortBatch(
  model: LorkdModel,
  x: Float32Array,
  regions: Int32Array,
  labels?: Int32Array,
  teacher?: Float32Array,
): SortedBatch {
  validateBatch(model, x, regions, labels);
  const n = regions.length;
  const { perm, layout } = sortByRegion(regions, model.numRegions);
  const per = imageSize(model);
  const xs = new Float32Array(x.length);
  for (let i = 0; i < n; i++) xs.set(x.subarray((perm[i] as number) * per, ((perm[i] as number) + 1) * per), i * per);
  let ls: Int32Array | undefined;
  if (labels) {
    const lp = labelsPerSample(model);
    ls = new Int32Array(labels.length);
    for (let i = 0; i < n; i++)
      ls.set(labels.subarray((perm[i] as number) * lp, ((perm[i] as number) + 1) * lp), i * lp);
  }
  let ts: Float32Array | undefined;
  if (teacher) {
    const off = logitOffsets(model, regions);
    const total = off[n] as number;
    if (teacher.length !== total) {
      throw new ModelError(`teacher logits have ${teacher.length} values, expected ${total} for this batch's regions`, {
        expected: total,
        got: teacher.length,
      });
    }
    ts = new Float32Array(total);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const o = perm[i] as number;
      ts.set(teacher.subarray(off[o] as number, off[o + 1] as number), at);
      at += (off[o + 1] as number) - (off[o] as number);
    }
  }
  return { n, perm, layout, x: xs, labels: ls, teacher: ts };
}
