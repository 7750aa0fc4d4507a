import { silentLogger } from '@lorkd/contracts';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers' bundle registers tfjs-core's gradient functions (the reference needs Mean, Sub, Rsqrt, ... grads).
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { KernelInputError } from '../errors.js';
import { registerWasmKernels } from '../kernels/register-wasm-kernels.js';
import { activateWasmBackend } from '../wasm-backend.js';
import { GROUP_NORM_KERNEL } from './group-norm-kernel.js';
import { loadAddon } from './load-addon.js';
import { relErr, values } from './native-test-util.js';
import { registerNativeWasmKernels } from './register-wasm.js';

const addon = loadAddon();

/** GroupNorm with tfjs ops (what `@lorkd/model` runs without the kernel), optionally followed by ReLU. */
function reference(x: tf.Tensor4D, groups: number, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, relu: boolean) {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
  const normed = tf.reshape(tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, eps))), [n, h, w, c]);
  const y = tf.add(tf.mul(normed, gamma), beta);
  return relu ? tf.relu(y) : y;
}

interface Case {
  shape: [number, number, number, number];
  groups: number;
  relu: boolean;
}

/** y and the gradients of sum(y * r) w.r.t. x, gamma, beta, on `backend`, through the fused kernel or the ops. */
async function run(backend: 'cpu' | 'wasm', { shape, groups, relu }: Case) {
  await tf.setBackend(backend);
  const c = shape[3];
  const size = tf.util.sizeFromShape(shape);
  // Non-zero means and uneven scales per channel: the statistics must not cancel badly.
  const xv = values(size, 7).map((v, i) => 3 * v * (1 + (i % c) / c) + 0.5 * (i % 5));
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(xv, shape);
  const gamma = tf.tensor1d(values(c, 8).map((v) => 1 + 0.5 * v));
  const beta = tf.tensor1d(values(c, 9));
  const rv = values(size, 10);
  if (relu) {
    // Where the pre-ReLU value is within rounding of 0 the two sides may take different sides of the kink (dx
    // would differ there by a whole gamma·rstd·r, and the group's mean terms with it): no gradient flows there.
    const z = tf.tidy(() => reference(x, groups, gamma, beta, 1e-5, false).dataSync());
    for (let i = 0; i < size; i++) if (Math.abs(z[i] as number) < 1e-3) rv[i] = 0;
  }
  const r = tf.tensor4d(rv, shape);
  const f = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const y =
      backend === 'cpu'
        ? reference(xi as tf.Tensor4D, groups, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5, relu)
        : (
            tf.engine().runKernel(GROUP_NORM_KERNEL, { x: xi, gamma: g, beta: b }, {
              groups,
              epsilon: 1e-5,
              relu,
            } as unknown as tf.NamedAttrMap) as tf.Tensor[]
          )[0];
    return y as tf.Tensor;
  };
  const y = tf.tidy(() => f(x, gamma, beta));
  const grads = tf.grads((xi, g, b) => tf.sum(tf.mul(f(xi, g, b), r)))([x, gamma, beta]);
  const out = {
    y: Float32Array.from(await y.data()),
    dx: Float32Array.from(await (grads[0] as tf.Tensor).data()),
    dgamma: Float32Array.from(await (grads[1] as tf.Tensor).data()),
    dbeta: Float32Array.from(await (grads[2] as tf.Tensor).data()),
  };
  tf.dispose([x, gamma, beta, r, y, ...grads]);
  return { ...out, leaked: tf.memory().numTensors - before };
}

const SHAPES: Array<[number, number, number, number]> = [
  [1, 5, 7, 12], // batch 1, odd spatial size
  [3, 1, 3, 8], // three pixels: with groups = C, 3 values per group (with 1 or 2 the x gradient is exactly 0)
  [2, 9, 11, 4],
  [5, 3, 13, 20],
  [64, 28, 28, 16], // large: split across threads
];

const CASES: Case[] = SHAPES.flatMap((shape) =>
  [1, 4, shape[3]].flatMap((groups) => [false, true].map((relu) => ({ shape, groups, relu }))),
);

describe.skipIf(!addon.ok)('native fused GroupNorm vs tfjs ops on the cpu backend', () => {
  beforeAll(async () => {
    tf.env().set('PROD', true);
    await activateWasmBackend();
    registerWasmKernels('wasm');
    if (addon.ok) registerNativeWasmKernels(addon.addon, 'wasm', silentLogger);
  });

  it.each(CASES)('forward and gradients %j', async (c) => {
    const ref = await run('cpu', c);
    const got = await run('wasm', c);
    expect(got.leaked).toBe(0);
    expect(relErr(got.y, ref.y)).toBeLessThanOrEqual(1e-4);
    expect(relErr(got.dx, ref.dx)).toBeLessThanOrEqual(1e-4);
    expect(relErr(got.dgamma, ref.dgamma)).toBeLessThanOrEqual(1e-4);
    expect(relErr(got.dbeta, ref.dbeta)).toBeLessThanOrEqual(1e-4);
  });

  it('gradient w.r.t. x alone frees the unused dgamma and dbeta', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(values(2 * 3 * 3 * 8, 1), [2, 3, 3, 8]);
    const gamma = tf.ones([8]);
    const beta = tf.zeros([8]);
    const before = tf.memory().numTensors;
    const dx = tf.grad((xi: tf.Tensor) =>
      tf.sum(
        (
          tf.engine().runKernel(GROUP_NORM_KERNEL, { x: xi, gamma, beta }, { groups: 2, epsilon: 1e-5 }) as tf.Tensor[]
        )[0] as tf.Tensor,
      ),
    )(x);
    expect(tf.memory().numTensors - before).toBe(1);
    // sum of a normalised group does not depend on x: its gradient is ~0
    expect(Math.max(...Array.from(await dx.data()).map(Math.abs))).toBeLessThan(1e-4);
    tf.dispose([x, gamma, beta, dx]);
  });

  it('rejects groups that do not divide C, naming them', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 2, 2, 6]);
    const gamma = tf.ones([6]);
    const run = () => tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma, beta: gamma }, { groups: 4, epsilon: 1e-5 });
    expect(run).toThrow(KernelInputError);
    expect(run).toThrow(/groups must be a positive integer dividing C = 6, got 4/);
    tf.dispose([x, gamma]);
  });
});
