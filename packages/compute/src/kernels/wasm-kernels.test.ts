import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../select-backend.js';

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

/** Deterministic pseudo-random values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Runs one kernel on a backend from plain arrays; checks the wasm backend keeps no stray buffers. */
async function runOn(
  backend: 'cpu' | 'wasm',
  kernel: string,
  inputs: Record<string, { data: Float32Array | Int32Array; shape: number[]; dtype?: 'float32' | 'int32' }>,
  attrs: Record<string, unknown>,
): Promise<{ data: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const ts = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.data, v.shape, v.dtype ?? 'float32')]),
  );
  const before = tf.engine().backend.numDataIds();
  const out = tf.engine().runKernel(kernel, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  expect(tf.engine().backend.numDataIds()).toBe(before + 1);
  const data = (await out.data()) as Float32Array;
  const shape = out.shape;
  out.dispose();
  for (const t of Object.values(ts)) t.dispose();
  return { data, shape };
}

function relErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    mag = Math.max(mag, Math.abs(b[i] as number));
  }
  return diff / Math.max(mag, 1e-6);
}

async function compare(
  kernel: string,
  inputs: Parameters<typeof runOn>[2],
  attrs: Record<string, unknown>,
): Promise<void> {
  const ref = await runOn('cpu', kernel, inputs, attrs);
  const got = await runOn('wasm', kernel, inputs, attrs);
  expect(got.shape).toEqual(ref.shape);
  expect(relErr(got.data, ref.data)).toBeLessThanOrEqual(1e-4);
}

interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  kh: number;
  kw: number;
  strides: [number, number];
  pad: Pad;
}

// A grid over filter sizes x strides x paddings, cycling shapes (batch 1 and odd sizes included).
const shapes = [
  { n: 1, h: 7, w: 5, ci: 3, co: 4 },
  { n: 3, h: 8, w: 8, ci: 5, co: 2 },
  { n: 2, h: 9, w: 6, ci: 1, co: 3 },
  { n: 1, h: 6, w: 11, ci: 8, co: 6 },
  { n: 4, h: 5, w: 5, ci: 20, co: 3 },
];
const filters: [number, number][] = [
  [1, 1],
  [3, 3],
  [2, 3],
  [5, 5],
];
const strideSet: [number, number][] = [
  [1, 1],
  [2, 2],
  [3, 3],
  [1, 2],
];
const pads: Pad[] = [
  'same',
  'valid',
  1,
  [
    [0, 0],
    [1, 2],
    [0, 1],
    [0, 0],
  ],
];
const cases: ConvCase[] = [];
let ix = 0;
for (const [kh, kw] of filters)
  for (const strides of strideSet)
    for (const pad of pads) {
      const shape = shapes[ix++ % shapes.length] as (typeof shapes)[number];
      if (pad === 'valid' && (shape.h < kh || shape.w < kw)) continue;
      cases.push({ ...shape, kh, kw, strides, pad });
    }

function outSize(c: ConvCase): [number, number] {
  const info = tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.ci], [c.kh, c.kw, c.ci, c.co], c.strides, 1, c.pad);
  return [info.outHeight, info.outWidth];
}
const label = (c: ConvCase) =>
  `x[${c.n},${c.h},${c.w},${c.ci}] k${c.kh}x${c.kw} ${c.ci}->${c.co} s${c.strides} pad ${JSON.stringify(c.pad)}`;

describe('lorkd wasm kernels match the cpu backend', () => {
  beforeAll(async () => {
    await selectBackend({ preference: 'wasm' });
  });

  it.each(cases.map((c) => [label(c), c] as const))('Conv2DBackpropFilter %s', async (_l, c) => {
    const [ho, wo] = outSize(c);
    await compare(
      'Conv2DBackpropFilter',
      {
        x: { data: values(c.n * c.h * c.w * c.ci, 1), shape: [c.n, c.h, c.w, c.ci] },
        dy: { data: values(c.n * ho * wo * c.co, 2), shape: [c.n, ho, wo, c.co] },
      },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: [c.kh, c.kw, c.ci, c.co] },
    );
  });

  it.each(cases.map((c) => [label(c), c] as const))('Conv2DBackpropInput %s', async (_l, c) => {
    const [ho, wo] = outSize(c);
    await compare(
      'Conv2DBackpropInput',
      {
        dy: { data: values(c.n * ho * wo * c.co, 3), shape: [c.n, ho, wo, c.co] },
        filter: { data: values(c.kh * c.kw * c.ci * c.co, 4), shape: [c.kh, c.kw, c.ci, c.co] },
      },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: [c.n, c.h, c.w, c.ci] },
    );
  });

  it('Conv2DBackpropFilter and Conv2DBackpropInput accept NCHW', async () => {
    await compare(
      'Conv2DBackpropFilter',
      {
        x: { data: values(2 * 3 * 6 * 5, 5), shape: [2, 3, 6, 5] },
        dy: { data: values(2 * 4 * 3 * 3, 6), shape: [2, 4, 3, 3] },
      },
      { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] },
    );
  });

  it.each([
    ['1-D ids with duplicates', [6, 4], [6], [0, 2, 2, 5, 0, 2], 7],
    ['ids out of range are dropped', [5, 3], [5], [1, -1, 9, 1, 0], 3],
    ['rank-3 rows', [4, 3, 2], [4], [1, 0, 1, 3], 5],
    ['batch of one', [1, 8], [1], [3], 4],
  ] as const)('UnsortedSegmentSum: %s', async (_l, xShape, idShape, ids, numSegments) => {
    const size = (xShape as readonly number[]).reduce((a, b) => a * b, 1);
    await compare(
      'UnsortedSegmentSum',
      {
        x: { data: values(size, 7), shape: [...xShape] },
        segmentIds: { data: Int32Array.from(ids), shape: [...idShape], dtype: 'int32' },
      },
      { numSegments },
    );
  });

  it.each([
    ['plain', [1, 5, 7], [1, 7, 3], false, false],
    ['transposeA', [1, 7, 5], [1, 7, 3], true, false],
    ['transposeB', [1, 5, 7], [1, 3, 7], false, true],
    ['both', [7, 5], [3, 7], true, true],
    ['batched, split', [3, 33, 40], [3, 40, 35], false, false],
    ['batched + transposed', [2, 40, 33], [2, 35, 40], true, true],
    ['broadcast batch', [2, 4, 5], [1, 5, 6], false, false],
  ] as const)('BatchMatMul %s', async (_l, aShape, bShape, transposeA, transposeB) => {
    const size = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
    await compare(
      'BatchMatMul',
      {
        a: { data: values(size(aShape), 8), shape: [...aShape] },
        b: { data: values(size(bShape), 9), shape: [...bShape] },
      },
      { transposeA, transposeB },
    );
  });

  it('_FusedMatMul with transposes, bias and relu', async () => {
    await compare(
      '_FusedMatMul',
      {
        a: { data: values(6 * 4, 10), shape: [1, 6, 4] },
        b: { data: values(5 * 6, 11), shape: [1, 5, 6] },
        bias: { data: values(5, 12), shape: [5] },
      },
      { transposeA: true, transposeB: true, activation: 'relu' },
    );
  });
});

describe('lorkd wasm Sum', () => {
  beforeAll(async () => {
    await selectBackend({ preference: 'wasm' });
  });
  it.each([
    ['bias gradient [4,17,16,5] over 0,1,2', [4, 17, 16, 5], [0, 1, 2], false],
    ['keepDims', [16, 16, 9, 3], [0, 1, 2], true],
    ['negative axes', [64, 33, 2], [-3, -2], false],
    ['not leading (stock path)', [6, 200, 4], [1], false],
    ['all axes (stock path)', [40, 50], [0, 1], false],
  ] as const)('%s', async (_l, shape, axis, keepDims) => {
    const size = (shape as readonly number[]).reduce((a, b) => a * b, 1);
    await compare('Sum', { x: { data: values(size, 13), shape: [...shape] } }, { axis: [...axis], keepDims });
  });
});
