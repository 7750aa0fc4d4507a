import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Batch } from './batch.js';
import { imageSize, logitOffsets } from './batch.js';
import { countFlops, countParams } from './counts.js';
import { fold } from './fold.js';
import { type EvalResult, evaluate, predictLogits, scoreLogits } from './inference.js';
import { buildStudent, buildTeacher, type LorkdModel } from './model.js';
import { createOptimizer } from './optimizer.js';
import { Rng } from './rng.js';
import { computeGradients } from './train-step.js';

/**
 * Multi-region data whose regions genuinely conflict: every image is a sum of `regions` oriented
 * gratings with random amplitudes and phases plus noise, and region t's label is whether grating t is
 * stronger than grating t+1 (mod T). The same image means different things in different regions, and a
 * narrow shared backbone cannot keep every orientation pair apart; per-region experts can.
 */
export function makeConflictingData(opts: {
  regions: number;
  perRegion: number;
  size: number;
  seed: number;
  noise?: number;
}): Batch {
  const { regions: T, perRegion, size, seed } = opts;
  const rng = new Rng(seed);
  const n = T * perRegion;
  const x = new Float32Array(n * size * size);
  const labels = new Int32Array(n);
  const regions = new Int32Array(n);
  const period = 4;
  for (let i = 0; i < n; i++) {
    const t = i % T;
    regions[i] = t;
    const amps = Array.from({ length: T }, () => rng.next());
    for (let k = 0; k < T; k++) {
      const theta = (Math.PI * k) / T;
      const phase = rng.next() * 2 * Math.PI;
      const c = Math.cos(theta);
      const s = Math.sin(theta);
      const a = amps[k] as number;
      for (let py = 0; py < size; py++)
        for (let px = 0; px < size; px++) {
          const j = i * size * size + py * size + px;
          x[j] = (x[j] as number) + a * Math.cos(((2 * Math.PI) / period) * (px * c + py * s) + phase);
        }
    }
    for (let j = i * size * size; j < (i + 1) * size * size; j++)
      x[j] = (x[j] as number) + (opts.noise ?? 0.1) * rng.normal();
    labels[i] = (amps[t] as number) > (amps[(t + 1) % T] as number) ? 1 : 0;
  }
  return { x, labels, regions };
}

export interface TrainOptions {
  readonly steps: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly seed: number;
  /** Teacher logits for every training sample (flat, sample-major); enables distillation. */
  readonly teacherLogits?: Float32Array;
  readonly beta?: number;
  readonly temperature?: number;
  readonly onStep?: (step: number, loss: number) => void;
}

/** Trains on random mixed-region batches drawn from `data` with AdamW and a cosine schedule. */
export function trainModel(model: LorkdModel, data: Batch, opts: TrainOptions): void {
  const rng = new Rng(opts.seed);
  const n = data.regions.length;
  const per = imageSize(model);
  const off = opts.teacherLogits ? logitOffsets(model, data.regions) : undefined;
  const opt = createOptimizer({
    optimizer: { kind: 'adamw', lr: opts.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 },
    schedule: { kind: 'cosine', warmupSteps: Math.min(10, opts.steps), minLrRatio: 0.05 },
    totalSteps: opts.steps,
  });
  for (let step = 0; step < opts.steps; step++) {
    const idx = Array.from({ length: opts.batchSize }, () => Math.floor(rng.next() * n));
    const x = new Float32Array(idx.length * per);
    idx.forEach((s, i) => {
      x.set(data.x.subarray(s * per, (s + 1) * per), i * per);
    });
    const batch: Batch = {
      x,
      labels: Int32Array.from(idx.map((s) => data.labels[s] as number)),
      regions: Int32Array.from(idx.map((s) => data.regions[s] as number)),
    };
    let teacher: Float32Array | undefined;
    if (opts.teacherLogits && off) {
      const parts = idx.map((s) =>
        (opts.teacherLogits as Float32Array).subarray(off[s] as number, off[s + 1] as number),
      );
      teacher = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) {
        teacher.set(p, at);
        at += p.length;
      }
    }
    const { loss, grads } = computeGradients(model, batch, teacher, {
      beta: opts.beta ?? 1,
      temperature: opts.temperature ?? 2,
    });
    opt.apply(model, grads, step);
    opts.onStep?.(step, loss.total);
  }
}

export interface MethodCheckOptions {
  readonly regions: number;
  readonly size: number;
  readonly trainPerRegion: number;
  readonly testPerRegion: number;
  readonly studentWidth: number;
  readonly teacherWidth: number;
  readonly depth: number;
  readonly rank: number;
  readonly alpha: number;
  readonly teacherSteps: number;
  readonly studentSteps: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly beta: number;
  readonly temperature: number;
  readonly seed: number;
  /**
   * Data to run on instead of the generated gratings (e.g. phantoms from `@lorkd/data`); `regions`,
   * `size`, `trainPerRegion` and `testPerRegion` are then ignored.
   */
  readonly data?: MethodCheckData;
}

/** Train and test samples with their image shape and per-region label sets. */
export interface MethodCheckData {
  readonly train: Batch;
  readonly test: Batch;
  readonly inputShape: readonly [number, number, number];
  readonly regions: readonly { readonly name: string; readonly numClasses: number }[];
}

function gratingData(o: MethodCheckOptions): MethodCheckData {
  return {
    train: makeConflictingData({ regions: o.regions, perRegion: o.trainPerRegion, size: o.size, seed: o.seed }),
    test: makeConflictingData({ regions: o.regions, perRegion: o.testPerRegion, size: o.size, seed: o.seed + 1000 }),
    inputShape: [o.size, o.size, 1],
    regions: Array.from({ length: o.regions }, (_, t) => ({ name: `region-${t}`, numClasses: 2 })),
  };
}

export interface MethodCheckResult {
  readonly teacher: EvalResult;
  readonly mtlKd: EvalResult;
  readonly lorkd: EvalResult;
  readonly folded: EvalResult;
  /** Largest |folded logit − student logit| over the test set. */
  readonly foldedMaxAbsDiff: number;
  readonly params: {
    readonly teacher: number;
    readonly mtlKd: number;
    readonly lorkdTotal: number;
    readonly lorkdBackbone: number;
    readonly expertsPerRegion: number;
    readonly foldedExpert: number;
  };
  /** Forward FLOPs per sample (region 0): teacher, a folded expert (= the shared student), and the expert path during training. */
  readonly flops: { readonly teacher: number; readonly foldedExpert: number; readonly expertPath: number };
}

/**
 * The method check: a teacher trained on all regions, then the same narrow student distilled from it
 * without experts (MTL-KD) and with per-region experts (LoRKD), then every expert folded into a plain
 * LayersModel and scored on its own region's test samples.
 */
export function runMethodCheck(o: MethodCheckOptions): MethodCheckResult {
  const data = o.data ?? gratingData(o);
  const { train, test } = data;
  const regions = data.regions.map((r) => ({ name: r.name, numClasses: r.numClasses, rank: o.rank }));
  const base = {
    family: 'resnet' as const,
    inputShape: [...data.inputShape] as [number, number, number],
    depth: o.depth,
    groupNormGroups: 2,
    regions,
    alpha: o.alpha,
  };
  const teacher = buildTeacher({ ...base, width: o.teacherWidth, seed: o.seed + 1 });
  const mtl = buildTeacher({ ...base, width: o.studentWidth, seed: o.seed + 2 });
  const student = buildStudent({ ...base, width: o.studentWidth, seed: o.seed + 2 });
  try {
    trainModel(teacher, train, { steps: o.teacherSteps, batchSize: o.batchSize, lr: o.lr, seed: o.seed + 3 });
    const tl = predictLogits(teacher, train.x, train.regions);
    const kd = {
      steps: o.studentSteps,
      batchSize: o.batchSize,
      lr: o.lr,
      seed: o.seed + 4,
      teacherLogits: tl,
      beta: o.beta,
      temperature: o.temperature,
    };
    trainModel(mtl, train, kd);
    trainModel(student, train, kd);
    const lorkd = evaluate(student, test);
    // every region's folded expert on that region's test samples
    const per = imageSize(student);
    const foldedLogits = new Float32Array(logitOffsets(student, test.regions).at(-1) ?? 0);
    const studentLogits = predictLogits(student, test.x, test.regions);
    const off = logitOffsets(student, test.regions);
    for (let t = 0; t < regions.length; t++) {
      const idx = Array.from(test.regions.keys()).filter((i) => test.regions[i] === t);
      const xs = new Float32Array(idx.length * per);
      idx.forEach((s, i) => {
        xs.set(test.x.subarray(s * per, (s + 1) * per), i * per);
      });
      const model: LayersModel = fold(student, t);
      const y = tf.tidy(() =>
        (model.predict(tf.tensor4d(xs, [idx.length, ...data.inputShape])) as tf.Tensor).dataSync(),
      );
      const k = regions[t]?.numClasses ?? 2;
      idx.forEach((s, i) => {
        foldedLogits.set(y.subarray(i * k, (i + 1) * k), off[s] as number);
      });
      model.dispose();
    }
    let maxDiff = 0;
    for (let i = 0; i < foldedLogits.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs((foldedLogits[i] as number) - (studentLogits[i] as number)));
    const sp = countParams(student);
    const r0 = regions[0]?.name ?? '';
    const sf = countFlops(student);
    const flops = {
      teacher: countFlops(teacher).forwardPerSample[r0] ?? 0,
      foldedExpert: sf.forwardPerSample[r0] ?? 0,
      expertPath: sf.expertPathPerSample[r0] ?? 0,
    };
    return {
      teacher: evaluate(teacher, test),
      mtlKd: evaluate(mtl, test),
      lorkd,
      folded: scoreLogits(student, foldedLogits, test),
      foldedMaxAbsDiff: maxDiff,
      params: {
        teacher: countParams(teacher).total,
        mtlKd: countParams(mtl).total,
        lorkdTotal: sp.total,
        lorkdBackbone: sp.backbone,
        expertsPerRegion: sp.experts[regions[0]?.name ?? ''] ?? 0,
        foldedExpert: sp.foldedExpert[regions[0]?.name ?? ''] ?? 0,
      },
      flops,
    };
  } finally {
    teacher.dispose();
    mtl.dispose();
    student.dispose();
  }
}
