import { silentLogger } from '@lorkd/contracts';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmKernels } from '../kernels/register-wasm-kernels.js';
import { activateWasmBackend } from '../wasm-backend.js';
import { loadAddon } from './load-addon.js';
import { type InputSpec, relErr, runKernelOn, spec } from './native-test-util.js';
import { registerNativeWasmKernels } from './register-wasm.js';

const addon = loadAddon();

async function compare(kernel: string, inputs: Record<string, InputSpec>, attrs: Record<string, unknown>) {
  const ref = await runKernelOn('cpu', kernel, inputs, attrs);
  const got = await runKernelOn('wasm', kernel, inputs, attrs);
  expect(got.shape).toEqual(ref.shape);
  expect(got.leaked).toBe(0);
  expect(relErr(got.data, ref.data)).toBeLessThanOrEqual(1e-4);
}

interface MmCase {
  a: number[];
  b: number[];
  ta: boolean;
  tb: boolean;
}

const MATMULS: MmCase[] = [
  { a: [1, 1, 1], b: [1, 1, 1], ta: false, tb: false },
  { a: [1, 7, 5], b: [1, 5, 3], ta: false, tb: false },
  { a: [1, 5, 7], b: [1, 5, 3], ta: true, tb: false },
  { a: [1, 7, 5], b: [1, 3, 5], ta: false, tb: true },
  { a: [3, 5, 7], b: [3, 3, 5], ta: true, tb: true },
  { a: [4, 9, 6], b: [1, 6, 2], ta: false, tb: false },
  { a: [1, 9, 6], b: [4, 6, 2], ta: false, tb: false },
  { a: [2, 3, 4, 5], b: [2, 3, 5, 6], ta: false, tb: false },
  { a: [64, 65], b: [65, 10], ta: false, tb: false },
  { a: [1, 256, 200], b: [1, 96, 200], ta: false, tb: true },
];

describe.skipIf(!addon.ok)('native oneDNN matmul and sum kernels on wasm vs the cpu backend', () => {
  beforeAll(async () => {
    tf.env().set('PROD', true);
    await activateWasmBackend();
    registerWasmKernels('wasm');
    if (addon.ok) registerNativeWasmKernels(addon.addon, 'wasm', silentLogger);
  });

  it.each(MATMULS)('BatchMatMul $a x $b ta=$ta tb=$tb', async (c) => {
    await compare('BatchMatMul', { a: spec(c.a, 1), b: spec(c.b, 2) }, { transposeA: c.ta, transposeB: c.tb });
  });

  // prelu is not fused natively and falls back to the stock wasm kernel, which disagrees with cpu here (not ours).
  it.each(['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'])(
    '_FusedMatMul with bias and %s',
    async (activation) => {
      const inputs: Record<string, InputSpec> = { a: spec([2, 6, 5], 3), b: spec([2, 4, 5], 4), bias: spec([4], 5) };
      await compare('_FusedMatMul', inputs, { transposeA: false, transposeB: true, activation, leakyreluAlpha: 0.3 });
    },
  );

  it('_FusedMatMul without bias', async () => {
    await compare(
      '_FusedMatMul',
      { a: spec([1, 6, 5], 7), b: spec([1, 5, 4], 8) },
      { transposeA: false, transposeB: false, activation: 'relu' },
    );
  });

  const SUMS: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean }> = [
    { shape: [2, 5, 7, 3], axis: [0, 1, 2], keepDims: false },
    { shape: [2, 5, 7, 3], axis: [0, 1, 2], keepDims: true },
    { shape: [64, 33], axis: 0, keepDims: false },
    { shape: [1, 1, 1, 9], axis: [0, 1, 2], keepDims: false },
    { shape: [3, 4, 5], axis: [1, 2], keepDims: false },
    { shape: [3, 4, 5], axis: -1, keepDims: true },
    { shape: [3, 4, 5], axis: [0, 1, 2], keepDims: false },
    { shape: [3, 4, 5], axis: 1, keepDims: false },
    { shape: [65, 130, 7], axis: [0, 1], keepDims: false },
  ];

  it.each(SUMS)('Sum $shape over $axis keepDims=$keepDims', async (c) => {
    await compare('Sum', { x: spec(c.shape, 9) }, { axis: c.axis, keepDims: c.keepDims });
  });

  const GENERAL: Array<{ shape: number[]; axis: number[]; keepDims: boolean }> = [
    { shape: [2, 7, 7, 4, 8], axis: [1, 2, 4], keepDims: true }, // GroupNorm statistics
    { shape: [3, 4, 5], axis: [1], keepDims: false },
    { shape: [3, 4, 5, 2], axis: [0, 2], keepDims: false },
    { shape: [1, 1, 6], axis: [0, 1], keepDims: true },
    { shape: [16, 40, 40, 4, 8], axis: [1, 2, 4], keepDims: true }, // large: split across threads
    { shape: [64, 30, 30, 3], axis: [0, 1, 2], keepDims: false },
  ];

  it.each(GENERAL)('Sum and Mean $shape over $axis keepDims=$keepDims (any axes)', async (c) => {
    await compare('Sum', { x: spec(c.shape, 10) }, { axis: c.axis, keepDims: c.keepDims });
    await compare('Mean', { x: spec(c.shape, 11) }, { axis: c.axis, keepDims: c.keepDims });
  });

  it('Sum of int32 falls back to the stock kernel', async () => {
    const x: InputSpec = { data: Int32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3], dtype: 'int32' };
    const got = await runKernelOn('wasm', 'Sum', { x }, { axis: 0, keepDims: false });
    expect(Array.from(got.data)).toEqual([5, 7, 9]);
  });

  it('the native kernels actually ran (oneDNN primitives were cached)', () => {
    if (!addon.ok) return;
    expect(addon.addon.cacheSize()).toBeGreaterThan(0);
  });
});
