/**
 * Per-layer conv timings of the reference CNN on the wasm backend with lorkd's kernels: forward, weight gradient
 * (Conv2DBackpropFilter), input gradient (Conv2DBackpropInput) and bias-gradient Sum, batch 64.
 *
 *   node --conditions=lorkd-source --import tsx scripts/bench/train-ops.ts [28|64] [layer-name-filter]
 */

import { selectBackend } from '@lorkd/compute';
import * as tf from '@tensorflow/tfjs-core';

await selectBackend({ preference: 'wasm' });
const size = Number(process.argv[2] ?? 28);
const only = process.argv[3];
function time(f: () => tf.Tensor, reps = 3): number {
  f().dispose();
  const t = performance.now();
  for (let i = 0; i < reps; i++) {
    const r = f();
    r.dataSync();
    r.dispose();
  }
  return (performance.now() - t) / reps;
}
const layers: [string, [number, number, number, number], number, number, number, number][] = [
  ['stem', [64, size, size, 1], 3, 32, 1, 0],
  ['3x3 32-32', [64, size, size, 32], 3, 32, 1, 0],
  ['3x3 32-64 s2', [64, size, size, 32], 3, 64, 2, 0],
  ['1x1 32-64 s2', [64, size, size, 32], 1, 64, 2, 0],
  ['3x3 64-64 s2', [64, size / 2, size / 2, 64], 3, 64, 2, 0],
  ['3x3 64-64 (h/2)', [64, size / 2, size / 2, 64], 3, 64, 1, 0],
];
for (const [name, xs, k, co, s] of layers) {
  if (only && !name.includes(only)) continue;
  const x = tf.randomNormal(xs) as tf.Tensor4D;
  const w = tf.randomNormal([k, k, xs[3] as number, co]) as tf.Tensor4D;
  const y = tf.conv2d(x, w, s, 'same');
  const dy = tf.randomNormal(y.shape) as tf.Tensor4D;
  const flops = (2 * y.size * (xs[3] as number) * k * k) / 1e9;
  const fwd = time(() => tf.conv2d(x, w, s, 'same'));
  const dW = time(
    () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: s, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape },
        ) as tf.Tensor,
  );
  const dX = time(
    () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy, filter: w },
          { strides: s, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape },
        ) as tf.Tensor,
  );
  const bias = time(() => tf.sum(dy, [0, 1, 2]));
  console.log(
    `${name.padEnd(18)} fwd ${fwd.toFixed(1)}ms (${((flops / fwd) * 1e3).toFixed(1)} GF/s)  dW ${dW.toFixed(1)}ms (${((flops / dW) * 1e3).toFixed(1)})  dX ${dX.toFixed(1)}ms (${((flops / dX) * 1e3).toFixed(1)})  biasSum ${bias.toFixed(1)}ms`,
  );
  tf.dispose([x, w, y, dy]);
}
