import './gradients.js';
import * as tf from '@tensorflow/tfjs-core';
import { GROUP_NORM_KERNEL, type GroupNormAttrs } from './native/group-norm-kernel.js';

/**
 * The reference CNN of the training benchmark: stem 3x3 conv in→32, residual blocks of two 3x3 convs
 * (32, 32, 64 s2, 64 s2; 1x1 projection shortcuts where the shape changes), ReLU, global average pool,
 * dense to the classes. NHWC, 'same' padding, conv biases, no BatchNorm (optionally per-sample GroupNorm).
 */
export interface ReferenceCnnConfig {
  readonly imageSize: number;
  readonly inChannels: number;
  readonly stem: number;
  readonly blocks: readonly { readonly channels: number; readonly stride: number }[];
  readonly classes: number;
  /** 'group': GroupNorm after every conv of the main path (per-sample statistics, so batch splits do not matter). */
  readonly norm: 'none' | 'group';
  readonly groups: number;
}

export function referenceCnnConfig(overrides: Partial<ReferenceCnnConfig> = {}): ReferenceCnnConfig {
  return {
    imageSize: 28,
    inChannels: 1,
    stem: 32,
    blocks: [
      { channels: 32, stride: 1 },
      { channels: 32, stride: 1 },
      { channels: 64, stride: 2 },
      { channels: 64, stride: 2 },
    ],
    classes: 10,
    norm: 'none',
    groups: 4,
    ...overrides,
  };
}

/** One parameter tensor in the flat parameter vector. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
  /** How it is initialised: He-normal with this fan-in, zeros, or ones. */
  readonly init:
    | { readonly kind: 'normal'; readonly std: number }
    | { readonly kind: 'zeros' }
    | { readonly kind: 'ones' };
}

/** The flat parameter layout (order, shapes, offsets) of a reference CNN. */
export function referenceCnnLayout(config: ReferenceCnnConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], init: ParamSpec['init']) => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset, size, init });
    offset += size;
  };
  const conv = (name: string, k: number, cin: number, cout: number, norm: boolean) => {
    add(`${name}/w`, [k, k, cin, cout], { kind: 'normal', std: Math.sqrt(2 / (k * k * cin)) });
    add(`${name}/b`, [cout], { kind: 'zeros' });
    if (norm && config.norm === 'group') {
      add(`${name}/gamma`, [cout], { kind: 'ones' });
      add(`${name}/beta`, [cout], { kind: 'zeros' });
    }
  };
  conv('stem', 3, config.inChannels, config.stem, true);
  let cin = config.stem;
  config.blocks.forEach((b, i) => {
    conv(`block${i}/conv1`, 3, cin, b.channels, true);
    conv(`block${i}/conv2`, 3, b.channels, b.channels, true);
    if (b.stride !== 1 || cin !== b.channels) conv(`block${i}/shortcut`, 1, cin, b.channels, false);
    cin = b.channels;
  });
  add('dense/w', [cin, config.classes], { kind: 'normal', std: Math.sqrt(1 / cin) });
  add('dense/b', [config.classes], { kind: 'zeros' });
  return specs;
}

export function paramCount(layout: readonly ParamSpec[]): number {
  const last = layout.at(-1);
  return last === undefined ? 0 : last.offset + last.size;
}

/** Deterministic initial parameters (He-normal convs) from a seed. */
export function initReferenceCnnParams(config: ReferenceCnnConfig, seed = 1): Float32Array {
  const layout = referenceCnnLayout(config);
  const out = new Float32Array(paramCount(layout));
  const rand = mulberry32(seed);
  for (const p of layout) {
    const init = p.init;
    for (let i = 0; i < p.size; i++) {
      if (init.kind === 'normal') {
        // Box-Muller.
        const u = Math.max(rand(), 1e-12);
        const v = rand();
        out[p.offset + i] = init.std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      } else {
        out[p.offset + i] = init.kind === 'ones' ? 1 : 0;
      }
    }
  }
  return out;
}

/** Small fast deterministic PRNG in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Params = Readonly<Record<string, tf.Tensor>>;

function get(params: Params, name: string): tf.Tensor {
  const t = params[name];
  if (t === undefined) throw new Error(`reference CNN: missing parameter ${name}`);
  return t;
}

function convBias(x: tf.Tensor4D, params: Params, name: string, stride: number): tf.Tensor4D {
  return tf.fused.conv2d({
    x,
    filter: get(params, `${name}/w`) as tf.Tensor4D,
    strides: stride,
    pad: 'same',
    bias: get(params, `${name}/b`),
  });
}

/** GroupNorm (then ReLU when `relu`): the fused native kernel when the backend has it, else tfjs ops. */
function groupNorm(x: tf.Tensor4D, params: Params, name: string, groups: number, relu: boolean): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = Math.min(groups, c);
  const gamma = get(params, `${name}/gamma`);
  const beta = get(params, `${name}/beta`);
  if (c % g === 0 && tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend()) !== undefined) {
    const attrs: GroupNormAttrs = { groups: g, epsilon: 1e-5, relu };
    const [y, mean, rstd] = tf
      .engine()
      .runKernel(GROUP_NORM_KERNEL, { x, gamma, beta }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    tf.dispose([mean as tf.Tensor, rstd as tf.Tensor]);
    return y as tf.Tensor4D;
  }
  const grouped = tf.reshape(x, [n, h, w, g, c / g]);
  const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
  const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-5))), [n, h, w, c]);
  const y = tf.add(tf.mul(normed, gamma), beta) as tf.Tensor4D;
  return relu ? tf.relu(y) : y;
}

/** conv + bias, then GroupNorm when the config has it, then ReLU when `relu` (fused into the norm kernel). */
function convNorm(
  x: tf.Tensor4D,
  params: Params,
  name: string,
  stride: number,
  config: ReferenceCnnConfig,
  relu = false,
): tf.Tensor4D {
  const y = convBias(x, params, name, stride);
  if (config.norm === 'group') return groupNorm(y, params, name, config.groups, relu);
  return relu ? tf.relu(y) : y;
}

/** Logits [N, classes] of the reference CNN for NHWC images `x`. */
export function referenceCnnLogits(params: Params, x: tf.Tensor4D, config: ReferenceCnnConfig): tf.Tensor2D {
  let h = convNorm(x, params, 'stem', 1, config, true);
  let cin = config.stem;
  config.blocks.forEach((b, i) => {
    const a = convNorm(h, params, `block${i}/conv1`, b.stride, config, true);
    const main = convNorm(a, params, `block${i}/conv2`, 1, config);
    const shortcut = b.stride !== 1 || cin !== b.channels ? convBias(h, params, `block${i}/shortcut`, b.stride) : h;
    h = tf.relu(tf.add(main, shortcut)) as tf.Tensor4D;
    cin = b.channels;
  });
  const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
  return tf.add(tf.matMul(pooled, get(params, 'dense/w') as tf.Tensor2D), get(params, 'dense/b'));
}

/** Σ softmax cross-entropy over the batch / `normalizer` (the global batch size in data-parallel training). */
export function referenceCnnLoss(
  params: Params,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  config: ReferenceCnnConfig,
  normalizer: number,
): tf.Scalar {
  const logits = referenceCnnLogits(params, x, config);
  const logp = tf.logSoftmax(logits);
  const picked = tf.sum(tf.mul(logp, tf.oneHot(labels, config.classes)));
  return tf.div(tf.neg(picked), normalizer) as tf.Scalar;
}

/** Model FLOPs per sample (convs + dense, 2·MACs) forward; training ≈ 3x. */
export function referenceCnnFlops(config: ReferenceCnnConfig): number {
  let size = config.imageSize;
  let flops = 2 * size * size * 9 * config.inChannels * config.stem;
  let cin = config.stem;
  for (const b of config.blocks) {
    const out = Math.ceil(size / b.stride);
    flops += 2 * out * out * 9 * cin * b.channels + 2 * out * out * 9 * b.channels * b.channels;
    if (b.stride !== 1 || cin !== b.channels) flops += 2 * out * out * cin * b.channels;
    size = out;
    cin = b.channels;
  }
  return flops + 2 * cin * config.classes;
}
