import type { TensorInfo } from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';

/** The addon's activation code for a tfjs fused activation, or null for ones it does not fuse (prelu). */
export function activationCode(
  activation: string | undefined,
  leakyreluAlpha: number | undefined,
): { act: number; alpha: number } | null {
  switch (activation ?? 'linear') {
    case 'linear':
      return { act: 0, alpha: 0 };
    case 'relu':
      return { act: 1, alpha: 0 };
    case 'leakyrelu':
      return { act: 1, alpha: leakyreluAlpha ?? 0.2 };
    case 'relu6':
      return { act: 2, alpha: 0 };
    case 'elu':
      return { act: 3, alpha: 0 };
    case 'sigmoid':
      return { act: 4, alpha: 0 };
    default:
      return null;
  }
}

/** True when `bias` is a float32 vector of `channels` values (shape [C] or [1, ..., 1, C]). */
export function isChannelBias(bias: TensorInfo, channels: number): boolean {
  if (bias.dtype !== 'float32' || util.sizeFromShape(bias.shape) !== channels) return false;
  const last = bias.shape[bias.shape.length - 1];
  return bias.shape.length === 0 ? channels === 1 : last === channels;
}
