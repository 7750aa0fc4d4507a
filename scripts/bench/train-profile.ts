/**
 * Per-kernel profile (tf.profile) of one reference-CNN training step, batch 64.
 *
 *   node --conditions=lorkd-source --import tsx scripts/bench/train-profile.ts [28|64] [wasm|native] [by-shape]
 */

import {
  initReferenceCnnParams,
  mulberry32,
  paramCount,
  referenceCnnConfig,
  referenceCnnGradientFunction,
  referenceCnnLayout,
  selectBackend,
} from '@lorkd/compute';
import * as tf from '@tensorflow/tfjs-core';

const size = Number(process.argv[2] ?? 28);
await selectBackend({ preference: (process.argv[3] ?? 'wasm') as 'wasm' });
const config = referenceCnnConfig({ imageSize: size });
const params = initReferenceCnnParams(config, 3);
const gradient = new Float32Array(paramCount(referenceCnnLayout(config)));
const grad = referenceCnnGradientFunction(config);
const r = mulberry32(1);
const n = 64;
const batch = {
  x: { data: Float32Array.from({ length: n * size * size }, () => r()), shape: [n, size, size, 1] },
  y: { data: Int32Array.from({ length: n }, (_, i) => i % 10), shape: [n] },
};
for (let i = 0; i < 2; i++) await grad(params, batch, n, gradient);
const t = performance.now();
for (let i = 0; i < 3; i++) await grad(params, batch, n, gradient);
console.log('ms/step', ((performance.now() - t) / 3).toFixed(1));
const prof = await tf.profile(async () => {
  await grad(params, batch, n, gradient);
});
const by = new Map<string, [number, number]>();
let total = 0;
for (const k of prof.kernels) {
  const key = process.argv[4] ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
  const e = by.get(key) ?? [0, 0];
  e[0]++;
  e[1] += k.kernelTimeMs as number;
  total += k.kernelTimeMs as number;
  by.set(key, e);
}
console.log('kernels', prof.kernels.length, 'total ms', total.toFixed(1));
console.log(
  [...by.entries()]
    .sort((a, b) => b[1][1] - a[1][1])
    .slice(0, 25)
    .map(([n, [c, ms]]) => `${ms.toFixed(1).padStart(8)}ms x${c} ${n}`)
    .join('\n'),
);
