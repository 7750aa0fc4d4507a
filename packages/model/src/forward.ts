import * as tf from '@tensorflow/tfjs-core';
import { type EksStrategy, eksConv2d, naiveConv2d, type RegionLayout, regionConv2d } from './eks.js';
import type { LorkdModel } from './model.js';

/**
 * How a forward pass routes samples to experts: an EKS strategy over a region-sorted mixed batch,
 * `naive` (one full pass per present region, the reference), or `{ region }` (every sample through one
 * region's expert, i.e. what the folded expert computes; `region: -1` = shared backbone only).
 */
export type ForwardMode = EksStrategy | 'naive' | { readonly region: number };

/**
 * Name of the fused GroupNorm kernel that `@lorkd/compute` registers (with its gradient) on backends that have
 * native kernels: inputs x, gamma, beta; attrs { groups, epsilon }; outputs [y, mean, rstd].
 */
export const GROUP_NORM_KERNEL = 'LorkdGroupNorm';

/** Per-sample GroupNorm over [n,H,W,C] with tfjs ops: the reference, and the path on every other backend. */
export function groupNormOps(
  x: tf.Tensor4D,
  groups: number,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
  const normed = tf.reshape(tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, epsilon))), [n, h, w, c]);
  return tf.add(tf.mul(normed, gamma), beta);
}

/**
 * Per-sample GroupNorm over [n,H,W,C]: statistics per sample and channel group, then a per-channel affine.
 * Runs the fused kernel when the active backend has it (the native kernels), else {@link groupNormOps}.
 */
export function groupNorm(
  x: tf.Tensor4D,
  groups: number,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): tf.Tensor4D {
  if (
    x.dtype === 'float32' &&
    x.size > 0 &&
    gamma.size === x.shape[3] &&
    beta.size === x.shape[3] &&
    tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend()) !== undefined
  ) {
    const outs = tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma, beta }, {
      groups,
      epsilon,
    } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    // mean and rstd are saved for the gradient by the engine (as kept clones); the caller only needs y
    outs[1]?.dispose();
    outs[2]?.dispose();
    return outs[0] as tf.Tensor4D;
  }
  return groupNormOps(x, groups, gamma, beta, epsilon);
}

/**
 * Nearest-neighbour 2x upsampling as a broadcast (each pixel copied to a 2x2 block), equal to
 * `UpSampling2D`; the cpu backend's ResizeNearestNeighbor gradient is not used (it disagrees with
 * finite differences).
 */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const spread = tf.mul(tf.reshape(x, [n, h, 1, w, 1, c]), tf.ones([1, 1, 2, 1, 2, 1]));
  return tf.reshape(spread, [n, 2 * h, 2 * w, c]);
}

function backbone(model: LorkdModel, x: tf.Tensor4D, layout: RegionLayout, mode: ForwardMode): tf.Tensor {
  const values: tf.Tensor[] = [x];
  const get = (i: number) => values[i] as tf.Tensor4D;
  for (const node of model.arch.nodes) {
    switch (node.op) {
      case 'input':
        break;
      case 'conv': {
        const w = model.convWeights(node);
        const input = get(node.input);
        if (typeof mode === 'object') values.push(regionConv2d(input, w, mode.region, node.stride));
        else if (mode === 'naive') values.push(naiveConv2d(input, w, layout, node.stride));
        else values.push(eksConv2d(input, w, layout, node.stride, mode));
        break;
      }
      case 'gn':
        values.push(
          groupNorm(
            get(node.input),
            node.groups,
            model.variable(`${node.name}.gamma`),
            model.variable(`${node.name}.beta`),
            model.config.epsilon,
          ),
        );
        break;
      case 'relu':
        values.push(tf.relu(get(node.input)));
        break;
      case 'add':
        values.push(tf.add(get(node.inputs[0]), get(node.inputs[1])));
        break;
      case 'maxpool':
        values.push(tf.maxPool(get(node.input), 2, 2, 'valid'));
        break;
      case 'upsample':
        values.push(upsample2x(get(node.input)));
        break;
      case 'concat':
        values.push(tf.concat([get(node.inputs[0]), get(node.inputs[1])], 3));
        break;
      case 'gap': {
        const v = get(node.input);
        values.push(tf.concat([tf.mean(v, [1, 2]), tf.max(v, [1, 2])], 1));
        break;
      }
    }
  }
  return values[values.length - 1] as tf.Tensor;
}

/**
 * Backbone features of a region-sorted batch: [n, F] (resnet, pooled) or [n, H, W, F] (unet).
 * In `naive` mode the whole network runs once per present region over the full batch and each region
 * keeps its own rows. Call inside `tf.tidy` or a gradient function.
 */
export function features(
  model: LorkdModel,
  x: tf.Tensor4D,
  layout: RegionLayout,
  mode: ForwardMode = 'auto',
): tf.Tensor {
  if (mode !== 'naive') return backbone(model, x, layout, mode);
  const parts = layout.groups
    .filter((g) => g.count > 0)
    .map((g) => {
      const full = backbone(model, x, layout, { region: model.hasExperts ? g.region : -1 });
      const begin = full.shape.map(() => 0);
      begin[0] = g.start;
      const size = full.shape.map(() => -1);
      size[0] = g.count;
      return tf.slice(full, begin, size);
    });
  return parts.length === 1 ? (parts[0] as tf.Tensor) : tf.concat(parts, 0);
}

/** Region `t`'s head on features of its samples: [m, classes] or [m, H, W, classes] logits. */
export function head(model: LorkdModel, feats: tf.Tensor, region: number): tf.Tensor {
  const name = model.config.regions[region]?.name ?? '';
  const kernel = model.variable(`head.${name}.kernel`);
  const bias = model.variable(`head.${name}.bias`);
  if (model.arch.head === 'dense') return tf.add(tf.matMul(feats as tf.Tensor2D, kernel as tf.Tensor2D), bias);
  return tf.add(tf.conv2d(feats as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'same'), bias);
}

/** Logits per region group of a sorted batch, in group order. */
export function groupLogits(model: LorkdModel, feats: tf.Tensor, layout: RegionLayout): tf.Tensor[] {
  return layout.groups.map((g) => {
    const begin = feats.shape.map(() => 0);
    begin[0] = g.start;
    const size = feats.shape.map(() => -1);
    size[0] = g.count;
    const f = g.start === 0 && g.count === layout.n ? feats : tf.slice(feats, begin, size);
    return head(model, f, g.region);
  });
}
