// One benchmark process of scripts/bench/native.ts: trains the reference CNN with tfjs on wasm or wasm + native.

import { selectBackend } from '@lorkd/compute';
import * as tf from '@tensorflow/tfjs-core';
import { createFlatOptimizer } from '../../packages/compute/src/optimizer.js';
import {
  initReferenceCnnParams,
  paramCount,
  referenceCnnConfig,
  referenceCnnFlops,
  referenceCnnLayout,
} from '../../packages/compute/src/reference-cnn.js';
import { referenceCnnGradientFunction } from '../../packages/compute/src/reference-cnn-gradient.js';

export async function runTfjs(
  mode: 'wasm' | 'native' | 'native-ops',
  size: number,
  batch: number,
  seconds: number,
  profile: boolean,
  norm: 'none' | 'group' = 'none',
) {
  const decision = await selectBackend({ preference: mode === 'native-ops' ? 'native' : mode, quiet: true });
  // native-ops: the native tier without the fused GroupNorm kernel (GroupNorm as tfjs ops, the state before it)
  if (mode === 'native-ops' && tf.getKernel('LorkdGroupNorm', tf.getBackend()) !== undefined) {
    tf.unregisterKernel('LorkdGroupNorm', tf.getBackend());
  }
  const config = referenceCnnConfig({ imageSize: size, norm, groups: 4 });
  const layout = referenceCnnLayout(config);
  const params = initReferenceCnnParams(config, 1);
  const gradient = new Float32Array(paramCount(layout));
  const optimizer = createFlatOptimizer({ kind: 'adam', learningRate: 1e-3 }, params.length);
  const grad = referenceCnnGradientFunction(config);
  const x = new Float32Array(batch * size * size);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 32;
  }
  const y = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10);
  const data = { x: { data: x, shape: [batch, size, size, 1] }, y: { data: y, shape: [batch] } };
  const losses: number[] = [];
  const step = async () => {
    const { loss } = await grad(params, data, batch, gradient);
    optimizer.apply(params, gradient);
    losses.push(loss);
  };
  for (let i = 0; i < 3; i++) await step(); // warm-up: primitive creation, heap growth
  let steps = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (steps < 3 || performance.now() - t0 < seconds * 1000) {
    await step();
    steps++;
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  let profileText: string | undefined;
  if (profile) {
    const prof = await tf.profile(async () => {
      await grad(params, data, batch, gradient);
    });
    const by = new Map<string, { n: number; ms: number }>();
    for (const k of prof.kernels) {
      const key = process.env.LORKD_BENCH_BYSHAPE ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
      const e = by.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += k.kernelTimeMs as number;
      by.set(key, e);
    }
    profileText = [...by.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, process.env.LORKD_BENCH_BYSHAPE ? 40 : 14)
      .map(([n, e]) => `  ${mode} ${size}: ${n} x${e.n} ${e.ms.toFixed(1)} ms`)
      .join('\n');
  }
  const samplesPerSec = (steps * batch) / secs;
  return {
    mode,
    size,
    batch,
    steps,
    seconds: secs,
    cpuSeconds,
    samplesPerSec,
    gflops: (samplesPerSec * 3 * referenceCnnFlops(config)) / 1e9,
    losses: losses.slice(0, 5),
    info: `${decision.tier} (${decision.tfBackend})`,
    ...(profileText ? { profile: profileText } : {}),
  };
}
