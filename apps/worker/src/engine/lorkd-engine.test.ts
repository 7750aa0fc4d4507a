import { selectBackend } from '@lorkd/compute';
import { parseRunSpec } from '@lorkd/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinySpecInput } from '../test-support.js';
import { LorkdEngine } from './lorkd-engine.js';

const spec = parseRunSpec(tinySpecInput());
const names = spec.regions.map((r) => r.name);
/** A student engine for a seat of the tiny spec. */
const student = (regions: string[], replica = 0, replicas = 1) =>
  LorkdEngine.create({ spec, stage: 'student', regions, replica, replicas });

describe('LorkdEngine', () => {
  beforeAll(async () => {
    await selectBackend({ preference: 'wasm' });
  });

  it('shard gradients over slots sum to the single-slot gradient', async () => {
    const whole = await student(names);
    const a = await student(['brain'], 0, 2);
    const b = await student(['brain'], 1, 2);
    const c = await student(['head-neck', 'pelvis']);
    try {
      const g = await whole.gradients(1);
      const parts = await Promise.all([a, b, c].map((e) => e.gradients(1)));
      expect(parts.reduce((s, p) => s + p.samples, 0)).toBe(g.samples);
      expect(parts.reduce((s, p) => s + p.loss, 0)).toBeCloseTo(g.loss, 5);
      const layout = await whole.layout();
      expect(layout[0]?.group).toBe('shared');
      for (const { group, length } of layout) {
        const want = g.grads.get(group) as Float32Array;
        expect(want.length).toBe(length);
        let maxAbs = 0;
        let maxErr = 0;
        for (let i = 0; i < length; i++) {
          const sum = parts.reduce((s, p) => s + ((p.grads.get(group) as Float32Array)[i] as number), 0);
          maxAbs = Math.max(maxAbs, Math.abs(want[i] as number));
          maxErr = Math.max(maxErr, Math.abs(sum - (want[i] as number)));
        }
        expect(maxErr).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs));
      }
      // experts of regions a slot does not host get exact zeros
      const other = parts[2]?.grads.get('expert:brain') ?? new Float32Array([1]);
      expect(other.every((v) => v === 0)).toBe(true);
    } finally {
      for (const e of [whole, a, b, c]) await e.close();
    }
  });

  it('a re-seated engine computes exactly what an engine built for that seat does', async () => {
    const moved = await student(['brain'], 0, 2);
    const built = await student(['head-neck', 'pelvis']);
    try {
      const before = await moved.gradients(2);
      await moved.reseat({ regions: ['head-neck', 'pelvis'], replica: 0, replicas: 1 });
      const [got, want] = await Promise.all([moved.gradients(2), built.gradients(2)]);
      expect(got.samples).toBe(want.samples);
      expect(got.loss).toBe(want.loss);
      for (const [group, g] of want.grads) expect(got.grads.get(group)).toEqual(g);
      expect(got.loss).not.toBe(before.loss);
      await expect(moved.reseat({ regions: ['nowhere'], replica: 0, replicas: 1 })).rejects.toThrow(/unknown region/);
    } finally {
      await moved.close();
      await built.close();
    }
  });

  it('snapshot/restore round-trips parameters and optimiser state', async () => {
    const e = await LorkdEngine.create({ spec, stage: 'teacher', regions: names, replica: 0, replicas: 1 });
    try {
      const g = await e.gradients(0);
      await e.apply(0, g.grads, 1);
      const snap = await e.snapshot();
      expect(snap.step).toBe(1);
      expect(snap.optimizer.size).toBeGreaterThan(0);
      const g2 = await e.gradients(1);
      await e.apply(1, g2.grads, 1);
      await e.restore(snap);
      const again = await e.snapshot();
      for (const [k, v] of snap.params) expect(again.params.get(k)).toEqual(v);
    } finally {
      await e.close();
    }
  });
});
