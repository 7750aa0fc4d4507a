import type { KernelFunc, NamedTensorInfoMap, SumAttrs } from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon-types.js';
import { heapBytes, heapOffset, isWasmHeapBackend } from './wasm-heap.js';

/**
 * The addon's layout for a reduction of `shape` over `axes`: [rank, shape x6, out strides x6] with size-1 dims
 * dropped and neighbours merged (reduced with reduced, kept with kept), or null beyond 6 dims.
 */
export function reducePlan(shape: number[], axes: number[]): Int32Array | null {
  const outStrides = new Array<number>(shape.length).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (!axes.includes(d)) {
      outStrides[d] = s;
      s *= shape[d] as number;
    }
  }
  const groups: { n: number; os: number }[] = [];
  shape.forEach((n, d) => {
    if (n === 1) return;
    const os = outStrides[d] as number;
    const last = groups[groups.length - 1];
    if (last !== undefined && ((last.os === 0 && os === 0) || (os !== 0 && last.os === os * n))) {
      last.n *= n;
      last.os = os;
    } else {
      groups.push({ n, os });
    }
  });
  if (groups.length === 0) groups.push({ n: 1, os: 0 });
  if (groups.length > 6) return null;
  const dims = new Int32Array(13).fill(1);
  dims[0] = groups.length;
  groups.forEach((g, i) => {
    dims[1 + i] = g.n;
    dims[7 + i] = g.os;
  });
  return dims;
}

/**
 * Sum and Mean over any axes of a float32 tensor: a leading block of axes (bias gradients: NHWC over N, H, W) or
 * a trailing block through the blocked row kernel, any other set (GroupNorm statistics) through the strided one.
 * Non-float tensors use the stock kernel.
 */
export function makeSum(addon: NativeAddon, fallback: KernelFunc, mean = false): KernelFunc {
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
    const reduced = util.sizeFromShape(axes.map((ax) => x.shape[ax] ?? 1));
    const kept = util.sizeFromShape(x.shape) / reduced;
    const plan = leading || trailing || mean ? null : reducePlan(x.shape, axes);
    if (!leading && !trailing && plan === null && !mean) return fallback(args);
    const meanPlan = mean ? reducePlan(x.shape, axes) : null;
    if (mean && meanPlan === null) return fallback(args);
    const outShape = attrs.keepDims
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i));
    const out = backend.makeOutput(outShape, 'float32');
    const heap = heapBytes(backend);
    if (meanPlan !== null) {
      addon.reduceSum(heap, heapOffset(backend, x), heapOffset(backend, out), meanPlan, kept, 1 / reduced);
    } else if (plan !== null) {
      addon.reduceSum(heap, heapOffset(backend, x), heapOffset(backend, out), plan, kept, 1);
    } else {
      addon.sumRows(
        heap,
        heapOffset(backend, x),
        leading ? reduced : kept,
        leading ? kept : reduced,
        heapOffset(backend, out),
        leading,
      );
    }
    return out;
  };
}
