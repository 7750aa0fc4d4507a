import { backend_util } from '@tensorflow/tfjs-core';

/** Padding as tfjs ops accept it for 2D convs. */
export type Conv2DPad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

/** The spatial geometry of an NHWC 2D convolution, with the padding resolved to numbers. */
export interface ConvGeometry {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly inChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly outChannels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  readonly padTop: number;
  readonly padLeft: number;
}

export function convGeometry(
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  pad: Conv2DPad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): ConvGeometry {
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Splits a wanted (possibly negative) leading/trailing padding of one axis into a crop (slice) and a
 * non-negative padding: `begin`/`size` select the kept part of an axis of length `len`, `pad` is added after.
 */
export function cropThenPad(
  len: number,
  before: number,
  after: number,
): { begin: number; size: number; pad: [number, number] } {
  const cropBefore = Math.max(0, -before);
  const cropAfter = Math.max(0, -after);
  return { begin: cropBefore, size: len - cropBefore - cropAfter, pad: [Math.max(0, before), Math.max(0, after)] };
}
