import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers' bundle registers tfjs-core's gradient functions, which the core bundle alone lacks.
import '@tensorflow/tfjs-layers';
import { ModelError } from './errors.js';

/** The parts of tfjs-backend-wasm's backend that {@link rows} uses (tensor data lives on the wasm heap). */
interface WasmHeap {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

function wasmHeap(): WasmHeap | null {
  const b = tf.engine().backend as unknown as Partial<WasmHeap>;
  return tf.getBackend() === 'wasm' &&
    typeof b.makeOutput === 'function' &&
    b.wasm?.HEAPU8 instanceof Uint8Array &&
    typeof b.dataIdMap?.get === 'function'
    ? (b as WasmHeap)
    : null;
}

/**
 * Rows [start, start + count) of `t` along axis 0, as a new tensor with no gradient of its own. On the wasm
 * backend (also under lorkd's native kernels) one memmove of just those bytes within the heap: tfjs-wasm's
 * Slice copies the whole input out of the heap on every call, which made per-group slicing cost as much as
 * the convs. Elsewhere, a slice.
 */
function rows<R extends tf.Rank>(t: tf.Tensor<R>, start: number, count: number): tf.Tensor<R> {
  const shape = t.shape as number[];
  const n = shape[0] as number;
  if (start === 0 && count === n) return t;
  const heap = t.dtype === 'float32' ? wasmHeap() : null;
  const from = heap?.dataIdMap.get(t.dataId)?.memoryOffset;
  if (heap && from !== undefined) {
    const outShape = [count, ...shape.slice(1)];
    const out = heap.makeOutput(outShape, 'float32');
    const to = heap.dataIdMap.get(out.dataId)?.memoryOffset as number;
    const bytes = (t.size / n) * 4;
    // read HEAPU8 after the allocation: the wasm memory may have grown (offsets stay valid)
    heap.wasm.HEAPU8.copyWithin(to, from + start * bytes, from + (start + count) * bytes);
    return tf.engine().makeTensorFromTensorInfo(out) as tf.Tensor<R>;
  }
  const begin = shape.map(() => 0);
  begin[0] = start;
  const size = shape.map(() => -1);
  size[0] = count;
  return tf.slice(t, begin, size) as tf.Tensor<R>;
}

/**
 * Convolution of consecutive row groups of `x` (group g: `counts[g]` rows) each with its own kernel
 * `kernels[g]` ([G, k, k, Cin, Cout]), concatenated back in order, as one op with its own gradient:
 * autograd over per-group slices would pay a full-size pad per group for dx and whole-input copies per
 * piece on wasm. The backward copies each group's rows of dy (and of x again: tfjs lets an op save only
 * its inputs) and runs, per group, the same Conv2DBackpropInput / Conv2DBackpropFilter kernels as the plain
 * conv's gradient; no conv is recomputed.
 */
export function rowGroupedConv2d(
  x: tf.Tensor4D,
  kernels: tf.Tensor5D,
  counts: readonly number[],
  stride: number,
): tf.Tensor4D {
  const g = counts.length;
  if (kernels.shape[0] !== g) throw new ModelError('rowGroupedConv2d needs one kernel per row group', { counts });
  const starts = counts.map((_, i) => counts.slice(0, i).reduce((a, b) => a + b, 0));
  const [, kh, kw, cin, cout] = kernels.shape;
  const kernel = (ks: tf.Tensor5D, i: number) => tf.reshape(rows(ks, i, 1), [kh, kw, cin, cout]) as tf.Tensor4D;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xt, ks, save] = args as [tf.Tensor4D, tf.Tensor5D, tf.GradSaveFunc];
    const ys = counts.map((c, i) => tf.conv2d(rows(xt, starts[i] as number, c), kernel(ks, i), stride, 'same'));
    save([xt, ks]);
    return {
      value: ys.length === 1 ? (ys[0] as tf.Tensor4D) : tf.concat(ys, 0),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, kss] = saved as [tf.Tensor4D, tf.Tensor5D];
        const dxs: tf.Tensor4D[] = [];
        const dks: tf.Tensor4D[] = [];
        counts.forEach((c, i) => {
          const xi = rows(xs, starts[i] as number, c);
          const ki = kernel(kss, i);
          const dyi = rows(dy, starts[i] as number, c);
          dxs.push(tf.conv2dTranspose(dyi, ki, xi.shape, stride, 'same'));
          const attrs = { strides: stride, pad: 'same', dataFormat: 'NHWC', filterShape: ki.shape };
          dks.push(tf.engine().runKernel('Conv2DBackpropFilter', { x: xi, dy: dyi }, attrs) as tf.Tensor4D);
        });
        return [dxs.length === 1 ? (dxs[0] as tf.Tensor4D) : tf.concat(dxs, 0), tf.stack(dks)];
      },
    };
  });
  return op(x, kernels) as tf.Tensor4D;
}
