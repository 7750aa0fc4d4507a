import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { logitOffsets } from './batch.js';
import { ModelError } from './errors.js';
import { buildStudent, type LorkdModel } from './model.js';
import { randomBatch, randomizeParams, relErr, useCpuBackend, useFastCpuFilterGrad } from './test-support.js';
import { computeGradients } from './train-step.js';

beforeAll(async () => {
  await useCpuBackend();
  await useFastCpuFilterGrad();
});

function student(): LorkdModel {
  const m = buildStudent({
    family: 'resnet',
    inputShape: [8, 8, 1],
    width: 4,
    depth: 2,
    groupNormGroups: 2,
    regions: [
      { name: 'brain', numClasses: 3, rank: 2 },
      { name: 'thorax', numClasses: 2, rank: 2 },
      { name: 'pelvis', numClasses: 2, rank: 1 },
    ],
    alpha: 4,
    seed: 3,
  });
  randomizeParams(m, 7);
  return m;
}

function slice(b: { x: Float32Array; labels: Int32Array; regions: Int32Array }, from: number, to: number) {
  const per = b.x.length / b.regions.length;
  return { x: b.x.slice(from * per, to * per), labels: b.labels.slice(from, to), regions: b.regions.slice(from, to) };
}

describe('computeGradients', () => {
  it('gives experts and heads of absent regions exact zeros, and W0 gradient from every sample', () => {
    const m = student();
    const batch = randomBatch(m, [0, 0, 2, 0], 1);
    const { grads } = computeGradients(m, batch, undefined, { strategy: 'masked' });
    for (const p of m.params) {
      const g = grads.get(p.name) as Float32Array;
      const nonZero = g.some((v) => v !== 0);
      if (p.region === 1)
        expect(
          g.every((v) => v === 0),
          p.name,
        ).toBe(true);
      else if (p.role !== 'bias' && p.role !== 'head-bias') expect(nonZero, p.name).toBe(true);
    }
    // a batch of pelvis samples alone gives the other experts exactly zero too, whatever the strategy
    for (const strategy of ['masked', 'split', 'auto', 'naive'] as const) {
      const only = computeGradients(m, randomBatch(m, [2, 2], 4), undefined, { strategy }).grads;
      for (const p of m.params) {
        if (p.region !== undefined && p.region !== 2)
          expect(
            (only.get(p.name) as Float32Array).every((v) => v === 0),
            p.name,
          ).toBe(true);
      }
    }
    m.dispose();
  });

  it('sums per-shard gradients (normalised by the global batch) to the whole-batch gradient', () => {
    const m = student();
    const batch = randomBatch(m, [0, 1, 2, 1, 0, 0], 2);
    const teacher = new Float32Array(logitOffsets(m, batch.regions).at(-1) ?? 0).map((_, i) => Math.cos(i * 0.7));
    const off = logitOffsets(m, batch.regions);
    const opts = { beta: 0.5, temperature: 3, globalBatchSize: 6 };
    const whole = computeGradients(m, batch, teacher, opts);
    const parts = [
      [0, 2],
      [2, 3],
      [3, 6],
    ].map(([a, b]) =>
      computeGradients(
        m,
        slice(batch, a as number, b as number),
        teacher.slice(off[a as number], off[b as number]),
        opts,
      ),
    );
    const total = parts.reduce((s, p) => s + p.loss.total, 0);
    expect(Math.abs(total - whole.loss.total)).toBeLessThan(1e-5 * Math.abs(whole.loss.total));
    expect(Math.abs(parts.reduce((s, p) => s + p.loss.kd, 0) - whole.loss.kd)).toBeLessThan(1e-5);
    for (const p of m.params) {
      const sum = new Float32Array(p.size);
      for (const part of parts) {
        const g = part.grads.get(p.name) as Float32Array;
        for (let i = 0; i < g.length; i++) sum[i] = (sum[i] as number) + (g[i] as number);
      }
      expect(relErr(sum, whole.grads.get(p.name) as Float32Array), p.name).toBeLessThan(1e-5);
    }
    m.dispose();
  });

  it('reports per-region loss sums and counts that add up to the batch loss', () => {
    const m = student();
    const batch = randomBatch(m, [0, 2, 2, 0, 0, 2], 5);
    const teacher = new Float32Array(logitOffsets(m, batch.regions).at(-1) ?? 0).map((_, i) => Math.sin(i * 0.3));
    const { loss } = computeGradients(m, batch, teacher, { beta: 0.5, temperature: 2 });
    const by = loss.byRegion as Float32Array;
    expect(Array.from({ length: 3 }, (_, t) => by[3 * t + 2])).toEqual([3, 0, 3]);
    expect(by[3]).toBe(0); // thorax is absent: no loss
    const n = batch.regions.length;
    const task = (by[0] as number) + (by[6] as number);
    const kd = (by[1] as number) + (by[7] as number);
    expect(relErr(new Float32Array([task / n, kd / n]), new Float32Array([loss.task, loss.kd]))).toBeLessThan(1e-5);
    // shards' per-region sums add up to the whole batch's (what the runtime all-reduces)
    const opts = { beta: 0.5, temperature: 2, globalBatchSize: n };
    const a = computeGradients(m, slice(batch, 0, 3), teacher.slice(0, 7), opts).loss.byRegion as Float32Array;
    const b = computeGradients(m, slice(batch, 3, 6), teacher.slice(7), opts).loss.byRegion as Float32Array;
    expect(
      relErr(
        a.map((v, i) => v + (b[i] as number)),
        by,
      ),
    ).toBeLessThan(1e-5);
  });

  it('rejects bad batches with a clear error', () => {
    const m = student();
    const b = randomBatch(m, [0, 1], 1);
    expect(() => computeGradients(m, { ...b, regions: Int32Array.from([0, 5]) }, undefined)).toThrow(ModelError);
    expect(() => computeGradients(m, { ...b, regions: Int32Array.from([0, 5]) }, undefined)).toThrow(
      /regions\[1\] = 5/,
    );
    expect(() => computeGradients(m, { ...b, labels: Int32Array.from([0, 7]) }, undefined)).toThrow(/labels\[1\] = 7/);
    expect(() => computeGradients(m, { ...b, x: b.x.slice(1) }, undefined)).toThrow(/batch.x has/);
    expect(() => computeGradients(m, b, new Float32Array(3))).toThrow(/teacher logits/);
    expect(() => computeGradients(m, b, undefined, { globalBatchSize: 1 })).toThrow(/globalBatchSize/);
    const empty = { x: new Float32Array(0), labels: new Int32Array(0), regions: new Int32Array(0) };
    expect(() => computeGradients(m, empty, undefined)).toThrow(/empty/);
    const zero = computeGradients(m, empty, undefined, { globalBatchSize: 8 });
    expect(zero.loss.count).toBe(0);
    expect([...zero.grads.values()].every((g) => g.every((v) => v === 0))).toBe(true);
    m.dispose();
  });

  it('leaks no tensors over 100 training steps', async () => {
    const { createOptimizer } = await import('./optimizer.js');
    const m = buildStudent({
      family: 'resnet',
      inputShape: [4, 4, 1],
      width: 2,
      depth: 1,
      groupNormGroups: 1,
      regions: [
        { name: 'a', numClasses: 2, rank: 1 },
        { name: 'b', numClasses: 2, rank: 1 },
      ],
    });
    const opt = createOptimizer({
      optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 },
      totalSteps: 100,
    });
    const batch = randomBatch(m, [0, 1, 0], 9);
    const teacher = new Float32Array(logitOffsets(m, batch.regions).at(-1) ?? 0);
    const step = (i: number) =>
      opt.apply(m, computeGradients(m, batch, teacher, { strategy: i % 2 ? 'masked' : 'split' }).grads, i);
    step(0);
    const before = tf.memory().numTensors;
    for (let i = 1; i < 100; i++) step(i);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  }, 120_000);
});
