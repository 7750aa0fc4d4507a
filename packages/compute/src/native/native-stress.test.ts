import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { silentLogger } from '@lorkd/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmKernels } from '../kernels/register-wasm-kernels.js';
import { activateWasmBackend } from '../wasm-backend.js';
import { GROUP_NORM_KERNEL } from './group-norm-kernel.js';
import { loadAddon } from './load-addon.js';
import { values } from './native-test-util.js';
import { registerNativeWasmKernels } from './register-wasm.js';

const addon = loadAddon();

describe.skipIf(!addon.ok)('native kernels under load', () => {
  beforeAll(async () => {
    tf.env().set('PROD', true);
    await activateWasmBackend();
    registerWasmKernels('wasm');
    if (addon.ok) registerNativeWasmKernels(addon.addon, 'wasm', silentLogger);
  });

  it('thousands of conv / matmul / sum / GroupNorm calls free every tensor and keep RSS flat', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(values(4 * 12 * 12 * 8, 1), [4, 12, 12, 8]);
    const w = tf.variable(tf.tensor4d(values(3 * 3 * 8 * 8, 2), [3, 3, 8, 8]));
    const b = tf.variable(tf.tensor1d(values(8, 3)));
    const d = tf.variable(tf.tensor2d(values(8 * 10, 4), [8, 10]));
    const gamma = tf.variable(tf.tensor1d(values(8, 5)));
    const beta = tf.variable(tf.tensor1d(values(8, 6)));
    const loss = () =>
      tf.tidy(() => {
        const h = tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad: 'same', activation: 'relu' });
        const attrs = { groups: 4, epsilon: 1e-5, relu: true } as unknown as tf.NamedAttrMap;
        const outs = tf.engine().runKernel(GROUP_NORM_KERNEL, { x: h, gamma, beta }, attrs) as tf.Tensor[];
        const h2 = tf.conv2d(outs[0] as tf.Tensor4D, w, 2, 'same');
        const pooled = tf.mean(h2, [1, 2]);
        return tf.sum(tf.square(tf.matMul(pooled, d))) as tf.Scalar;
      });
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(loss);
        tf.dispose(grads);
      });
    for (let i = 0; i < 50; i++) step(); // warm up: primitives, heap, JIT
    const tensorsBefore = tf.memory().numTensors;
    const idsBefore = tf.engine().backend.numDataIds();
    const rssBefore = process.memoryUsage().rss;
    const cacheBefore = addon.ok ? addon.addon.cacheSize() : 0;
    for (let i = 0; i < 400; i++) step(); // 400 steps x 11 native calls = 4400 calls
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.engine().backend.numDataIds()).toBe(idsBefore);
    expect(addon.ok ? addon.addon.cacheSize() : 0).toBe(cacheBefore);
    expect(rssGrowth).toBeLessThan(32 * 1024 * 1024);
    tf.dispose([x, w, b, d, gamma, beta]);
  }, 180_000);
});
