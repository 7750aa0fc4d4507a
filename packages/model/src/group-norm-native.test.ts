import { BackendUnavailableError, selectBackend } from '@lorkd/compute';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { GROUP_NORM_KERNEL, groupNorm } from './forward.js';
import { buildStudent } from './model.js';
import { randomBatch, randomizeParams, relErr, useCpuBackend, useFastCpuFilterGrad } from './test-support.js';
import { computeGradients } from './train-step.js';

/** Whether the native kernels (and so the fused GroupNorm) can run here: they are an optional build. */
async function nativeAvailable(): Promise<boolean> {
  try {
    await selectBackend({ preference: 'native', quiet: true });
    return tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend()) !== undefined;
  } catch (err) {
    if (err instanceof BackendUnavailableError) return false;
    throw err;
  }
}

const native = await nativeAvailable();

describe.skipIf(!native)('groupNorm through the native fused kernel', () => {
  it('runs the fused kernel on the native backend and the tfjs ops on cpu', async () => {
    const x = tf.tensor4d(
      Array.from({ length: 2 * 3 * 3 * 4 }, (_, i) => Math.sin(i)),
      [2, 3, 3, 4],
    );
    const gamma = tf.ones([4]);
    const beta = tf.zeros([4]);
    const kernelsUsed = async () => {
      const prof = await tf.profile(() => groupNorm(x, 2, gamma, beta, 1e-5));
      return prof.kernels.map((k) => k.name);
    };
    await selectBackend({ preference: 'native', quiet: true });
    expect(await kernelsUsed()).toEqual([GROUP_NORM_KERNEL]);
    await useCpuBackend();
    expect(await kernelsUsed()).not.toContain(GROUP_NORM_KERNEL);
    tf.dispose([x, gamma, beta]);
  });

  it('gives the LoRKD student the same loss and gradients as the cpu backend (1e-4 relative)', async () => {
    const m = buildStudent({
      family: 'resnet',
      inputShape: [9, 7, 1],
      width: 8,
      depth: 3,
      groupNormGroups: 4,
      regions: [
        { name: 'brain', numClasses: 3, rank: 2 },
        { name: 'thorax', numClasses: 2, rank: 4 },
      ],
      alpha: 4,
      seed: 5,
    });
    randomizeParams(m, 11);
    const batch = randomBatch(m, [1, 0, 1, 1, 0], 2);
    await useCpuBackend();
    await useFastCpuFilterGrad();
    const ref = computeGradients(m, batch, undefined, { strategy: 'masked' });
    await selectBackend({ preference: 'native', quiet: true });
    const before = tf.memory().numTensors;
    const got = computeGradients(m, batch, undefined, { strategy: 'masked' });
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(got.loss.total - ref.loss.total)).toBeLessThanOrEqual(1e-4 * Math.abs(ref.loss.total));
    for (const p of m.params) {
      const g = got.grads.get(p.name) as Float32Array;
      const r = ref.grads.get(p.name) as Float32Array;
      expect(relErr(g, r), p.name).toBeLessThanOrEqual(1e-4);
    }
    m.dispose();
  });
});
