import { silentLogger } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import type { EngineSnapshot, GroupLayout, SlotEngine, StepGradients } from '../engine/engine.js';
import { type AllReduce, type GroupMembers, runSlotLoop } from './slot-loop.js';

/**
 * A small least-squares model that obeys the runtime's contract (loss normalised by the global batch):
 * prediction = w·x + b[region]; `w` is shared, `b[region]` is the region's expert.
 * Enough to test the loop's sync, stop and checkpoint logic without tfjs.
 */
class LinearEngine implements SlotEngine {
  w = new Float64Array([0.1, -0.2]);
  b: Record<string, number> = { a: 0, b: 0, c: 0 };
  mW = new Float64Array(2);
  applied = 0;
  constructor(
    private readonly shares: Array<{ region: string; from: number; to: number }>,
    private readonly batch = 4,
  ) {}
  sample(region: string, step: number, i: number): { x: [number, number]; y: number } {
    const r = region.charCodeAt(0);
    const x: [number, number] = [Math.sin(step * 7 + i * 3 + r), Math.cos(step * 5 + i + r * 2)];
    return { x, y: 2 * x[0] - x[1] + (r % 3) };
  }
  async layout(): Promise<readonly GroupLayout[]> {
    return [
      { group: 'shared', names: ['w'], sizes: [2], length: 2 },
      ...['a', 'b', 'c'].map((r) => ({ group: `expert:${r}`, names: [`b.${r}`], sizes: [1], length: 1 })),
    ];
  }
  async gradients(step: number): Promise<StepGradients> {
    const global = 3 * this.batch;
    const gw = new Float32Array(2);
    const gb: Record<string, Float32Array> = { a: new Float32Array(1), b: new Float32Array(1), c: new Float32Array(1) };
    let loss = 0;
    let samples = 0;
    const regionLoss = new Float32Array(9);
    for (const s of this.shares) {
      const t = ['a', 'b', 'c'].indexOf(s.region);
      for (let i = s.from; i < s.to; i++) {
        const { x, y } = this.sample(s.region, step, i);
        const err = (this.w[0] as number) * x[0] + (this.w[1] as number) * x[1] + (this.b[s.region] as number) - y;
        loss += (err * err) / global;
        regionLoss[3 * t] = (regionLoss[3 * t] as number) + err * err;
        regionLoss[3 * t + 2] = (regionLoss[3 * t + 2] as number) + 1;
        gw[0] = (gw[0] as number) + (2 * err * x[0]) / global;
        gw[1] = (gw[1] as number) + (2 * err * x[1]) / global;
        const g = gb[s.region] as Float32Array;
        g[0] = (g[0] as number) + (2 * err) / global;
        samples++;
      }
    }
    const grads = new Map<string, Float32Array>([['shared', gw]]);
    for (const r of ['a', 'b', 'c']) grads.set(`expert:${r}`, gb[r] as Float32Array);
    return { grads, loss, taskLoss: loss, kdLoss: 0, samples, regionLoss };
  }
  async apply(_step: number, grads: Map<string, Float32Array>, scale: number): Promise<void> {
    const lr = 0.1;
    const gw = grads.get('shared') as Float32Array;
    for (let k = 0; k < 2; k++) {
      this.mW[k] = 0.9 * (this.mW[k] as number) + (gw[k] as number) * scale;
      this.w[k] = (this.w[k] as number) - lr * (this.mW[k] as number);
    }
    for (const r of ['a', 'b', 'c'])
      this.b[r] = (this.b[r] as number) - lr * ((grads.get(`expert:${r}`) as Float32Array)[0] as number) * scale;
    this.applied++;
  }
  async snapshot(): Promise<EngineSnapshot> {
    return {
      params: new Map([
        ['w', Float32Array.from(this.w)],
        ['b', Float32Array.from(['a', 'b', 'c'].map((r) => this.b[r] as number))],
      ]),
      optimizer: new Map([['mW', Float32Array.from(this.mW)]]),
      step: this.applied,
    };
  }
  async restore(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Sums contributions of `ranks` in rank order once all have arrived; one AllReduce per rank. */
function memoryAllReduce(): (rank: number) => AllReduce {
  const pending = new Map<string, { parts: Map<number, Float32Array>; waiters: Array<(v: Float32Array) => void> }>();
  return (rank) => async (group, ranks, step, data) => {
    const id = `${group}/${step}`;
    let entry = pending.get(id);
    if (!entry) {
      entry = { parts: new Map(), waiters: [] };
      pending.set(id, entry);
    }
    entry.parts.set(rank, data);
    const done = new Promise<Float32Array>((resolve) => entry.waiters.push(resolve));
    if (entry.parts.size === ranks.length) {
      const sum = new Float32Array(data.length);
      for (const r of ranks) {
        const part = entry.parts.get(r) as Float32Array;
        for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (part[i] as number);
      }
      pending.delete(id);
      for (const w of entry.waiters) w(sum.slice());
    }
    return done;
  };
}

type Shares = Array<{ region: string; from: number; to: number }>;

async function train(
  slots: Shares[],
  groups: GroupMembers[][],
  opts: { stopAt?: { rank: number; step: number } } = {},
) {
  const allReduce = memoryAllReduce();
  const engines = slots.map((s) => new LinearEngine(s));
  const checkpoints: number[] = [];
  let snapshot: EngineSnapshot | undefined;
  const saved = new Map<number, EngineSnapshot>();
  const kept: Array<{ rank: number; step: number; snapshot: EngineSnapshot }> = [];
  const syncGroups = slots.map(() => new Set<string>());
  const regionLoss = slots.map(() => new Map<string, number>());
  const outcomes = await Promise.all(
    engines.map((engine, rank) => {
      let at = 0;
      return runSlotLoop(
        {
          engine,
          allReduce: allReduce(rank),
          logger: silentLogger,
          async saveCheckpoint(step, snap) {
            checkpoints.push(step);
            snapshot = snap;
            saved.set(step, snap);
          },
          async keepCheckpoint(step, snap) {
            kept.push({ rank, step, snapshot: snap });
          },
          async onStep(r) {
            at = r.step;
            for (const [region, l] of r.regionLoss) regionLoss[rank]?.set(`${r.step}:${region}`, l.taskLoss);
            for (const [group, ms] of r.syncMsByGroup) {
              expect(ms).toBeGreaterThanOrEqual(0);
              syncGroups[rank]?.add(group);
            }
          },
          stopRequested: () => opts.stopAt?.rank === rank && at >= opts.stopAt.step,
        },
        {
          rank,
          worldSize: slots.length,
          groups: groups[rank] as GroupMembers[],
          fromStep: 0,
          totalSteps: 10,
          checkpointEvery: 4,
          gradClipNorm: 0.5,
        },
      );
    }),
  );
  return {
    outcomes,
    checkpoints,
    snapshot: snapshot as EngineSnapshot,
    saved,
    kept,
    engines,
    syncGroups,
    regionLoss,
  };
}

const full = (region: string) => ({ region, from: 0, to: 4 });

describe('runSlotLoop', () => {
  it('gives the same parameters on 1 slot and on 3 slots with a replicated region', async () => {
    const one = await train(
      [[full('a'), full('b'), full('c')]],
      [[{ name: 'shared', ranks: [0] }, ...['a', 'b', 'c'].map((r) => ({ name: `expert:${r}`, ranks: [0] }))]],
    );
    const shared = { name: 'shared', ranks: [0, 1, 2] };
    const three = await train(
      [[full('a'), { region: 'b', from: 0, to: 2 }], [{ region: 'b', from: 2, to: 4 }], [full('c')]],
      [
        [
          shared,
          { name: 'expert:a', ranks: [0] },
          { name: 'expert:b', ranks: [0, 1] },
          { name: 'expert:c', ranks: [0, 2] },
        ],
        [shared, { name: 'expert:b', ranks: [0, 1] }],
        [shared, { name: 'expert:c', ranks: [0, 2] }],
      ],
    );
    expect(one.outcomes).toEqual([{ outcome: 'finished', step: 10 }]);
    expect(three.outcomes.every((o) => o.outcome === 'finished')).toBe(true);
    // collective time is reported per group each slot reduces (a 1-member expert group needs none)
    expect(one.syncGroups.map((g) => [...g].sort())).toEqual([['shared']]);
    expect(three.syncGroups.map((g) => [...g].sort())).toEqual([
      ['expert:b', 'expert:c', 'shared'],
      ['expert:b', 'shared'],
      ['expert:c', 'shared'],
    ]);
    expect(one.checkpoints).toEqual([4, 8, 10]);
    expect(three.checkpoints).toEqual([4, 8, 10]);
    // the other ranks keep their copy of each checkpoint step but the last (nothing restarts after it);
    // the parameters they share with rank 0 are bit-identical to what rank 0 wrote
    expect(one.kept).toEqual([]);
    expect(three.kept.map((k) => `${k.rank}@${k.step}`).sort()).toEqual(['1@4', '1@8', '2@4', '2@8']);
    for (const k of three.kept) expect(k.snapshot.params.get('w')).toEqual(three.saved.get(k.step)?.params.get('w'));
    const p1 = one.snapshot.params;
    const p3 = three.snapshot.params;
    for (const name of ['w', 'b']) {
      const a = p1.get(name) as Float32Array;
      const b = p3.get(name) as Float32Array;
      for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i] as number, 5);
    }
    // every slot reports each region's own mean loss, the same as one slot computes
    const ref = one.regionLoss[0] as Map<string, number>;
    expect(ref.size).toBe(30);
    expect(ref.get('10:a')).not.toBeCloseTo(ref.get('10:c') as number, 3);
    for (const seen of three.regionLoss) for (const [key, v] of ref) expect(seen.get(key), key).toBeCloseTo(v, 5);
    // training did something
    expect(Math.abs(((p1.get('w') as Float32Array)[0] as number) - 0.1)).toBeGreaterThan(0.05);
  });

  it('stops every slot at the same step when one is asked to, with a checkpoint of that step', async () => {
    const shared = { name: 'shared', ranks: [0, 1] };
    const res = await train(
      [[full('a'), full('b')], [full('c')]],
      [
        [
          shared,
          { name: 'expert:a', ranks: [0] },
          { name: 'expert:b', ranks: [0] },
          { name: 'expert:c', ranks: [0, 1] },
        ],
        [shared, { name: 'expert:c', ranks: [0, 1] }],
      ],
      { stopAt: { rank: 1, step: 5 } },
    );
    expect(res.outcomes).toEqual([
      { outcome: 'preempted', step: 6 },
      { outcome: 'preempted', step: 6 },
    ]);
    expect(res.checkpoints).toEqual([4, 6]);
    expect(res.snapshot.step).toBe(6);
  });

  it('refuses a plan where rank 0 is not in one of its groups', async () => {
    await expect(
      runSlotLoop(
        {
          engine: new LinearEngine([full('c')]),
          allReduce: memoryAllReduce()(1),
          logger: silentLogger,
          saveCheckpoint: async () => {},
          onStep: async () => {},
          stopRequested: () => false,
        },
        {
          rank: 1,
          worldSize: 2,
          groups: [
            { name: 'shared', ranks: [0, 1] },
            { name: 'expert:c', ranks: [1] },
          ],
          fromStep: 0,
          totalSteps: 1,
          checkpointEvery: 1,
        },
      ),
    ).rejects.toThrow(/rank 0 must be a member/);
  });
});
