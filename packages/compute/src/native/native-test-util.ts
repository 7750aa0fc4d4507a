import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

/** Test helpers for the native kernels: deterministic data, one kernel run on a backend, relative error. */

export interface InputSpec {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype?: 'float32' | 'int32';
}

/** Deterministic pseudo-random values in [-1, 1). */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export function spec(shape: number[], seed: number): InputSpec {
  return { data: values(tf.util.sizeFromShape(shape), seed), shape };
}

/** Runs one kernel on a backend from plain arrays; returns its output and how many buffers it left behind. */
export async function runKernelOn(
  backend: 'cpu' | 'wasm',
  kernel: string,
  inputs: Record<string, InputSpec>,
  attrs: Record<string, unknown>,
): Promise<{ data: Float32Array; shape: number[]; leaked: number }> {
  await tf.setBackend(backend);
  const ts = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.data, v.shape, v.dtype ?? 'float32')]),
  );
  const before = tf.engine().backend.numDataIds();
  const out = tf.engine().runKernel(kernel, ts, attrs as tf.NamedAttrMap) as tf.Tensor;
  const leaked = tf.engine().backend.numDataIds() - before - 1;
  const data = Float32Array.from((await out.data()) as Float32Array);
  const shape = out.shape;
  out.dispose();
  for (const t of Object.values(ts)) t.dispose();
  return { data, shape, leaked };
}

/** max |a - b| / max |b| (b is the reference). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    mag = Math.max(mag, Math.abs(b[i] as number));
  }
  return diff / Math.max(mag, 1e-6);
}
