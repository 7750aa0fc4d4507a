import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { silentLogger } from '@lorkd/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmKernels } from '../kernels/register-wasm-kernels.js';
import { activateWasmBackend } from '../wasm-backend.js';
import { loadAddon } from './load-addon.js';
import { type InputSpec, relErr, runKernelOn, spec } from './native-test-util.js';
import { registerNativeWasmKernels } from './register-wasm.js';

const addon = loadAddon();

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];
interface ConvCase {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number | [number, number];
  pad: Pad;
  d?: number;
}

// Odd sizes, batch 1, strides 1-3, every padding kind, 1x1 / even / 5x5 filters.
const CASES: ConvCase[] = [
  { x: [1, 5, 5, 1], k: [3, 3], co: 2, s: 1, pad: 'same' },
  { x: [2, 7, 6, 3], k: [3, 3], co: 4, s: 2, pad: 'same' },
  { x: [2, 7, 6, 3], k: [3, 3], co: 4, s: 2, pad: 'valid' },
  { x: [1, 9, 7, 2], k: [5, 5], co: 3, s: 3, pad: 'same' },
  { x: [3, 8, 8, 4], k: [1, 1], co: 5, s: 2, pad: 'same' },
  { x: [2, 6, 5, 3], k: [2, 2], co: 3, s: 1, pad: 'same' },
  { x: [2, 8, 7, 2], k: [3, 3], co: 3, s: 2, pad: 1 },
  {
    x: [2, 8, 7, 2],
    k: [3, 2],
    co: 3,
    s: [2, 1],
    pad: [
      [0, 0],
      [1, 1],
      [0, 1],
      [0, 0],
    ],
  },
  {
    x: [1, 7, 9, 3],
    k: [3, 3],
    co: 2,
    s: 1,
    pad: [
      [0, 0],
      [2, 1],
      [0, 2],
      [0, 0],
    ],
  },
  { x: [2, 11, 11, 4], k: [3, 3], co: 4, s: 2, pad: 'valid' },
  // Big enough (> 4 MFLOP) to run on every OpenMP thread, including a strided 1x1 (a oneDNN race lived there).
  { x: [1, 16, 16, 32], k: [3, 3], co: 32, s: 1, pad: 'same' },
  { x: [4, 32, 32, 32], k: [1, 1], co: 64, s: 2, pad: 'same' },
  { x: [3, 17, 15, 16], k: [3, 3], co: 48, s: 2, pad: 'same' },
];

function convInfo(c: ConvCase) {
  const w: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.co];
  const info = tf.backend_util.computeConv2DInfo(c.x, w, c.s, c.d ?? 1, c.pad);
  return { w, y: info.outShape };
}

async function compare(kernel: string, inputs: Record<string, InputSpec>, attrs: Record<string, unknown>) {
  const ref = await runKernelOn('cpu', kernel, inputs, attrs);
  const got = await runKernelOn('wasm', kernel, inputs, attrs);
  expect(got.shape).toEqual(ref.shape);
  expect(got.leaked).toBe(0);
  expect(relErr(got.data, ref.data)).toBeLessThanOrEqual(1e-4);
}

describe.skipIf(!addon.ok)('native oneDNN conv kernels on wasm vs the cpu backend', () => {
  beforeAll(async () => {
    tf.env().set('PROD', true); // silences tfjs's "use tfjs-node" console hint
    await activateWasmBackend();
    registerWasmKernels('wasm');
    if (addon.ok) registerNativeWasmKernels(addon.addon, 'wasm', silentLogger);
  });

  it.each(CASES)('Conv2D $x k$k s$s pad $pad', async (c) => {
    const { w } = convInfo(c);
    const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: c.d ?? 1 };
    await compare('Conv2D', { x: spec(c.x, 1), filter: spec(w, 2) }, attrs);
  });

  it('Conv2D with dilation 2', async () => {
    const c: ConvCase = { x: [2, 9, 8, 3], k: [3, 3], co: 4, s: 1, pad: 'same', d: 2 };
    const { w } = convInfo(c);
    await compare(
      'Conv2D',
      { x: spec(c.x, 3), filter: spec(w, 4) },
      { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 2 },
    );
  });

  it.each(CASES)('Conv2DBackpropInput $x k$k s$s pad $pad', async (c) => {
    const { w, y } = convInfo(c);
    const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
    await compare('Conv2DBackpropInput', { dy: spec(y, 5), filter: spec(w, 6) }, attrs);
  });

  it.each(CASES)('Conv2DBackpropFilter $x k$k s$s pad $pad', async (c) => {
    const { w, y } = convInfo(c);
    const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: w };
    await compare('Conv2DBackpropFilter', { x: spec(c.x, 7), dy: spec(y, 8) }, attrs);
  });

  it.each(['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu'])(
    'FusedConv2D with bias and %s',
    async (activation) => {
      const c = CASES[1] as ConvCase;
      const { w } = convInfo(c);
      const inputs: Record<string, InputSpec> = { x: spec(c.x, 9), filter: spec(w, 10), bias: spec([c.co], 11) };
      if (activation === 'prelu') inputs.preluActivationWeights = spec([c.co], 12);
      const attrs = {
        strides: c.s,
        pad: c.pad,
        dataFormat: 'NHWC',
        dilations: 1,
        activation,
        leakyreluAlpha: 0.1,
      };
      await compare('FusedConv2D', inputs, attrs);
    },
  );

  it('FusedConv2D without bias, batch 1', async () => {
    const c = CASES[0] as ConvCase;
    const { w } = convInfo(c);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'relu' };
    await compare('FusedConv2D', { x: spec(c.x, 13), filter: spec(w, 14) }, attrs);
  });

  it('gradients of a fused conv + bias + relu match the cpu backend end to end', async () => {
    const grads = async (backend: 'cpu' | 'wasm') => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(spec([2, 7, 7, 3], 20).data, [2, 7, 7, 3]);
      const w = tf.tensor4d(spec([3, 3, 3, 4], 21).data, [3, 3, 3, 4]);
      const b = tf.tensor1d(spec([4], 22).data);
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.fused.conv2d({
              x: xx as tf.Tensor4D,
              filter: ww as tf.Tensor4D,
              bias: bb,
              strides: 2,
              pad: 'same',
              activation: 'relu',
            }),
          ),
        );
      const gs = tf.grads(f)([x, w, b]);
      const out = await Promise.all(gs.map(async (g) => Float32Array.from((await g.data()) as Float32Array)));
      tf.dispose([x, w, b, ...gs]);
      return out;
    };
    const ref = await grads('cpu');
    const got = await grads('wasm');
    for (let i = 0; i < ref.length; i++)
      expect(relErr(got[i] as Float32Array, ref[i] as Float32Array)).toBeLessThan(1e-4);
  });
});
