import { type KernelBackend, type NamedAttrMap, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { KernelScope, type RawKernelFunc } from './kernel-scope.js';

/** Reductions over fewer rows than this stay on the stock kernel. */
const MIN_ROWS = 1024;

/**
 * Sum over two or more leading axes (the bias gradient: [N,H,W,C] summed over N,H,W) through XNNPACK's average pooling
 * (~10x faster here): the stock wasm Sum first transposes the reduced axes innermost. (A ones-vector matmul
 * is no better: XNNPACK repacks the big operand on every call.) Every other reduction goes to the stock kernel.
 */
export function sumKernel(pinned: ReadonlyMap<string, RawKernelFunc>, backendName: string) {
  return (args: { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo => {
    const stock = pinned.get('Sum') as RawKernelFunc;
    const { x } = args.inputs as { x: TensorInfo };
    const rank = x.shape.length;
    const axes = util.parseAxisParam(args.attrs.axis as number | number[], x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    const rows = util.sizeFromShape(x.shape.slice(0, axes.length));
    const cols = util.sizeFromShape(x.shape.slice(axes.length));
    if (x.dtype !== 'float32' || !leading || axes.length < 2 || rows < MIN_ROWS || cols < 2) {
      return stock(args) as TensorInfo;
    }
    const s = new KernelScope(args.backend, backendName, pinned);
    try {
      // [P, A, B, cols] (P, A = the first two axes): average-pool each A x B window (XNNPACK; a 2-D window
      // is much faster than one long one), scale by A·B, then sum the P rows.
      const p = x.shape[0] as number;
      const a = x.shape[1] as number;
      const b = rows / (p * a);
      const pooled = s.run(
        'AvgPool',
        { x: s.reshape(x, [p, a, b, cols]) },
        { filterSize: [a, b], strides: [a, b], pad: 'valid', dimRoundingMode: undefined as unknown as string },
      ); // [P, 1, 1, cols]
      const scale = s.run('Fill', {}, { shape: [], value: a * b, dtype: 'float32' });
      const partial = s.run('Multiply', { a: s.reshape(pooled, [p, cols]), b: scale });
      const total = p === 1 ? partial : s.run('Sum', { x: partial }, { axis: [0], keepDims: false });
      const outShape =
        args.attrs.keepDims === true ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
      return s.keep(s.reshape(total, outShape));
    } finally {
      s.dispose();
    }
  };
}
