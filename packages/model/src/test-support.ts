import type { Batch } from './batch.js';
import { getParams, type LorkdModel, setParams } from './model.js';
import { Rng } from './rng.js';

/** max|a-b| / max|b|: the relative error used by the equality tests. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] as number) - (b[i] as number)));
    den = Math.max(den, Math.abs(b[i] as number));
  }
  return den === 0 ? num : num / den;
}

/** Sets every parameter (including the zero-initialised B factors) to seeded random values. */
export function randomizeParams(model: LorkdModel, seed: number, scale = 0.3): void {
  const rng = new Rng(seed);
  const next = new Map<string, Float32Array>();
  for (const [name, v] of getParams(model)) {
    const r = rng.uniform(v.length, scale);
    if (name.endsWith('.gamma')) for (let i = 0; i < r.length; i++) r[i] = 1 + (r[i] as number);
    next.set(name, r);
  }
  setParams(model, next);
}

/** A random batch for `model` with the given per-sample regions. */
export function randomBatch(model: LorkdModel, regions: number[], seed: number): Batch {
  const rng = new Rng(seed);
  const [h, w, c] = model.config.inputShape;
  const x = rng.uniform(regions.length * h * w * c, 1);
  const seg = model.arch.head === 'conv';
  const per = seg ? h * w : 1;
  const labels = new Int32Array(regions.length * per);
  regions.forEach((t, i) => {
    const classes = model.config.regions[t]?.numClasses ?? 2;
    for (let j = 0; j < per; j++) labels[i * per + j] = Math.floor(rng.next() * classes);
  });
  return { x, labels, regions: Int32Array.from(regions) };
}

/** Selects the pure-JS `cpu` backend for a test, without its "install tfjs-node" console warning. */
export async function useCpuBackend(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  tf.env().set('IS_TEST', true);
  await tf.setBackend('cpu');
}

/**
 * Tests only: replaces the `cpu` backend's Conv2DBackpropFilter (about 0.01 GFLOP/s, which makes even
 * 8x8 models take a second per step) with a direct loop. Checked against the stock kernel in eks.test.ts.
 */
export async function useFastCpuFilterGrad(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const kernel = tf.getKernel('Conv2DBackpropFilter', 'cpu');
  if (!kernel || (kernel as { fast?: boolean }).fast) return;
  tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  const config = {
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'cpu',
    fast: true,
    kernelFunc: ({
      inputs,
      attrs,
      backend,
    }: {
      inputs: Record<string, unknown>;
      attrs?: Record<string, unknown>;
      backend: unknown;
    }) => {
      const x = inputs.x as import('@tensorflow/tfjs-core').Tensor4D;
      const dy = inputs.dy as import('@tensorflow/tfjs-core').Tensor4D;
      const a = attrs as {
        strides: [number, number] | number;
        pad: 'same' | 'valid';
        filterShape: [number, number, number, number];
      };
      const info = tf.backend_util.computeConv2DInfo(
        x.shape,
        a.filterShape,
        a.strides,
        1,
        a.pad,
        undefined,
        false,
        'channelsLast',
      );
      const be = backend as {
        readSync(id: unknown): Float32Array;
        makeTensorInfo(s: number[], d: string, v: Float32Array): unknown;
      };
      const xv = be.readSync(x.dataId);
      const dv = be.readSync(dy.dataId);
      const [n, h, w, cin] = x.shape;
      const [, ho, wo, cout] = dy.shape;
      const [kh, kw] = a.filterShape;
      const out = new Float32Array(kh * kw * cin * cout);
      for (let b = 0; b < n; b++)
        for (let oy = 0; oy < ho; oy++)
          for (let ox = 0; ox < wo; ox++) {
            const dBase = ((b * ho + oy) * wo + ox) * cout;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * info.strideHeight + ky - info.padInfo.top;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * info.strideWidth + kx - info.padInfo.left;
                if (ix < 0 || ix >= w) continue;
                const xBase = ((b * h + iy) * w + ix) * cin;
                const oBase = (ky * kw + kx) * cin * cout;
                for (let ci = 0; ci < cin; ci++) {
                  const xval = xv[xBase + ci] as number;
                  if (xval === 0) continue;
                  const o = oBase + ci * cout;
                  for (let co = 0; co < cout; co++)
                    out[o + co] = (out[o + co] as number) + xval * (dv[dBase + co] as number);
                }
              }
            }
          }
      return be.makeTensorInfo(a.filterShape, 'float32', out);
    },
  };
  tf.registerKernel(config as unknown as import('@tensorflow/tfjs-core').KernelConfig);
}
