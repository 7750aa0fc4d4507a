import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Batch } from './batch.js';
import { createFlatOptimizer } from './optimizer.js';
import { initReferenceCnnParams, paramCount, referenceCnnConfig, referenceCnnLayout } from './reference-cnn.js';
import { referenceCnnGradientFunction } from './reference-cnn-gradient.js';
import { selectBackend } from './select-backend.js';

describe('training loop memory', () => {
  it('1000 steps of a tiny model keep tf.memory().numTensors and the backend buffers flat', async () => {
    await selectBackend({ preference: 'wasm' });
    const config = referenceCnnConfig({
      imageSize: 4,
      stem: 2,
      blocks: [],
      classes: 2,
    });
    const params = initReferenceCnnParams(config, 3);
    const gradient = new Float32Array(paramCount(referenceCnnLayout(config)));
    const grad = referenceCnnGradientFunction(config);
    const adam = createFlatOptimizer({ kind: 'adam' }, params.length);
    const batch: Batch = {
      x: { data: Float32Array.from({ length: 2 * 16 }, (_, i) => Math.sin(i)), shape: [2, 4, 4, 1] },
      y: { data: Int32Array.from([0, 1]), shape: [2] },
    };
    await grad(params, batch, 2, gradient); // warm-up (kernel setup caches)
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    let first = Number.NaN;
    let last = Number.NaN;
    for (let step = 0; step < 1000; step++) {
      const { loss } = await grad(params, batch, 2, gradient);
      adam.apply(params, gradient);
      if (step === 0) first = loss;
      last = loss;
      if (step % 100 === 0) {
        expect(tf.memory().numTensors).toBe(tensors);
        expect(tf.engine().backend.numDataIds()).toBe(buffers);
      }
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    expect(last).toBeLessThan(first); // it did train
  }, 120_000);
});
