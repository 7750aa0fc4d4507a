import { selectBackend } from '@lorkd/compute';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  chooseStrategy,
  type EksStrategy,
  type ExpertConvWeights,
  eksConv2d,
  MASKED_MAX_RANK_FRACTION,
  naiveConv2d,
  sortByRegion,
} from './eks.js';
import { ExpertConv2D } from './expert-conv2d.js';
import { Rng } from './rng.js';
import { relErr, useCpuBackend, useFastCpuFilterGrad } from './test-support.js';

beforeAll(useCpuBackend);

function weights(cin: number, cout: number, k: number, ranks: number[], seed: number): ExpertConvWeights {
  const rng = new Rng(seed);
  const v = (shape: number[]) =>
    tf.variable(
      tf.tensor(
        rng.uniform(
          shape.reduce((a, b) => a * b, 1),
          0.5,
        ),
        shape,
      ),
    );
  return {
    w0: v([k, k, cin, cout]) as unknown as tf.Tensor4D,
    bias: v([cout]) as unknown as tf.Tensor1D,
    a: ranks.map((r) => (r ? (v([k, k, cin, r]) as unknown as tf.Tensor4D) : null)),
    b: ranks.map((r) => (r ? (v([r, cout]) as unknown as tf.Tensor2D) : null)),
    scales: ranks.map((r) => (r ? 4 / r : 0)),
  };
}

function gradsOf(w: ExpertConvWeights, x: tf.Tensor4D, f: (x: tf.Tensor4D) => tf.Tensor): Float32Array[] {
  const vars = [w.w0, w.bias, ...w.a, ...w.b].filter((t) => t !== null) as unknown as tf.Variable[];
  const dy = tf.tidy(() => tf.sin(tf.reshape(tf.range(0, f(x).size), f(x).shape)));
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(f(x), dy)), vars);
  const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx as tf.Tensor4D), dy)))(x);
  const out = vars.map((v) =>
    grads[v.name] ? Float32Array.from((grads[v.name] as tf.Tensor).dataSync()) : new Float32Array(v.size),
  );
  out.push(Float32Array.from(dx.dataSync()));
  tf.dispose([dy, dx, ...Object.values(grads)]);
  return out as Float32Array[];
}

describe('eksConv2d', () => {
  const cases: [string, number[], number][] = [
    ['mixed batch, region 1 absent, stride 1', [0, 2, 0, 3, 2, 2], 1],
    ['all regions, stride 2', [3, 1, 0, 2, 1], 2],
    ['batch 1', [2], 1],
  ];
  it.each(cases)('%s: every strategy equals the naive loop in output and all gradients', (_n, regions, stride) => {
    const w = weights(3, 5, 3, [2, 1, 3, 0], 1);
    const { perm, layout } = sortByRegion(regions, 4);
    expect(Array.from(perm).map((p) => regions[p])).toEqual([...regions].sort());
    const x = tf.tensor4d(new Rng(2).uniform(regions.length * 6 * 6 * 3, 1), [regions.length, 6, 6, 3]);
    const naive = (xx: tf.Tensor4D) => naiveConv2d(xx, w, layout, stride);
    const refY = tf.tidy(() => naive(x).dataSync().slice());
    const refG = gradsOf(w, x, naive);
    for (const s of ['masked', 'split', 'auto'] as EksStrategy[]) {
      const f = (xx: tf.Tensor4D) => eksConv2d(xx, w, layout, stride, s);
      expect(
        relErr(
          tf.tidy(() => f(x).dataSync().slice()),
          refY,
        ),
        s,
      ).toBeLessThan(1e-5);
      gradsOf(w, x, f).forEach((g, i) => {
        expect(relErr(g, refG[i] as Float32Array), `${s} grad ${i}`).toBeLessThan(1e-5);
      });
    }
    // expert 1 is absent and expert 3 has no factors: exact zeros
    expect((refG[3] as Float32Array).every((v) => v === 0) || regions.includes(1)).toBe(true);
  });
});

describe('eksConv2d on the default backend (wasm, or wasm + native kernels)', () => {
  it('every strategy equals the naive loop in output and all gradients', async () => {
    // the split path copies row groups straight from the wasm heap there, not through tf.slice
    await selectBackend({ preference: 'auto' });
    // IS_TEST turns on tfjs's per-kernel data-id leak heuristic; on stock wasm (no native addon) the copies
    // tfjs itself makes of a custom op's saved inputs (its Identity kernel copies) count as 2 "leaked" ids.
    // Tensor leaks are checked by counting tensors over training steps instead (train-step.test.ts).
    tf.env().set('IS_TEST', false);
    try {
      expect(tf.getBackend()).toBe('wasm');
      const regions = [0, 2, 0, 3, 2, 2, 0];
      const w = weights(4, 6, 3, [2, 1, 3, 0], 11);
      const { layout } = sortByRegion(regions, 4);
      const x = tf.tensor4d(new Rng(12).uniform(regions.length * 7 * 7 * 4, 1), [regions.length, 7, 7, 4]);
      for (const stride of [1, 2]) {
        const naive = (xx: tf.Tensor4D) => naiveConv2d(xx, w, layout, stride);
        const refY = tf.tidy(() => naive(x).dataSync().slice());
        const refG = gradsOf(w, x, naive);
        for (const s of ['masked', 'split'] as EksStrategy[]) {
          const f = (xx: tf.Tensor4D) => eksConv2d(xx, w, layout, stride, s);
          expect(
            relErr(
              tf.tidy(() => f(x).dataSync().slice()),
              refY,
            ),
            s,
          ).toBeLessThan(1e-5);
          gradsOf(w, x, f).forEach((g, i) => {
            expect(relErr(g, refG[i] as Float32Array), `${s} stride ${stride} grad ${i}`).toBeLessThan(1e-5);
          });
        }
        // region 1 is absent: its factors (grads 3 = A_1, 6 = B_1) get exact zeros from split
        const split = gradsOf(w, x, (xx) => eksConv2d(xx, w, layout, stride, 'split'));
        expect(split[3]?.every((v) => v === 0)).toBe(true);
        expect(split[6]?.every((v) => v === 0)).toBe(true);
      }
      tf.dispose([x, w.w0, w.bias, ...w.a, ...w.b].filter((t) => t !== null) as tf.Tensor[]);
    } finally {
      tf.env().set('IS_TEST', true);
      await tf.setBackend('cpu');
    }
  }, 60_000);
});

describe('chooseStrategy (auto)', () => {
  it('picks split for one region or a large rank sum, masked only while the rank sum is a small part of Cout', () => {
    const cout = 64;
    const small = cout * MASKED_MAX_RANK_FRACTION; // 4: two regions of rank 2 fit exactly
    const w = weights(2, cout, 1, [2, 2, 3, 0], 3);
    const pick = (regions: number[]) => chooseStrategy(w, sortByRegion(regions, 4).layout);
    expect(small).toBe(4);
    expect(pick([0, 1, 0, 1])).toBe('masked');
    expect(pick([0, 3, 1])).toBe('masked'); // region 3 has no expert: no ranks to pay for
    expect(pick([0, 1, 2])).toBe('split');
    expect(pick([2, 2])).toBe('split');
    tf.dispose([w.w0, w.bias, ...w.a, ...w.b].filter((t) => t !== null) as tf.Tensor[]);
  });
});

describe('ExpertConv2D layer', () => {
  it('applies to [x, one-hot regions] like the EKS ops, and round-trips its config', () => {
    const layer = new ExpertConv2D({
      filters: 4,
      kernelSize: 3,
      regions: [
        { name: 'a', rank: 2 },
        { name: 'b', rank: 1 },
      ],
      alpha: 8,
      seed: 3,
    });
    const regions = Int32Array.from([1, 0, 1]);
    const x = tf.tensor4d(new Rng(5).uniform(3 * 5 * 5 * 2, 1), [3, 5, 5, 2]);
    const onehot = tf.oneHot(tf.tensor1d(regions, 'int32'), 2);
    const y0 = layer.apply([x, onehot]) as tf.Tensor;
    expect(y0.shape).toEqual([3, 5, 5, 4]);
    // B starts at zero: give it values so the expert path matters
    layer.setWeights(layer.getWeights().map((w, i) => (i >= 4 ? tf.randomUniform(w.shape, -1, 1, 'float32', i) : w)));
    const y = (layer.apply([x, onehot]) as tf.Tensor).dataSync();
    for (const s of ['masked', 'split'] as const)
      expect(relErr(layer.eks(x, regions, s).dataSync(), y)).toBeLessThan(1e-5);
    // an already sorted batch takes the no-gather path
    const sortedRegions = Int32Array.from([0, 1, 1]);
    const ySorted = (layer.apply([x, tf.oneHot(tf.tensor1d(sortedRegions, 'int32'), 2)]) as tf.Tensor).dataSync();
    expect(relErr(layer.eks(x, sortedRegions, 'split').dataSync(), ySorted)).toBeLessThan(1e-5);
    const copy = ExpertConv2D.fromConfig(ExpertConv2D, layer.getConfig()) as ExpertConv2D;
    expect(copy.getConfig()).toEqual(layer.getConfig());
    expect(copy.computeOutputShape([null, 5, 5, 2])).toEqual([null, 5, 5, 4]);
    expect(() => new ExpertConv2D({ filters: 4, kernelSize: 3, regions: [] })).toThrow(/at least one region/);
  });
});

describe('test support', () => {
  it('the fast cpu Conv2DBackpropFilter matches the stock kernel', async () => {
    const x = tf.tensor4d(new Rng(9).uniform(2 * 7 * 7 * 3, 1), [2, 7, 7, 3]);
    const dy2 = tf.tensor4d(new Rng(8).uniform(2 * 4 * 4 * 5, 1), [2, 4, 4, 5]);
    const dy1 = tf.tensor4d(new Rng(7).uniform(2 * 7 * 7 * 5, 1), [2, 7, 7, 5]);
    const dW = (k: number, dy: tf.Tensor4D, stride: number, pad: 'same' | 'valid') =>
      tf.tidy(() => {
        const f = tf.zeros([k, k, 3, 5]) as tf.Tensor4D;
        return tf
          .grad((ff: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ff as tf.Tensor4D, stride, pad), dy)))(f)
          .dataSync()
          .slice();
      });
    const run = () => [dW(3, dy2, 2, 'same'), dW(3, dy1, 1, 'same'), dW(1, dy2, 2, 'same'), dW(1, dy1, 1, 'valid')];
    const stock = run();
    await useFastCpuFilterGrad();
    run().forEach((g, i) => {
      expect(relErr(g, stock[i] as Float32Array)).toBeLessThan(1e-6);
    });
  });
});
