import { type KernelBackend, type NamedAttrMap, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { KernelScope, type RawKernelFunc } from './kernel-scope.js';

/** Batched products at least this large (M·N·K per batch entry) are split into single products. */
const SPLIT_MIN_WORK = 32 * 32 * 32;
const SPLIT_MAX_BATCH = 64;

/**
 * The wasm backend's BatchMatMul (and _FusedMatMul) use XNNPACK only for one [M,K]x[K,N] product with no
 * transposes; anything else runs a scalar loop (~3 GFLOP/s against ~25). This wrapper transposes inputs
 * explicitly and splits equal-batch products into single ones, then calls the stock kernel.
 */
export function matMulKernel(
  kernelName: 'BatchMatMul' | '_FusedMatMul',
  pinned: ReadonlyMap<string, RawKernelFunc>,
  backendName: string,
) {
  return (args: { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo => {
    const stock = pinned.get(kernelName) as RawKernelFunc;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const transposeA = args.attrs.transposeA === true;
    const transposeB = args.attrs.transposeB === true;
    const batchA = util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = util.sizeFromShape(b.shape.slice(0, -2));
    const fused = kernelName === '_FusedMatMul';
    const canSplit =
      !fused &&
      batchA === batchB &&
      batchA > 1 &&
      batchA <= SPLIT_MAX_BATCH &&
      a.shape.length === b.shape.length &&
      a.shape.slice(0, -2).every((d, i) => d === b.shape[i]);
    if (!transposeA && !transposeB && !canSplit) {
      return stock(args) as TensorInfo;
    }
    const s = new KernelScope(args.backend, backendName, pinned);
    try {
      const rank = (t: TensorInfo) => t.shape.length;
      const swapLast = (t: TensorInfo) => {
        const perm = t.shape.map((_, i) => i);
        perm[rank(t) - 1] = rank(t) - 2;
        perm[rank(t) - 2] = rank(t) - 1;
        return s.transpose(t, perm);
      };
      const a2 = transposeA ? swapLast(a) : a;
      const b2 = transposeB ? swapLast(b) : b;
      const m = a2.shape[rank(a2) - 2] as number;
      const k = a2.shape[rank(a2) - 1] as number;
      const n = b2.shape[rank(b2) - 1] as number;
      const attrs = { ...args.attrs, transposeA: false, transposeB: false };
      if (!canSplit || m * n * k < SPLIT_MIN_WORK) {
        return s.keep(s.run(kernelName, { ...args.inputs, a: a2, b: b2 }, attrs));
      }
      const a3 = s.reshape(a2, [batchA, m, k]);
      const b3 = s.reshape(b2, [batchA, k, n]);
      const parts: TensorInfo[] = [];
      for (let i = 0; i < batchA; i++) {
        const ai = s.slice(a3, [i, 0, 0], [1, m, k]);
        const bi = s.slice(b3, [i, 0, 0], [1, k, n]);
        parts.push(s.run(kernelName, { a: ai, b: bi }, attrs));
      }
      const out = s.concat(parts, 0);
      return s.keep(s.reshape(out, [...a.shape.slice(0, -2), m, n]));
    } finally {
      s.dispose();
    }
  };
}
