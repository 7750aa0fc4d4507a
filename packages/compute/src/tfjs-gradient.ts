import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './batch.js';
import type { GradientFunction } from './data-parallel.js';
import type { ParamSpec } from './reference-cnn.js';

/**
 * Turns a tfjs loss into a `GradientFunction` over a flat parameter vector: each call wraps the current
 * parameters as tensors (per `layout`), computes value and gradients with `tf.valueAndGrads`, writes the
 * gradients into the flat output and frees every tensor it made.
 */
export function tfjsGradientFunction(
  layout: readonly ParamSpec[],
  loss: (params: Readonly<Record<string, tf.Tensor>>, shard: Batch, globalBatchSize: number) => tf.Scalar,
): GradientFunction {
  return (params, shard, globalBatchSize, gradient) => {
    const tensors = layout.map((p) => tf.tensor(params.subarray(p.offset, p.offset + p.size), [...p.shape], 'float32'));
    try {
      const f = (...args: tf.Tensor[]) => {
        const named: Record<string, tf.Tensor> = {};
        layout.forEach((p, i) => {
          named[p.name] = args[i] as tf.Tensor;
        });
        return loss(named, shard, globalBatchSize);
      };
      const { value, grads } = tf.valueAndGrads(f)(tensors);
      try {
        layout.forEach((p, i) => {
          gradient.set((grads[i] as tf.Tensor).dataSync() as Float32Array, p.offset);
        });
        return { loss: (value.dataSync() as Float32Array)[0] as number };
      } finally {
        value.dispose();
        for (const g of grads) g.dispose();
      }
    } finally {
      for (const t of tensors) t.dispose();
    }
  };
}
