import { parseRunSpec } from '@lorkd/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStudent, buildTeacher, getParams, type LorkdModel, setParams } from './model.js';
import { clipByGlobalNorm, createOptimizer, globalNorm, gradNormSquaredByGroup, learningRate } from './optimizer.js';
import { modelConfigsFromRunSpec } from './run-spec.js';
import { useCpuBackend } from './test-support.js';

beforeAll(useCpuBackend);

const tiny = (): LorkdModel =>
  buildStudent({
    family: 'resnet',
    inputShape: [4, 4, 1],
    width: 2,
    depth: 1,
    groupNormGroups: 1,
    regions: [
      { name: 'a', numClasses: 2, rank: 1 },
      { name: 'b', numClasses: 3, rank: 2 },
    ],
  });

function constantGrads(m: LorkdModel, v: number): Map<string, Float32Array> {
  return new Map(m.params.map((p) => [p.name, new Float32Array(p.size).fill(v)]));
}

describe('learningRate', () => {
  it('warms up linearly, then follows a cosine to minLrRatio', () => {
    const s = { kind: 'cosine' as const, warmupSteps: 4, minLrRatio: 0.1 };
    expect(learningRate(1, s, 0, 20)).toBeCloseTo(0.25);
    expect(learningRate(1, s, 3, 20)).toBeCloseTo(1);
    expect(learningRate(1, s, 4, 20)).toBeCloseTo(1);
    expect(learningRate(1, s, 19, 20)).toBeCloseTo(0.1);
    expect(learningRate(1, s, 50, 20)).toBeCloseTo(0.1);
    expect(learningRate(2, { kind: 'constant', warmupSteps: 0, minLrRatio: 0 }, 7, 20)).toBe(2);
  });
});

describe('optimizers', () => {
  it('SGD with momentum and AdamW take the textbook steps', () => {
    const m = tiny();
    const w0 = getParams(m).get('stem.conv.w0') as Float32Array;
    const sgd = createOptimizer({
      optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 },
      totalSteps: 10,
    });
    sgd.apply(m, constantGrads(m, 1), 0);
    sgd.apply(m, constantGrads(m, 1), 1);
    // buf1 = 1, buf2 = 1.9: w = w0 - 0.1 * (1 + 1.9)
    expect((getParams(m).get('stem.conv.w0') as Float32Array)[0]).toBeCloseTo((w0[0] as number) - 0.29, 6);
    const m2 = tiny();
    const start = (getParams(m2).get('stem.conv.w0') as Float32Array)[0] as number;
    const adam = createOptimizer({
      optimizer: { kind: 'adamw', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 },
      totalSteps: 10,
    });
    adam.apply(m2, constantGrads(m2, 0.5), 0);
    // bias-corrected first step moves by lr * (1 + wd * w)
    expect((getParams(m2).get('stem.conv.w0') as Float32Array)[0]).toBeCloseTo(start - 0.01 * (1 + 0.1 * start), 6);
    m.dispose();
    m2.dispose();
  });

  it('exports and imports its state so a resumed run continues identically', () => {
    const settings = {
      optimizer: { kind: 'adamw' as const, lr: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.01 },
      totalSteps: 5,
    };
    const a = tiny();
    const b = tiny();
    const oa = createOptimizer(settings);
    for (let i = 0; i < 3; i++) oa.apply(a, constantGrads(a, 0.1 * (i + 1)), i);
    const ob = createOptimizer(settings);
    for (let i = 0; i < 2; i++) ob.apply(b, constantGrads(b, 0.1 * (i + 1)), i);
    const resumed = createOptimizer(settings);
    resumed.setState(ob.getState());
    const c = tiny();
    setParams(c, getParams(b));
    resumed.apply(c, constantGrads(c, 0.3), 2);
    expect([...getParams(c)]).toEqual([...getParams(a)]);
    expect([...oa.getState().keys()].every((k) => k.startsWith('m:') || k.startsWith('v:'))).toBe(true);
    const bad = new Map([['m:stem.conv.w0', new Float32Array(1)]]);
    const wrong = createOptimizer(settings);
    wrong.setState(bad);
    expect(() => wrong.apply(c, constantGrads(c, 0), 3)).toThrow(/another model/);
    for (const m of [a, b, c]) m.dispose();
  });
});

describe('gradient clipping', () => {
  it('clips by the global norm, which per-group squared norms add up to', () => {
    const m = tiny();
    const g = constantGrads(m, 1);
    const norm = globalNorm(g);
    const groups = gradNormSquaredByGroup(m.params, g);
    expect([...groups.keys()].sort()).toEqual(['expert:a', 'expert:b', 'shared']);
    expect(Math.sqrt([...groups.values()].reduce((s, v) => s + v, 0))).toBeCloseTo(norm, 4);
    const clipped = clipByGlobalNorm(g, 1);
    expect(globalNorm(clipped.grads)).toBeCloseTo(1, 4);
    expect(clipByGlobalNorm(g, norm * 2).scale).toBe(1);
    expect(clipByGlobalNorm(g, 1, 4).scale).toBe(0.25);
    m.dispose();
  });
});

describe('parameters', () => {
  it('are listed in a stable order with sync groups (heads and experts per region)', () => {
    const m = tiny();
    const names = m.params.map((p) => `${p.name}:${p.group}`);
    expect(names).toContain('stem.conv.w0:shared');
    expect(names).toContain('stem.conv.a.b:expert:b');
    expect(names).toContain('head.a.kernel:expert:a');
    expect(tiny().params.map((p) => p.name)).toEqual(m.params.map((p) => p.name));
    expect(() => setParams(m, new Map([['nope', new Float32Array(1)]]))).toThrow(/unknown parameter 'nope'/);
    expect(() => setParams(m, new Map([['stem.conv.w0', new Float32Array(1)]]))).toThrow(/expected 18/);
    const t = buildTeacher({ ...m.config });
    expect(t.params.some((p) => p.role === 'expert-a')).toBe(false);
    m.dispose();
    t.dispose();
  });

  it('derive from a RunSpec', () => {
    const spec = parseRunSpec({
      apiVersion: 'lorkd/v1',
      name: 'demo',
      regions: [
        { name: 'brain', labels: ['a', 'b', 'c'], source: { kind: 'phantom' } },
        { name: 'thorax', labels: ['x', 'y'], source: { kind: 'phantom' }, rank: 8 },
      ],
      data: { imageSize: 28 },
      model: { width: 8, depth: 2 },
      teacher: { kind: 'train', width: 16, depth: 3 },
      training: { steps: 10, seed: 5 },
    });
    const { student, teacher } = modelConfigsFromRunSpec(spec);
    expect(student.regions).toEqual([
      { name: 'brain', numClasses: 3, rank: 4 },
      { name: 'thorax', numClasses: 2, rank: 8 },
    ]);
    expect(student).toMatchObject({
      family: 'resnet',
      inputShape: [28, 28, 1],
      width: 8,
      depth: 2,
      alpha: 16,
      seed: 5,
    });
    expect(teacher).toMatchObject({ width: 16, depth: 3 });
  });
});
