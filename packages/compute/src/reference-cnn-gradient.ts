import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './batch.js';
import type { CreateGradientFunction } from './data-parallel.js';
import { type ReferenceCnnConfig, referenceCnnLayout, referenceCnnLoss } from './reference-cnn.js';
import { type BackendPreference, selectBackend } from './select-backend.js';
import { tfjsGradientFunction } from './tfjs-gradient.js';

/** Init of the reference CNN gradient module (used by benchmarks and tests in worker threads). */
export interface ReferenceCnnGradientInit {
  readonly config: ReferenceCnnConfig;
  readonly backend: BackendPreference;
}

/** The reference CNN's gradient on a `{ x: [N,H,W,C] float32, y: [N] int32 }` shard, for the current backend. */
export function referenceCnnGradientFunction(config: ReferenceCnnConfig) {
  return tfjsGradientFunction(referenceCnnLayout(config), (params, shard: Batch, globalBatchSize) => {
    const xs = shard.x;
    const ys = shard.y;
    if (xs === undefined || ys === undefined) throw new Error("reference CNN shard needs fields 'x' and 'y'");
    const x = tf.tensor4d(xs.data as Float32Array, xs.shape as [number, number, number, number], 'float32');
    const y = tf.tensor1d(ys.data as Int32Array, 'int32');
    return referenceCnnLoss(params, x, y, config, globalBatchSize);
  });
}

export const createGradientFunction: CreateGradientFunction<ReferenceCnnGradientInit> = async (init) => {
  await selectBackend({ preference: init.backend });
  return referenceCnnGradientFunction(init.config);
};
