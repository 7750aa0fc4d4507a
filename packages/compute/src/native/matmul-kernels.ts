import type { _FusedMatMulAttrs, BatchMatMulAttrs, KernelFunc, NamedTensorInfoMap } from '@tensorflow/tfjs-core';
import { broadcast_util, util } from '@tensorflow/tfjs-core';
import { activationCode, isChannelBias } from './activation.js';
import type { NativeAddon } from './addon-types.js';
import { heapBytes, heapOffset, isWasmHeapBackend } from './wasm-heap.js';

/** BatchMatMul and _FusedMatMul through oneDNN matmul; batch shapes must be equal or one of them all ones. */
export function makeMatMul(addon: NativeAddon, fallback: KernelFunc, fused: boolean): KernelFunc {
  return (args) => {
    const { backend } = args;
    const inputs = args.inputs as NamedTensorInfoMap;
    const attrs = args.attrs as unknown as _FusedMatMulAttrs & BatchMatMulAttrs;
    const { a, b } = inputs;
    const bias = fused ? inputs.bias : undefined;
    const code = fused ? activationCode(attrs.activation, attrs.leakyreluAlpha) : { act: 0, alpha: 0 };
    if (!isWasmHeapBackend(backend) || a === undefined || b === undefined || code === null) return fallback(args);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) {
      return fallback(args);
    }
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = (attrs.transposeA ? a.shape[ra - 1] : a.shape[ra - 2]) ?? 0;
    const k = (attrs.transposeA ? a.shape[ra - 2] : a.shape[ra - 1]) ?? 0;
    const kb = (attrs.transposeB ? b.shape[rb - 1] : b.shape[rb - 2]) ?? 0;
    const n = (attrs.transposeB ? b.shape[rb - 2] : b.shape[rb - 1]) ?? 0;
    if (k !== kb || m === 0 || n === 0 || k === 0) return fallback(args);
    const batchShapeA = a.shape.slice(0, -2);
    const batchShapeB = b.shape.slice(0, -2);
    const batchA = util.sizeFromShape(batchShapeA);
    const batchB = util.sizeFromShape(batchShapeB);
    const outBatchShape = broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
    const batch = util.sizeFromShape(outBatchShape);
    const sameBatch = util.arraysEqual(batchShapeA, batchShapeB);
    if (!sameBatch && batchA !== 1 && batchB !== 1) return fallback(args);
    if (bias !== undefined && !isChannelBias(bias, n)) return fallback(args);
    const out = backend.makeOutput([...outBatchShape, m, n], 'float32');
    const geom = Int32Array.from([batch, m, k, n, attrs.transposeA ? 1 : 0, attrs.transposeB ? 1 : 0, batchA, batchB]);
    addon.matMul(
      heapBytes(backend),
      geom,
      heapOffset(backend, a),
      heapOffset(backend, b),
      bias === undefined ? -1 : heapOffset(backend, bias),
      heapOffset(backend, out),
      code.act,
      code.alpha,
      0,
    );
    return out;
  };
}
