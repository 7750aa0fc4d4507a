import { type KernelBackend, type NamedAttrMap, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { KernelScope, type RawKernelFunc } from './kernel-scope.js';

/** Reductions over fewer rows than this stay on the stock kernel. */
const MIN_ROWS = 1024;

/**
 * Sum over leading axes (the bias gradient: [N,H,W,C] summed over N,H,W) as a ones-vector matmul on XNNPACK;
 * the stock wasm Sum first transposes the reduced axes innermost, which costs ~5x more. Every other
 * reduction goes to the stock kernel.
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
    if (x.dtype !== 'float32' || !leading || rows < MIN_ROWS || cols < 2) return stock(args) as TensorInfo;
    const s = new KernelScope(args.backend, backendName, pinned);
    try {
      const ones = s.run('Fill', {}, { shape: [1, 1, rows], value: 1, dtype: 'float32' });
      const prod = s.run(
        'BatchMatMul',
        { a: ones, b: s.reshape(x, [1, rows, cols]) },
        { transposeA: false, transposeB: false },
      );
      const outShape =
        args.attrs.keepDims === true ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
      return s.keep(s.reshape(prod, outShape));
    } finally {
      s.dispose();
    }
  };
}
