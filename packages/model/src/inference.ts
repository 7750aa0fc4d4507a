import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { type Batch, imageSize, logitOffsets, sortBatch, validateBatch } from './batch.js';
import { ModelError } from './errors.js';
import { type ForwardMode, features, groupLogits } from './forward.js';
import type { LorkdModel } from './model.js';

export interface PredictOptions {
  /** Samples per forward pass. Default 64. */
  readonly batchSize?: number;
  readonly strategy?: ForwardMode;
}

/** Each sample's logits from its own region's head: flat, sample-major, in input order (see `logitOffsets`). */
export function predictLogits(
  model: LorkdModel,
  x: Float32Array,
  regions: Int32Array,
  opts: PredictOptions = {},
): Float32Array {
  validateBatch(model, x, regions);
  const off = logitOffsets(model, regions);
  const out = new Float32Array(off[regions.length] as number);
  const bs = Math.max(1, opts.batchSize ?? 64);
  const per = imageSize(model);
  for (let s = 0; s < regions.length; s += bs) {
    const e = Math.min(regions.length, s + bs);
    const sb = sortBatch(model, x.subarray(s * per, e * per), regions.subarray(s, e));
    const parts = tf.tidy(() => {
      const xt = tf.tensor4d(sb.x, [sb.n, ...model.config.inputShape]);
      return groupLogits(model, features(model, xt, sb.layout, opts.strategy ?? 'auto'), sb.layout);
    });
    let row = 0;
    parts.forEach((p) => {
      const data = p.dataSync();
      const m = p.shape[0] as number;
      const size = data.length / m;
      for (let i = 0; i < m; i++) {
        const orig = s + (sb.perm[row + i] as number);
        out.set(data.subarray(i * size, (i + 1) * size), off[orig] as number);
      }
      row += m;
      p.dispose();
    });
  }
  return out;
}

/**
 * Teacher logits for distillation (no gradient): from a LorkdModel, or from a LayersModel with one
 * output per region (as `toLayersModel(teacher)` exports it). Flat, sample-major, input order.
 */
export function teacherLogits(
  teacher: LorkdModel | LayersModel,
  x: Float32Array,
  regions: Int32Array,
  opts: PredictOptions = {},
): Float32Array {
  if (!('inputs' in teacher)) return predictLogits(teacher, x, regions, opts);
  const shape = teacher.inputs[0]?.shape.slice(1) as number[];
  const per = shape.reduce((a, b) => a * b, 1);
  const n = regions.length;
  if (x.length !== n * per)
    throw new ModelError(`x has ${x.length} values, expected ${n * per} for the teacher's input [${shape.join(',')}]`);
  const chunks: Float32Array[][] = [];
  const bs = Math.max(1, opts.batchSize ?? 64);
  const sizes: number[] = [];
  for (let s = 0; s < n; s += bs) {
    const e = Math.min(n, s + bs);
    const outs = tf.tidy(() => {
      const y = teacher.predict(tf.tensor(x.subarray(s * per, e * per), [e - s, ...shape]));
      return Array.isArray(y) ? y : [y];
    });
    const datas = outs.map((o) => {
      const d = o.dataSync() as Float32Array;
      sizes[outs.indexOf(o)] = d.length / (e - s);
      o.dispose();
      return d;
    });
    chunks.push(datas);
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    const t = regions[i] as number;
    if (sizes[t] === undefined)
      throw new ModelError(`region index ${t} has no teacher output (the teacher has ${sizes.length})`);
    total += sizes[t] as number;
  }
  const out = new Float32Array(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const t = regions[i] as number;
    const size = sizes[t] as number;
    const chunk = chunks[Math.floor(i / bs)]?.[t] as Float32Array;
    const j = i % bs;
    out.set(chunk.subarray(j * size, (j + 1) * size), at);
    at += size;
  }
  return out;
}

export interface RegionScore {
  readonly name: string;
  readonly count: number;
  /** Classification: sample accuracy. Segmentation: pixel accuracy. */
  readonly accuracy: number;
  /** Segmentation only: mean foreground Dice (hard predictions, per sample, then averaged). */
  readonly dice?: number;
}

export interface EvalResult {
  readonly regions: readonly RegionScore[];
  /** Mean over regions that have samples. */
  readonly meanAccuracy: number;
  readonly meanDice?: number;
}

/** Scores flat logits (as from `predictLogits`) against labels, per region. */
export function scoreLogits(model: LorkdModel, logits: Float32Array, batch: Batch): EvalResult {
  const seg = model.arch.head === 'conv';
  const [h, w] = model.config.inputShape;
  const pixels = seg ? h * w : 1;
  const off = logitOffsets(model, batch.regions);
  const stats = model.config.regions.map(() => ({ count: 0, correct: 0, pix: 0, dice: 0 }));
  for (let i = 0; i < batch.regions.length; i++) {
    const t = batch.regions[i] as number;
    const c = model.config.regions[t]?.numClasses ?? 0;
    const st = stats[t] as { count: number; correct: number; pix: number; dice: number };
    st.count++;
    const inter = new Float64Array(c);
    const sumP = new Float64Array(c);
    const sumY = new Float64Array(c);
    for (let p = 0; p < pixels; p++) {
      const base = (off[i] as number) + p * c;
      let best = 0;
      for (let k = 1; k < c; k++) if ((logits[base + k] as number) > (logits[base + best] as number)) best = k;
      const y = batch.labels[i * pixels + p] as number;
      if (best === y) st.correct++;
      st.pix++;
      sumP[best] = (sumP[best] ?? 0) + 1;
      sumY[y] = (sumY[y] ?? 0) + 1;
      if (best === y) inter[y] = (inter[y] ?? 0) + 1;
    }
    if (seg) {
      let d = 0;
      for (let k = 1; k < c; k++) {
        const den = (sumP[k] ?? 0) + (sumY[k] ?? 0);
        d += den === 0 ? 1 : (2 * (inter[k] ?? 0)) / den;
      }
      st.dice += d / Math.max(1, c - 1);
    }
  }
  const regions: RegionScore[] = model.config.regions.map((r, t) => {
    const st = stats[t] as { count: number; correct: number; pix: number; dice: number };
    const acc = st.pix ? st.correct / st.pix : 0;
    return seg
      ? { name: r.name, count: st.count, accuracy: acc, dice: st.count ? st.dice / st.count : 0 }
      : { name: r.name, count: st.count, accuracy: acc };
  });
  const used = regions.filter((r) => r.count > 0);
  const mean = (f: (r: RegionScore) => number) => (used.length ? used.reduce((a, r) => a + f(r), 0) / used.length : 0);
  return seg
    ? { regions, meanAccuracy: mean((r) => r.accuracy), meanDice: mean((r) => r.dice ?? 0) }
    : { regions, meanAccuracy: mean((r) => r.accuracy) };
}

/** Per-region accuracy (and Dice for segmentation) of a model on labelled data. */
export function evaluate(model: LorkdModel, data: Batch, opts: PredictOptions = {}): EvalResult {
  validateBatch(model, data.x, data.regions, data.labels);
  return scoreLogits(model, predictLogits(model, data.x, data.regions, opts), data);
}
