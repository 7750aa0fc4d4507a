import type {
  Conv2DAttrs,
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  FusedConv2DAttrs,
  KernelFunc,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { backend_util, util } from '@tensorflow/tfjs-core';
import { activationCode, isChannelBias } from './activation.js';
import type { NativeAddon } from './addon-types.js';
import { heapBytes, heapOffset, isWasmHeapBackend } from './wasm-heap.js';

type Fallback = KernelFunc;

/**
 * The addon's conv geometry for a tfjs conv info, or null when oneDNN would see it differently (a non-NHWC
 * layout, negative pads, or an output size that the pads do not reproduce), in which case the stock kernel runs.
 */
export function convGeometry(info: backend_util.Conv2DInfo): Int32Array | null {
  if (info.dataFormat !== 'channelsLast') return null;
  const { top, bottom, left, right } = info.padInfo;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) return null;
  const effH = (info.filterHeight - 1) * info.dilationHeight + 1;
  const effW = (info.filterWidth - 1) * info.dilationWidth + 1;
  const ho = Math.floor((info.inHeight + top + bottom - effH) / info.strideHeight) + 1;
  const wo = Math.floor((info.inWidth + left + right - effW) / info.strideWidth) + 1;
  if (ho !== info.outHeight || wo !== info.outWidth) return null;
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    top,
    left,
    bottom,
    right,
  ]);
}

function allFloat(...ts: TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

/** Conv2D and FusedConv2D (bias and activation fused as oneDNN post-ops; prelu falls back). */
export function makeConv2D(addon: NativeAddon, fallback: Fallback, fused: boolean): KernelFunc {
  return (args) => {
    const { backend } = args;
    const inputs = args.inputs as NamedTensorInfoMap;
    const attrs = args.attrs as unknown as FusedConv2DAttrs & Conv2DAttrs;
    const x = inputs.x;
    const filter = inputs.filter;
    const bias = fused ? inputs.bias : undefined;
    const code = fused ? activationCode(attrs.activation, attrs.leakyreluAlpha) : { act: 0, alpha: 0 };
    if (
      !isWasmHeapBackend(backend) ||
      x === undefined ||
      filter === undefined ||
      code === null ||
      attrs.dataFormat === 'NCHW' ||
      !allFloat(x, filter) ||
      x.shape.length !== 4
    ) {
      return fallback(args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const geom = convGeometry(info);
    if (geom === null || (bias !== undefined && !isChannelBias(bias, info.outChannels))) return fallback(args);
    if (util.sizeFromShape(info.outShape) === 0 || util.sizeFromShape(x.shape) === 0) return fallback(args);
    const out = backend.makeOutput(info.outShape, 'float32');
    addon.conv2d(
      heapBytes(backend),
      0,
      geom,
      heapOffset(backend, x),
      heapOffset(backend, filter),
      bias === undefined ? -1 : heapOffset(backend, bias),
      heapOffset(backend, out),
      code.act,
      code.alpha,
    );
    return out;
  };
}

/** Conv2DBackpropInput: dx from dy and the filter. */
export function makeConv2DBackpropInput(addon: NativeAddon, fallback: Fallback): KernelFunc {
  return (args) => {
    const { backend } = args;
    const { dy, filter } = args.inputs as NamedTensorInfoMap;
    const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
    if (
      !isWasmHeapBackend(backend) ||
      dy === undefined ||
      filter === undefined ||
      attrs.dataFormat === 'NCHW' ||
      !allFloat(dy, filter)
    ) {
      return fallback(args);
    }
    const info = backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const geom = convGeometry(info);
    if (geom === null || util.sizeFromShape(attrs.inputShape) === 0 || util.sizeFromShape(dy.shape) === 0) {
      return fallback(args);
    }
    const out = backend.makeOutput([...attrs.inputShape], 'float32');
    addon.conv2d(
      heapBytes(backend),
      1,
      geom,
      heapOffset(backend, dy),
      heapOffset(backend, filter),
      -1,
      heapOffset(backend, out),
      0,
      0,
    );
    return out;
  };
}

/** Conv2DBackpropFilter: dW from x and dy. */
export function makeConv2DBackpropFilter(addon: NativeAddon, fallback: Fallback): KernelFunc {
  return (args) => {
    const { backend } = args;
    const { x, dy } = args.inputs as NamedTensorInfoMap;
    const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
    if (!isWasmHeapBackend(backend) || x === undefined || dy === undefined || attrs.dataFormat === 'NCHW') {
      return fallback(args);
    }
    if (!allFloat(x, dy) || x.shape.length !== 4) return fallback(args);
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const geom = convGeometry(info);
    if (geom === null || util.sizeFromShape(x.shape) === 0 || util.sizeFromShape(dy.shape) === 0) {
      return fallback(args);
    }
    const out = backend.makeOutput([...attrs.filterShape], 'float32');
    addon.conv2d(
      heapBytes(backend),
      2,
      geom,
      heapOffset(backend, x),
      heapOffset(backend, dy),
      -1,
      heapOffset(backend, out),
      0,
      0,
    );
    return out;
  };
}
