import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers' bundle registers tfjs-core's gradient functions, which the core bundle alone lacks.
import '@tensorflow/tfjs-layers';
import { rowGroupedConv2d } from './row-grouped-conv2d.js';

/**
 * Weights of one expert conv: the shared kernel `w0` [k,k,Cin,Cout] and bias, and for every region t
 * its factors `a[t]` [k,k,Cin,r_t] (a k×k conv Cin→r_t) and `b[t]` [r_t,Cout] (a 1×1 conv r_t→Cout),
 * `null` where the region has no expert, with scale `scales[t] = alpha / r_t`.
 */
export interface ExpertConvWeights {
  readonly w0: tf.Tensor4D;
  readonly bias: tf.Tensor1D | null;
  readonly a: readonly (tf.Tensor4D | null)[];
  readonly b: readonly (tf.Tensor2D | null)[];
  readonly scales: readonly number[];
}

/** Samples of a region-sorted batch: region `region` occupies rows [start, start + count). */
export interface RegionGroup {
  readonly region: number;
  readonly start: number;
  readonly count: number;
}

/** A batch whose samples are sorted by region (every op in the model is per-sample, so order is free). */
export interface RegionLayout {
  readonly n: number;
  readonly groups: readonly RegionGroup[];
}

/**
 * How a mixed-region batch is convolved (all exact):
 * - `masked`: one shared W0 conv over the batch plus one low-rank path over all present regions at once
 *   (k×k conv to Σr channels, each sample's channels scaled by s_t for its own region and 0 elsewhere,
 *   then a matmul back to Cout), no per-region ops; its extra k×k conv to Σr channels grows with Σr/Cout;
 * - `split`: the folded kernels W0 + s·ΔW_t of all present regions in one batched op, then one conv per
 *   region on its contiguous rows ({@link rowGroupedConv2d}); the bare conv's FLOPs plus row copies and
 *   per-group kernel calls (a single-region batch is one plain conv);
 * - `auto`: see {@link chooseStrategy}.
 */
export type EksStrategy = 'masked' | 'split' | 'auto';

/** ΔW_t = A_t ∘ B_t as a k×k kernel [k,k,Cin,Cout] (unscaled). */
export function expertDelta(a: tf.Tensor4D, b: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, r] = a.shape;
    const cout = b.shape[1];
    return tf.reshape(tf.matMul(tf.reshape(a, [kh * kw * cin, r]), b), [kh, kw, cin, cout]);
  });
}

/** The folded kernel W0 + s_t·ΔW_t of region t (W0 itself when t has no expert). */
export function foldedKernel(w: ExpertConvWeights, region: number): tf.Tensor4D {
  const a = w.a[region];
  const b = w.b[region];
  const s = w.scales[region] ?? 0;
  if (!a || !b || s === 0) return tf.clone(w.w0);
  return tf.tidy(() => tf.add(w.w0, expertDelta(a, tf.mul(b, s))));
}

function conv(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D | null, stride: number): tf.Tensor4D {
  const y = tf.conv2d(x, kernel, stride, 'same');
  return bias ? tf.add(y, bias) : y;
}

function present(layout: RegionLayout): RegionGroup[] {
  return layout.groups.filter((g) => g.count > 0);
}

function hasExpert(w: ExpertConvWeights, region: number): boolean {
  return Boolean(w.a[region] && w.b[region] && (w.scales[region] ?? 0) !== 0);
}

function expertRanks(w: ExpertConvWeights, groups: readonly RegionGroup[]): number {
  let r = 0;
  for (const g of groups) if (hasExpert(w, g.region)) r += w.a[g.region]?.shape[3] ?? 0;
  return r;
}

/**
 * The folded kernels W0 + s_t·ΔW_t of `regions`, stacked: [regions.length, k, k, Cin, Cout]. One batched
 * matmul for all regions (A_t zero-padded to the largest rank; a region without an expert gets constant zero
 * factors, so its kernel is exactly W0), the scale folded into B, one broadcast add of W0. Its backward is one
 * batched matmul pair and one sum over regions for dW0. Regions not listed get no gradient at all.
 */
export function foldedKernels(w: ExpertConvWeights, regions: readonly number[]): tf.Tensor5D {
  const [kh, kw, cin, cout] = w.w0.shape;
  const k = kh * kw * cin;
  const rmax = Math.max(1, ...regions.map((t) => (hasExpert(w, t) ? (w.a[t]?.shape[3] ?? 0) : 0)));
  const as: tf.Tensor[] = [];
  const bs: tf.Tensor[] = [];
  for (const t of regions) {
    const a = w.a[t];
    const b = w.b[t];
    if (!a || !b || !hasExpert(w, t)) {
      as.push(tf.zeros([k, rmax]));
      bs.push(tf.zeros([rmax, cout]));
      continue;
    }
    const r = a.shape[3];
    const a2 = tf.reshape(a, [k, r]);
    const bScaled = tf.mul(b, w.scales[t] ?? 0);
    as.push(
      r === rmax
        ? a2
        : tf.pad(a2, [
            [0, 0],
            [0, rmax - r],
          ]),
    );
    bs.push(
      r === rmax
        ? bScaled
        : tf.pad(bScaled, [
            [0, rmax - r],
            [0, 0],
          ]),
    );
  }
  const delta = tf.matMul(tf.stack(as) as tf.Tensor3D, tf.stack(bs) as tf.Tensor3D);
  return tf.reshape(tf.add(tf.reshape(w.w0, [1, k, cout]), delta), [regions.length, kh, kw, cin, cout]);
}

/**
 * The strategy `auto` picks for this layer and batch: `split` when one region is present (a plain conv with
 * the folded kernel); otherwise `masked` only while Σr over the present regions ≤ MASKED_MAX_RANK_FRACTION·Cout,
 * else `split`. Measured (docs/benchmarks.md, scripts/bench/eks.ts, CPU time per fwd+bwd): split costs
 * 1.06–1.3x the bare conv at Σr/Cout from 1/16 to 2; masked costs 1.75–2.2x at Σr/Cout ≥ 1/4, 1.37x vs split's
 * 1.21x at 1/8, ties at 1/16 with batch 64 and wins (1.19x vs 1.43x) at 1/16 with 2 samples per region.
 */
export function chooseStrategy(w: ExpertConvWeights, layout: RegionLayout): 'masked' | 'split' {
  const groups = present(layout);
  if (groups.length <= 1) return 'split';
  return expertRanks(w, groups) <= MASKED_MAX_RANK_FRACTION * w.w0.shape[3] ? 'masked' : 'split';
}

/** `auto` uses `masked` while Σr over the present regions ≤ this fraction of Cout (see {@link chooseStrategy}). */
export const MASKED_MAX_RANK_FRACTION = 1 / 16;

function maskedConv(x: tf.Tensor4D, w: ExpertConvWeights, layout: RegionLayout, stride: number): tf.Tensor4D {
  const groups = present(layout).filter((g) => hasExpert(w, g.region));
  const base = conv(x, w.w0, w.bias, stride);
  if (groups.length === 0) return base;
  const as: tf.Tensor4D[] = [];
  const bs: tf.Tensor2D[] = [];
  let total = 0;
  const offsets: number[] = [];
  for (const g of groups) {
    const a = w.a[g.region] as tf.Tensor4D;
    as.push(a);
    bs.push(w.b[g.region] as tf.Tensor2D);
    offsets.push(total);
    total += a.shape[3];
  }
  // mask[b, j] = s_t when column j belongs to sample b's region t, else exactly 0
  const mask = new Float32Array(layout.n * total);
  groups.forEach((g, gi) => {
    const r = as[gi]?.shape[3] ?? 0;
    const s = w.scales[g.region] ?? 0;
    for (let i = g.start; i < g.start + g.count; i++)
      mask.fill(s, i * total + (offsets[gi] ?? 0), i * total + (offsets[gi] ?? 0) + r);
  });
  const aAll = as.length === 1 ? (as[0] as tf.Tensor4D) : tf.concat(as, 3);
  const bAll = bs.length === 1 ? (bs[0] as tf.Tensor2D) : tf.concat(bs, 0);
  const h = tf.conv2d(x, aAll, stride, 'same');
  const [n, ho, wo] = h.shape;
  const hm = tf.mul(h, tf.tensor4d(mask, [layout.n, 1, 1, total]));
  const cout = w.w0.shape[3];
  const low = tf.reshape(tf.matMul(tf.reshape(hm, [n * ho * wo, total]), bAll), [n, ho, wo, cout]);
  return tf.add(base, low);
}

function splitConv(x: tf.Tensor4D, w: ExpertConvWeights, layout: RegionLayout, stride: number): tf.Tensor4D {
  const groups = present(layout);
  const first = groups[0];
  if (groups.length === 1 && first && first.count === layout.n) {
    const kernel = hasExpert(w, first.region) ? foldedKernel(w, first.region) : w.w0;
    return conv(x, kernel, w.bias, stride);
  }
  const y = rowGroupedConv2d(
    x,
    foldedKernels(
      w,
      groups.map((g) => g.region),
    ),
    groups.map((g) => g.count),
    stride,
  );
  return w.bias ? tf.add(y, w.bias) : y;
}

/**
 * EKS convolution of a region-sorted batch: every sample convolved with W0 + s·ΔW of its own region,
 * in one pass. Call inside `tf.tidy` (or a gradient function); intermediate tensors are not disposed here.
 */
export function eksConv2d(
  x: tf.Tensor4D,
  w: ExpertConvWeights,
  layout: RegionLayout,
  stride: number,
  strategy: EksStrategy = 'auto',
): tf.Tensor4D {
  const s = strategy === 'auto' ? chooseStrategy(w, layout) : strategy;
  return s === 'masked' ? maskedConv(x, w, layout, stride) : splitConv(x, w, layout, stride);
}

/** The conv of every sample with region `region`'s weights (what a single-region expert computes). */
export function regionConv2d(x: tf.Tensor4D, w: ExpertConvWeights, region: number, stride: number): tf.Tensor4D {
  return conv(x, foldedKernel(w, region), w.bias, stride);
}

/**
 * The naive reference, without EKS: one full pass over the whole batch per present region with that
 * region's weights, keeping each region's own rows. T times the work of a plain conv.
 */
export function naiveConv2d(x: tf.Tensor4D, w: ExpertConvWeights, layout: RegionLayout, stride: number): tf.Tensor4D {
  const parts = present(layout).map((g) =>
    tf.slice(regionConv2d(x, w, g.region, stride), [g.start, 0, 0, 0], [g.count, -1, -1, -1]),
  );
  return parts.length === 1 ? (parts[0] as tf.Tensor4D) : tf.concat(parts, 0);
}

/** Sorts sample indices by region (stable). `perm[i]` is the original index of sorted row i. */
export function sortByRegion(
  regions: ArrayLike<number>,
  numRegions: number,
): { perm: Int32Array; layout: RegionLayout } {
  const counts = new Array<number>(numRegions).fill(0);
  for (let i = 0; i < regions.length; i++) counts[regions[i] as number] = (counts[regions[i] as number] ?? 0) + 1;
  const starts: number[] = [];
  let acc = 0;
  for (let t = 0; t < numRegions; t++) {
    starts.push(acc);
    acc += counts[t] ?? 0;
  }
  const next = [...starts];
  const perm = new Int32Array(regions.length);
  for (let i = 0; i < regions.length; i++) {
    const t = regions[i] as number;
    perm[next[t] as number] = i;
    next[t] = (next[t] as number) + 1;
  }
  const groups: RegionGroup[] = [];
  for (let t = 0; t < numRegions; t++)
    if ((counts[t] ?? 0) > 0) groups.push({ region: t, start: starts[t] ?? 0, count: counts[t] ?? 0 });
  return { perm, layout: { n: regions.length, groups } };
}
