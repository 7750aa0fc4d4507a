import type { CastAttrs, KernelFunc, NamedTensorInfoMap, StepAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon-types.js';
import { broadcastPlan } from './broadcast.js';
import { heapBytes, heapOffset, isWasmHeapBackend, type WasmHeapBackend } from './wasm-heap.js';

/** Addon elementwise op codes. */
const OP = { add: 0, mul: 1, relu: 2, step: 3 } as const;

/** A view of `x`'s data under a new TensorInfo: no copy, one more reference (what the cpu backend does). */
function shareData(backend: WasmHeapBackend & { incRef(dataId: object): void }, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function hasIncRef(b: object): b is { incRef(dataId: object): void } {
  return typeof (b as { incRef?: unknown }).incRef === 'function';
}

/** Identity without the stock wasm kernel's copy: the output shares the input's heap buffer. */
export function makeIdentity(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as NamedTensorInfoMap;
    const backend = args.backend;
    if (x === undefined || !isWasmHeapBackend(backend) || !hasIncRef(backend) || x.dtype === 'string') {
      return fallback(args);
    }
    return shareData(backend, x);
  };
}

/** Cast to the same dtype shares the buffer (relu's gradient casts float32 to float32); others fall back. */
export function makeCast(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as NamedTensorInfoMap;
    const { dtype } = args.attrs as unknown as CastAttrs;
    const backend = args.backend;
    if (x === undefined || x.dtype !== dtype || !isWasmHeapBackend(backend) || !hasIncRef(backend)) {
      return fallback(args);
    }
    return shareData(backend, x);
  };
}

const BINARY_OP = { add: 0, mul: 1, sub: 2, div: 3 } as const;

/**
 * Add / Multiply / Sub / RealDiv of two float32 tensors: same shapes through the flat kernel, broadcasting
 * (bias adds, GroupNorm statistics, masks) through the strided one.
 */
export function makeBinary(addon: NativeAddon, fallback: KernelFunc, op: keyof typeof BINARY_OP): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as NamedTensorInfoMap;
    const backend = args.backend;
    if (
      a === undefined ||
      b === undefined ||
      !isWasmHeapBackend(backend) ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32'
    ) {
      return fallback(args);
    }
    if ((op === 'add' || op === 'mul') && util.arraysEqual(a.shape, b.shape)) {
      const n = util.sizeFromShape(a.shape);
      const out = backend.makeOutput([...a.shape], 'float32');
      if (n === 0) return out;
      addon.elementwise(
        heapBytes(backend),
        OP[op],
        heapOffset(backend, a),
        heapOffset(backend, b),
        heapOffset(backend, out),
        n,
        0,
      );
      return out;
    }
    const plan = broadcastPlan(a.shape, b.shape);
    if (plan === null || util.sizeFromShape(plan.outShape) === 0) return fallback(args);
    const out = backend.makeOutput(plan.outShape, 'float32');
    addon.binaryBroadcast(
      heapBytes(backend),
      BINARY_OP[op],
      heapOffset(backend, a),
      heapOffset(backend, b),
      heapOffset(backend, out),
      plan.dims,
    );
    return out;
  };
}

/** Relu and Step (the relu gradient's mask) on float32 tensors. */
export function makeUnary(addon: NativeAddon, fallback: KernelFunc, op: 'relu' | 'step'): KernelFunc {
  return (args) => {
    const { x } = args.inputs as NamedTensorInfoMap;
    const backend = args.backend;
    if (x === undefined || !isWasmHeapBackend(backend) || x.dtype !== 'float32') return fallback(args);
    const alpha = op === 'step' ? ((args.attrs as unknown as StepAttrs | undefined)?.alpha ?? 0) : 0;
    const n = util.sizeFromShape(x.shape);
    const out = backend.makeOutput([...x.shape], 'float32');
    if (n === 0) return out;
    addon.elementwise(heapBytes(backend), OP[op], heapOffset(backend, x), -1, heapOffset(backend, out), n, alpha);
    return out;
  };
}
