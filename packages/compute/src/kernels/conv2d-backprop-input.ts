import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { KernelInputError } from '../errors.js';
import { type Conv2DPad, convGeometry, cropThenPad } from './conv-geometry.js';
import { KernelScope, type RawKernelFunc } from './kernel-scope.js';

/**
 * The input gradient of a 2D conv, dx[n,h,w,ci] = Σ dy[n,ho,wo,co] · W[kh,kw,ci,co] over h = ho·s − pt + kh,
 * built from the backend's fast forward conv:
 * - 1x1 filters: a 1x1 conv of dy with Wᵀ, then the result is spread onto the stride grid;
 * - otherwise: a stride-1 conv of the zero-inserted dy with the spatially flipped, in/out-swapped filter.
 *   (A sub-pixel variant — one conv producing all s² phases as channels, then an interleaving transpose — was
 *   measured no faster on XNNPACK for the stride-2 layers here, so it is not used.)
 */
export function conv2DBackpropInputKernel(pinned: ReadonlyMap<string, RawKernelFunc>, backendName: string) {
  return (args: { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs as unknown as {
      strides: number | [number, number];
      pad: Conv2DPad;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      inputShape: [number, number, number, number];
    };
    if (dy.dtype !== 'float32' || filter.dtype !== 'float32') {
      throw new KernelInputError('Conv2DBackpropInput', `needs float32 inputs, got ${dy.dtype} and ${filter.dtype}`);
    }
    const s = new KernelScope(args.backend, backendName, pinned);
    try {
      const nchw = attrs.dataFormat === 'NCHW';
      const inShape = attrs.inputShape;
      const xShape = nchw ? [inShape[0], inShape[2], inShape[3], inShape[1]] : inShape;
      const dyh = nchw ? s.transpose(dy, [0, 2, 3, 1]) : dy;
      const g = convGeometry(xShape, filter.shape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
      const dx =
        g.filterHeight === 1 && g.filterWidth === 1 ? pointwise(s, dyh, filter, g) : viaConv(s, dyh, filter, g);
      return s.keep(nchw ? s.transpose(dx, [0, 3, 1, 2]) : dx);
    } finally {
      s.dispose();
    }
  };
}

/** Spreads [N,Ho,Wo,C] onto a stride grid: [N, Ho·sh, Wo·sw, C] with the values at multiples of the stride. */
function zeroInsert(s: KernelScope, t: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return t;
  const [n, h, w, c] = t.shape as [number, number, number, number];
  const six = s.reshape(t, [n, h, 1, w, 1, c]);
  const padded = s.pad(six, [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return s.reshape(padded, [n, h * sh, w * sw, c]);
}

function pointwise(s: KernelScope, dy: TensorInfo, filter: TensorInfo, g: ReturnType<typeof convGeometry>): TensorInfo {
  const wt = s.reshape(s.transpose(s.reshape(filter, [g.inChannels, g.outChannels]), [1, 0]), [
    1,
    1,
    g.outChannels,
    g.inChannels,
  ]);
  const t = s.run(
    'Conv2D',
    { x: dy, filter: wt },
    {
      strides: [1, 1],
      pad: 'valid',
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: undefined as unknown as string,
    },
  );
  const z = zeroInsert(s, t, g.strideHeight, g.strideWidth); // z[q] = dx[q − pt]
  const rows = cropThenPad(z.shape[1] as number, -g.padTop, g.inHeight + g.padTop - (z.shape[1] as number));
  const cols = cropThenPad(z.shape[2] as number, -g.padLeft, g.inWidth + g.padLeft - (z.shape[2] as number));
  const zc = s.slice(z, [0, rows.begin, cols.begin, 0], [g.batch, rows.size, cols.size, g.inChannels]);
  return s.pad(zc, [[0, 0], rows.pad, cols.pad, [0, 0]]);
}

function viaConv(s: KernelScope, dy: TensorInfo, filter: TensorInfo, g: ReturnType<typeof convGeometry>): TensorInfo {
  const z = zeroInsert(s, dy, g.strideHeight, g.strideWidth); // z[q] holds dy[q/s] at multiples of s
  // dx[h] = Σ_i z[h + pt − i] · W[i] = conv(z padded by kh−1−pt on top, flipped W)[h].
  const zh = z.shape[1] as number;
  const zw = z.shape[2] as number;
  const rows = cropThenPad(zh, g.filterHeight - 1 - g.padTop, g.inHeight - zh + g.padTop);
  const cols = cropThenPad(zw, g.filterWidth - 1 - g.padLeft, g.inWidth - zw + g.padLeft);
  const zc = s.slice(z, [0, rows.begin, cols.begin, 0], [g.batch, rows.size, cols.size, g.outChannels]);
  const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  const wt = s.transpose(flipped, [0, 1, 3, 2]); // [kh, kw, Co, Ci]
  return s.run(
    'Conv2D',
    { x: zc, filter: wt },
    {
      strides: [1, 1],
      pad: [[0, 0], rows.pad, cols.pad, [0, 0]],
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: undefined as unknown as string,
    },
  );
}
