import type { KernelBackend, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { KernelInputError } from '../errors.js';
import { type Conv2DPad, convGeometry, cropThenPad } from './conv-geometry.js';
import { KernelScope, type RawKernelFunc } from './kernel-scope.js';

/** im2col + one matmul is used while the columns (kh·kw·Ci) are at most this many times the output channels. */
const IM2COL_MAX_RATIO = 1;

/**
 * The weight gradient of a 2D conv, dW[kh,kw,ci,co] = Σ x[n, ho·s−pt+kh, wo·s−pl+kw, ci] · dy[n,ho,wo,co],
 * built from the backend's own fast kernels:
 * - small kh·kw·Ci relative to Co (the stem, 1x1 projections): im2col by a one-hot conv, then one matmul;
 * - otherwise the "conv trick": a forward conv of xᵀ [Ci,H,W,N] with dyᵀ [Ho,Wo,N,Co] as the filter,
 *   stride 1 and dilation = the forward stride, giving [Ci,kh,kw,Co].
 */
export function conv2DBackpropFilterKernel(pinned: ReadonlyMap<string, RawKernelFunc>, backendName: string) {
  return (args: { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs as unknown as {
      strides: number | [number, number];
      pad: Conv2DPad;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      filterShape: [number, number, number, number];
    };
    const s = new KernelScope(args.backend, backendName, pinned);
    try {
      const nchw = attrs.dataFormat === 'NCHW';
      const xh = nchw ? s.transpose(x, [0, 2, 3, 1]) : x;
      const dyh = nchw ? s.transpose(dy, [0, 2, 3, 1]) : dy;
      if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
        throw new KernelInputError('Conv2DBackpropFilter', `needs float32 inputs, got ${x.dtype} and ${dy.dtype}`);
      }
      const g = convGeometry(xh.shape, attrs.filterShape, attrs.strides, attrs.pad, attrs.dimRoundingMode);
      const columns = g.filterHeight * g.filterWidth * g.inChannels;
      // im2col costs an extra K/Co of the matmul's work (K = kh·kw·Ci); worth it while that is small.
      const dw =
        columns <= IM2COL_MAX_RATIO * g.outChannels
          ? viaIm2col(s, xh, dyh, g, attrs, args.backend)
          : viaConvTrick(s, xh, dyh, g);
      return s.keep(dw);
    } finally {
      s.dispose();
    }
  };
}

function viaConvTrick(s: KernelScope, x: TensorInfo, dy: TensorInfo, g: ReturnType<typeof convGeometry>): TensorInfo {
  // Rows of x the forward conv touched: [−pt, (Ho−1)·s − pt + kh). Pad or crop x to exactly that window.
  const rows = cropThenPad(
    g.inHeight,
    g.padTop,
    (g.outHeight - 1) * g.strideHeight + g.filterHeight - g.inHeight - g.padTop,
  );
  const cols = cropThenPad(
    g.inWidth,
    g.padLeft,
    (g.outWidth - 1) * g.strideWidth + g.filterWidth - g.inWidth - g.padLeft,
  );
  const xc = s.slice(x, [0, rows.begin, cols.begin, 0], [g.batch, rows.size, cols.size, g.inChannels]);
  const xt = s.transpose(xc, [3, 1, 2, 0]); // [Ci, H', W', N]
  const dyt = s.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
  const out = s.run(
    'Conv2D',
    { x: xt, filter: dyt },
    {
      strides: [1, 1],
      pad: [[0, 0], rows.pad, cols.pad, [0, 0]],
      dataFormat: 'NHWC',
      dilations: [g.strideHeight, g.strideWidth],
      dimRoundingMode: undefined as unknown as string,
    },
  ); // [Ci, kh, kw, Co]
  return s.transpose(out, [1, 2, 0, 3]);
}

/**
 * im2col by a forward conv with a one-hot filter bank E[i,j,ci,(i,j,ci)] = 1 (same strides and padding as the
 * original conv, so XNNPACK does the patch extraction), then dW = colsᵀ · dy as one plain matmul.
 */
function viaIm2col(
  s: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  g: ReturnType<typeof convGeometry>,
  attrs: { strides: number | [number, number]; pad: Conv2DPad; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
  backend: KernelBackend,
): TensorInfo {
  const k = g.filterHeight * g.filterWidth * g.inChannels;
  const m = g.batch * g.outHeight * g.outWidth;
  const eye = new Float32Array(k * k);
  for (let i = 0; i < k; i++) eye[i * k + i] = 1;
  const eShape = [g.filterHeight, g.filterWidth, g.inChannels, k];
  const e = s.adopt({ dataId: backend.write(eye, eShape, 'float32'), shape: eShape, dtype: 'float32' });
  const cols = s.run(
    'Conv2D',
    { x, filter: e },
    {
      strides: attrs.strides,
      pad: attrs.pad,
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: attrs.dimRoundingMode as string,
    },
  ); // [N, Ho, Wo, K]
  const col2 = s.reshape(cols, [m, k]);
  const dy2 = s.reshape(dy, [m, g.outChannels]);
  const shape = [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];
  if (k <= g.outChannels) {
    const colT = s.reshape(s.transpose(col2, [1, 0]), [1, k, m]);
    const prod = s.run(
      'BatchMatMul',
      { a: colT, b: s.reshape(dy2, [1, m, g.outChannels]) },
      { transposeA: false, transposeB: false },
    );
    return s.reshape(prod, shape);
  }
  const dyT = s.reshape(s.transpose(dy2, [1, 0]), [1, g.outChannels, m]);
  const prod = s.run(
    'BatchMatMul',
    { a: dyT, b: s.reshape(col2, [1, m, k]) },
    { transposeA: false, transposeB: false },
  );
  return s.reshape(s.transpose(s.reshape(prod, [g.outChannels, k]), [1, 0]), shape);
}
