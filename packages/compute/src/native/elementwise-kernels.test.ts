import { silentLogger } from '@lorkd/contracts';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmKernels } from '../kernels/register-wasm-kernels.js';
import { activateWasmBackend } from '../wasm-backend.js';
import { loadAddon } from './load-addon.js';
import { type InputSpec, relErr, runKernelOn, spec } from './native-test-util.js';
import { registerNativeWasmKernels } from './register-wasm.js';

const addon = loadAddon();

async function compare(kernel: string, inputs: Record<string, InputSpec>, attrs: Record<string, unknown> = {}) {
  const ref = await runKernelOn('cpu', kernel, inputs, attrs);
  const got = await runKernelOn('wasm', kernel, inputs, attrs);
  expect(got.shape).toEqual(ref.shape);
  expect(got.leaked).toBe(0);
  expect(relErr(got.data, ref.data)).toBeLessThanOrEqual(1e-6);
}

// Small (one thread) and large (> 2^17 values: split across threads, odd length) shapes.
const SHAPES = [[1], [3, 5, 7], [3, 50_001]];

describe.skipIf(!addon.ok)('native elementwise kernels on wasm vs the cpu backend', () => {
  beforeAll(async () => {
    tf.env().set('PROD', true);
    await activateWasmBackend();
    registerWasmKernels('wasm');
    if (addon.ok) registerNativeWasmKernels(addon.addon, 'wasm', silentLogger);
  });

  it.each(SHAPES)('Add and Multiply %j', async (...shape) => {
    await compare('Add', { a: spec(shape, 1), b: spec(shape, 2) });
    await compare('Multiply', { a: spec(shape, 3), b: spec(shape, 4) });
  });

  const BROADCASTS: Array<[number[], number[]]> = [
    [[4, 5, 6], [6]],
    [
      [4, 1, 6],
      [4, 5, 6],
    ],
    [
      [2, 7, 7, 4, 8],
      [2, 1, 1, 4, 1],
    ], // GroupNorm statistics
    [
      [3, 1, 5],
      [1, 4, 1],
    ],
    [[], [3, 2]],
    [[64, 40, 40, 16], [16]], // large: split across threads
    [
      [8, 30, 30, 4, 8],
      [8, 1, 1, 4, 1],
    ],
  ];
  it.each(BROADCASTS)('broadcasting Add / Multiply / Sub / RealDiv %j with %j', async (sa, sb) => {
    for (const [i, kernel] of ['Add', 'Multiply', 'Sub', 'RealDiv'].entries()) {
      await compare(kernel, { a: spec(sa, 20 + i), b: spec(sb, 30 + i) });
      await compare(kernel, { a: spec(sb, 40 + i), b: spec(sa, 50 + i) });
    }
  });

  it('same-shape Sub and RealDiv, and int32 inputs fall back', async () => {
    await compare('Sub', { a: spec([3, 5, 7], 60), b: spec([3, 5, 7], 61) });
    await compare('RealDiv', { a: spec([3, 5, 7], 62), b: spec([3, 5, 7], 63) });
    const i32: InputSpec = { data: Int32Array.from([1, 2, 3]), shape: [3], dtype: 'int32' };
    const got = await runKernelOn('wasm', 'Add', { a: i32, b: i32 }, {});
    expect(Array.from(got.data)).toEqual([2, 4, 6]);
  });

  it.each(SHAPES)('Relu and Step %j', async (...shape) => {
    await compare('Relu', { x: spec(shape, 9) });
    await compare('Step', { x: spec(shape, 10) }, { alpha: 0 });
    await compare('Step', { x: spec(shape, 11) }, { alpha: 0.25 });
  });

  it('Relu and Step keep NaN and map zero like tfjs', async () => {
    const x: InputSpec = { data: Float32Array.from([Number.NaN, 0, -0, -2, 3]), shape: [5] };
    const relu = await runKernelOn('wasm', 'Relu', { x }, {});
    const step = await runKernelOn('wasm', 'Step', { x }, { alpha: 0.5 });
    expect(Array.from(relu.data)).toEqual(Array.from((await runKernelOn('cpu', 'Relu', { x }, {})).data));
    expect(Array.from(relu.data).map((v) => v + 0)).toEqual([Number.NaN, 0, 0, 0, 3]);
    expect(Array.from(step.data)).toEqual([Number.NaN, 0.5, 0.5, 0.5, 1]);
  });

  it('Identity and same-dtype Cast share the buffer and free it with the last reference', async () => {
    await tf.setBackend('wasm');
    const idsBefore = tf.engine().backend.numDataIds();
    const x = tf.tensor(spec([2, 3], 12).data, [2, 3]);
    const y = tf.engine().runKernel('Identity', { x }, {}) as tf.Tensor;
    const z = tf.cast(x, 'float32');
    expect(tf.engine().backend.numDataIds()).toBe(idsBefore + 1);
    x.dispose();
    expect(Array.from(await y.data())).toEqual(Array.from(spec([2, 3], 12).data));
    y.dispose();
    expect(Array.from(await z.data())).toEqual(Array.from(spec([2, 3], 12).data));
    z.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(idsBefore);
  });

  it('Cast to another dtype still converts', async () => {
    const x: InputSpec = { data: Float32Array.from([1.7, -2.2, 0]), shape: [3] };
    const got = await runKernelOn('wasm', 'Cast', { x }, { dtype: 'int32' });
    expect(Array.from(got.data)).toEqual([1, -2, 0]);
  });
});
