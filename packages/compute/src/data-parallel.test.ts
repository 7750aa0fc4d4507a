import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Batch } from './batch.js';
import { DataParallelTrainer } from './data-parallel.js';
import { createFlatOptimizer } from './optimizer.js';
import {
  initReferenceCnnParams,
  mulberry32,
  paramCount,
  referenceCnnConfig,
  referenceCnnLayout,
} from './reference-cnn.js';
import { referenceCnnGradientFunction } from './reference-cnn-gradient.js';
import { selectBackend } from './select-backend.js';

const gradientModule = fileURLToPath(new URL('./reference-cnn-gradient.ts', import.meta.url));
// A tiny per-sample-norm (GroupNorm) ResNet: 8x8 inputs, widths 4/4/8, 3 classes.
const config = referenceCnnConfig({
  imageSize: 8,
  stem: 4,
  blocks: [
    { channels: 4, stride: 1 },
    { channels: 8, stride: 2 },
  ],
  classes: 3,
  norm: 'group',
  groups: 2,
});

function makeBatch(n: number, seed: number): Batch {
  const rand = mulberry32(seed);
  const x = Float32Array.from({ length: n * 8 * 8 }, () => rand() * 2 - 1);
  const y = Int32Array.from({ length: n }, () => Math.floor(rand() * 3));
  return { x: { data: x, shape: [n, 8, 8, 1] }, y: { data: y, shape: [n] } };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    mag = Math.max(mag, Math.abs(b[i] as number));
  }
  return diff / mag;
}

/** Plain single-thread training in this process: the reference the threads must reproduce. */
async function trainInProcess(batches: Batch[]): Promise<{ params: Float32Array; losses: number[] }> {
  await selectBackend({ preference: 'wasm' });
  const params = initReferenceCnnParams(config, 7);
  const gradient = new Float32Array(paramCount(referenceCnnLayout(config)));
  const grad = referenceCnnGradientFunction(config);
  const adam = createFlatOptimizer({ kind: 'adam', learningRate: 1e-2 }, params.length);
  const losses: number[] = [];
  for (const b of batches) {
    const { loss } = await grad(params, b, 7, gradient);
    adam.apply(params, gradient);
    losses.push(loss);
  }
  return { params, losses };
}

async function train(threads: number, batches: Batch[]): Promise<{ params: Float32Array; losses: number[] }> {
  const trainer = await DataParallelTrainer.create({
    threads,
    gradientModule,
    init: { config, backend: 'wasm' },
    params: initReferenceCnnParams(config, 7),
    optimizer: { kind: 'adam', learningRate: 1e-2 },
  });
  try {
    const losses: number[] = [];
    for (const b of batches) losses.push((await trainer.step(b)).loss);
    expect(trainer.steps).toBe(batches.length);
    return { params: trainer.params(), losses };
  } finally {
    await trainer.close();
  }
}

describe('DataParallelTrainer', () => {
  it('2 threads train exactly like 1 thread on the same global batches (per-sample norms)', async () => {
    // Batch 7 splits unevenly (4 + 3).
    const batches = [makeBatch(7, 1), makeBatch(7, 2), makeBatch(7, 3)];
    const single = await trainInProcess(batches);
    const double = await train(2, batches);
    expect(maxRelDiff(double.params, single.params)).toBeLessThanOrEqual(1e-5);
    for (let i = 0; i < batches.length; i++) expect(double.losses[i]).toBeCloseTo(single.losses[i] as number, 5);
    // And training moved the parameters at all.
    expect(maxRelDiff(single.params, initReferenceCnnParams(config, 7))).toBeGreaterThan(1e-3);
  }, 120_000);
});
