import { beforeAll, describe, expect, it } from 'vitest';
import { logitOffsets } from './batch.js';
import type { ModelConfigInput } from './config.js';
import { predictLogits } from './inference.js';
import { buildStudent, type LorkdModel } from './model.js';
import { randomBatch, randomizeParams, relErr, useCpuBackend, useFastCpuFilterGrad } from './test-support.js';
import { computeGradients } from './train-step.js';

beforeAll(async () => {
  await useCpuBackend();
  await useFastCpuFilterGrad();
});

const regions = [
  { name: 'brain', numClasses: 3, rank: 2 },
  { name: 'thorax', numClasses: 2, rank: 3 },
  { name: 'pelvis', numClasses: 4, rank: 2 },
];

function student(family: 'resnet' | 'unet', over: Partial<ModelConfigInput> = {}): LorkdModel {
  const m = buildStudent({
    family,
    inputShape: [8, 8, 2],
    width: 4,
    depth: family === 'resnet' ? 3 : 2,
    groupNormGroups: 2,
    regions,
    alpha: 4,
    seed: 1,
    ...over,
  });
  randomizeParams(m, 11);
  return m;
}

const cases: [string, number[]][] = [
  ['mixed with an absent region', [1, 0, 1, 1, 0]],
  ['all regions interleaved', [2, 0, 1, 0, 2, 1]],
  ['batch 1', [2]],
];

describe.each(['resnet', 'unet'] as const)('%s student: EKS equals the naive per-region loop', (family) => {
  it.each(cases)('%s: outputs and all gradients (rel err <= 1e-5)', (_name, regs) => {
    const m = student(family);
    const batch = randomBatch(m, regs, 5);
    const teacher = new Float32Array(logitOffsets(m, batch.regions).at(-1) ?? 0).map((_, i) => Math.sin(i));
    const opts = { beta: 0.7, temperature: 2 };
    const ref = computeGradients(m, batch, teacher, { ...opts, strategy: 'naive' });
    const refLogits = predictLogits(m, batch.x, batch.regions, { strategy: 'naive' });
    for (const strategy of ['masked', 'split', 'auto'] as const) {
      const got = computeGradients(m, batch, teacher, { ...opts, strategy });
      expect(Math.abs(got.loss.total - ref.loss.total) / Math.abs(ref.loss.total)).toBeLessThan(1e-5);
      expect(relErr(predictLogits(m, batch.x, batch.regions, { strategy }), refLogits)).toBeLessThan(1e-5);
      for (const p of m.params) {
        const e = relErr(got.grads.get(p.name) ?? [], ref.grads.get(p.name) ?? []);
        expect(e, `${strategy} ${p.name}`).toBeLessThan(1e-5);
      }
    }
    m.dispose();
  });
});

describe('evaluate', () => {
  it('scores classification accuracy and segmentation pixel accuracy + Dice per region', async () => {
    const { evaluate, scoreLogits } = await import('./inference.js');
    const c = student('resnet');
    const batch = randomBatch(c, [0, 1, 1, 2], 3);
    const r = evaluate(c, batch);
    expect(r.regions.map((x) => x.count)).toEqual([1, 2, 1]);
    // logits that put all mass on the true label score 100%
    const perfect = new Float32Array(logitOffsets(c, batch.regions).at(-1) ?? 0);
    const off = logitOffsets(c, batch.regions);
    batch.labels.forEach((y, i) => {
      perfect[(off[i] as number) + y] = 5;
    });
    expect(scoreLogits(c, perfect, batch).meanAccuracy).toBe(1);
    const s = student('unet');
    const sb = randomBatch(s, [2, 0], 4);
    const e = evaluate(s, sb);
    expect(e.meanDice).toBeGreaterThanOrEqual(0);
    expect(e.meanDice).toBeLessThanOrEqual(1);
    expect(e.regions[1]?.count).toBe(0);
    c.dispose();
    s.dispose();
  });
});
