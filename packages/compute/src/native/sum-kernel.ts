import type { KernelFunc, NamedTensorInfoMap, SumAttrs } from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon-types.js';
import { heapBytes, heapOffset, isWasmHeapBackend } from './wasm-heap.js';

/**
 * Sum over a leading block of axes (bias gradients: NHWC over N, H, W) or a trailing block, natively;
 * other axis sets and non-float tensors use the stock kernel.
 */
export function makeSum(addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { backend } = args;
    const { x } = args.inputs as NamedTensorInfoMap;
    const attrs = args.attrs as unknown as SumAttrs;
    if (!isWasmHeapBackend(backend) || x === undefined || x.dtype !== 'float32' || x.shape.length === 0) {
      return fallback(args);
    }
    const rank = x.shape.length;
    const axes = [...new Set(util.parseAxisParam(attrs.axis, x.shape))].sort((p, q) => p - q);
    if (axes.length === 0 || util.sizeFromShape(x.shape) === 0) return fallback(args);
    const leading = axes.every((ax, i) => ax === i);
    const trailing = axes.every((ax, i) => ax === rank - axes.length + i);
    if (!leading && !trailing) return fallback(args);
    const reduced = util.sizeFromShape(axes.map((ax) => x.shape[ax] ?? 1));
    const kept = util.sizeFromShape(x.shape) / reduced;
    const outShape = attrs.keepDims
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i));
    const out = backend.makeOutput(outShape, 'float32');
    const overRows = leading;
    addon.sumRows(
      heapBytes(backend),
      heapOffset(backend, x),
      overRows ? reduced : kept,
      overRows ? kept : reduced,
      heapOffset(backend, out),
      overRows,
    );
    return out;
  };
}
