import { type KernelBackend, type NamedAttrMap, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { KernelInputError } from '../errors.js';
import { KernelScope, type RawKernelFunc } from './kernel-scope.js';

/**
 * UnsortedSegmentSum (the gradient of `gather`): out[k, ...] = Σ_{i: ids[i] = k} x[i, ...], through the
 * backend's ScatterNd, which accumulates duplicate indices. `segmentIds` may have any rank r; x's first r
 * axes must match it. Ids outside [0, numSegments) are dropped, as in TensorFlow.
 */
export function unsortedSegmentSumKernel(pinned: ReadonlyMap<string, RawKernelFunc>, backendName: string) {
  return (args: { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo => {
    const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const numSegments = args.attrs.numSegments as number;
    const idsRank = segmentIds.shape.length;
    if (!segmentIds.shape.every((d, i) => d === x.shape[i])) {
      throw new KernelInputError(
        'UnsortedSegmentSum',
        `segmentIds shape [${segmentIds.shape}] must be a prefix of x's shape [${x.shape}]`,
      );
    }
    const s = new KernelScope(args.backend, backendName, pinned);
    try {
      const n = util.sizeFromShape(segmentIds.shape);
      const inner = x.shape.slice(idsRank);
      const innerSize = util.sizeFromShape(inner);
      const outShape = [numSegments, ...inner];
      const ids = args.backend.readSync(segmentIds.dataId) as Int32Array;
      let valid = 0;
      for (let i = 0; i < n; i++) if ((ids[i] as number) >= 0 && (ids[i] as number) < numSegments) valid++;
      if (valid === 0) return s.keep(s.run('Fill', {}, { shape: outShape, value: 0, dtype: x.dtype }));
      let indices: TensorInfo;
      let updates: TensorInfo = s.reshape(x, [n, ...inner]);
      if (valid === n) {
        indices = s.reshape(segmentIds, [n, 1]);
      } else {
        // Keep only the rows with a valid id (TensorFlow drops the rest).
        const keepIdx = new Int32Array(valid);
        const keepIds = new Int32Array(valid);
        for (let i = 0, j = 0; i < n; i++) {
          const id = ids[i] as number;
          if (id >= 0 && id < numSegments) {
            keepIdx[j] = i;
            keepIds[j++] = id;
          }
        }
        const rowsInfo = {
          dataId: args.backend.write(keepIdx, [valid], 'int32'),
          shape: [valid],
          dtype: 'int32' as const,
        };
        const idsInfo = {
          dataId: args.backend.write(keepIds, [valid, 1], 'int32'),
          shape: [valid, 1],
          dtype: 'int32' as const,
        };
        s.adopt(rowsInfo);
        indices = s.adopt(idsInfo);
        updates = s.run('GatherV2', { x: s.reshape(x, [n, innerSize]), indices: rowsInfo }, { axis: 0, batchDims: 0 });
        updates = s.reshape(updates, [valid, ...inner]);
      }
      return s.keep(s.run('ScatterNd', { indices, updates }, { shape: outShape }));
    } finally {
      s.dispose();
    }
  };
}
