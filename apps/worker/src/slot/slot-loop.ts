import type { Logger } from '@lorkd/contracts';
import { type EngineSnapshot, type SlotEngine, sumOfSquares } from '../engine/engine.js';

/** A sync group this slot belongs to and its member ranks (ascending). */
export interface GroupMembers {
  readonly name: string;
  readonly ranks: readonly number[];
}

/** Sums `data` over `ranks` in fixed rank order; throws when a member is lost or the generation is superseded. */
export type AllReduce = (
  group: string,
  ranks: readonly number[],
  step: number,
  data: Float32Array,
) => Promise<Float32Array>;

export interface StepReport {
  /** Steps completed (the next step to run). */
  readonly step: number;
  readonly totalSteps: number;
  /** Global loss of the step (sum over shards). */
  readonly loss: number;
  readonly taskLoss: number;
  readonly kdLoss: number;
  /** Mean losses of each region's samples in this step (regions with samples only), by region name. */
  readonly regionLoss: ReadonlyMap<string, RegionLoss>;
  readonly samplesPerSec: number;
  readonly computeMs: number;
  readonly syncMs: number;
  /** Time spent in this step's collectives per sync group (ms); sums to at most `syncMs`. */
  readonly syncMsByGroup: ReadonlyMap<string, number>;
  readonly checkpointMs: number;
}

export interface RegionLoss {
  readonly loss: number;
  readonly taskLoss: number;
  readonly kdLoss: number;
}

export interface SlotLoopPorts {
  readonly engine: SlotEngine;
  readonly allReduce: AllReduce;
  /** Writes a checkpoint of the state after `step` steps (called on rank 0 only). */
  saveCheckpoint(step: number, snapshot: EngineSnapshot, metrics: Record<string, number>): Promise<void>;
  /**
   * The other ranks' copy of the same checkpoint step, while rank 0 writes it (they would wait for
   * rank 0 at the next collective anyway): kept in memory so that a restart on this worker reads only
   * the tensors it does not hold. Optional.
   */
  keepCheckpoint?(step: number, snapshot: EngineSnapshot): Promise<void>;
  onStep(report: StepReport): Promise<void>;
  /** True once this process was asked to stop (SIGTERM): the slots agree to stop after the current step. */
  stopRequested(): boolean;
  readonly logger: Logger;
}

export interface SlotLoopOptions {
  readonly rank: number;
  readonly worldSize: number;
  /** Every group this slot is a member of; must include `shared` with every rank. */
  readonly groups: readonly GroupMembers[];
  readonly fromStep: number;
  readonly totalSteps: number;
  readonly checkpointEvery: number;
  readonly gradClipNorm?: number;
}

export type SlotLoopOutcome =
  | { readonly outcome: 'finished'; readonly step: number }
  | { readonly outcome: 'preempted'; readonly step: number };

/**
 * Extra floats appended to the `shared` buffer: loss, task loss, KD loss, samples, stop votes, then
 * (task sum, KD sum, count) per region, so every rank learns each region's mean loss of the step.
 */
const TAIL = 5;

/** The regions of a layout, in order: the suffixes of its `expert:<region>` groups. */
function layoutRegions(layout: readonly { group: string }[]): string[] {
  return layout.filter((g) => g.group.startsWith('expert:')).map((g) => g.group.slice('expert:'.length));
}

function regionLosses(tail: Float32Array, regions: readonly string[]): Map<string, RegionLoss> {
  const out = new Map<string, RegionLoss>();
  regions.forEach((region, t) => {
    const [task = 0, kd = 0, count = 0] = tail.subarray(TAIL + 3 * t, TAIL + 3 * t + 3);
    if (count > 0) out.set(region, { loss: (task + kd) / count, taskLoss: task / count, kdLoss: kd / count });
  });
  return out;
}

/**
 * Collective sequence number of a step's sub-phase: a step may run several reductions on one group
 * (gradients, the clipping norm, the stop barrier), and each needs its own key.
 */
export function collectiveStep(step: number, phase: 'grads' | 'norm' | 'barrier'): number {
  return step * 4 + (phase === 'grads' ? 0 : phase === 'norm' ? 1 : 2);
}

/**
 * Trains one slot from `fromStep` to `totalSteps` in lockstep with the other slots:
 * per step, gradients of this slot's shard, one all-reduce per group (in layout order), optional
 * global-norm clipping, apply. The loss parts and a stop vote ride on the `shared` reduction, so all
 * slots learn at the same step that one of them was asked to stop; they then checkpoint (rank 0)
 * and end the generation together.
 */
export async function runSlotLoop(ports: SlotLoopPorts, options: SlotLoopOptions): Promise<SlotLoopOutcome> {
  const { engine, allReduce, logger } = ports;
  const { rank, fromStep, totalSteps, checkpointEvery } = options;
  const layout = await engine.layout();
  const regions = layoutRegions(layout);
  const tailLength = TAIL + 3 * regions.length;
  const members = new Map(options.groups.map((g) => [g.name, g.ranks]));
  const shared = members.get('shared');
  if (!shared || shared.length !== options.worldSize)
    throw new Error(`slot ${rank}: the 'shared' group must hold all ${options.worldSize} ranks`);
  if (rank !== 0 && layout.some((g) => members.has(g.group) && !members.get(g.group)?.includes(0)))
    throw new Error(`slot ${rank}: rank 0 must be a member of every group (it writes the checkpoints)`);

  for (let step = fromStep; step < totalSteps; step++) {
    const syncMsByGroup = new Map<string, number>();
    const reduce = async (group: string, ranks: readonly number[], seq: number, data: Float32Array) => {
      const started = performance.now();
      const out = await allReduce(group, ranks, seq, data);
      syncMsByGroup.set(group, (syncMsByGroup.get(group) ?? 0) + performance.now() - started);
      return out;
    };
    const t0 = performance.now();
    const local = await engine.gradients(step);
    const t1 = performance.now();
    const reduced = new Map<string, Float32Array>();
    let tail = new Float32Array(tailLength);
    for (const g of layout) {
      const ranks = members.get(g.group);
      const buf = local.grads.get(g.group) ?? new Float32Array(g.length);
      if (!ranks) {
        reduced.set(g.group, buf); // not ours: stale on this slot, never read or written by it
        continue;
      }
      if (g.group === 'shared') {
        const withTail = new Float32Array(g.length + tailLength);
        withTail.set(buf);
        withTail.set(
          [local.loss, local.taskLoss, local.kdLoss, local.samples, ports.stopRequested() ? 1 : 0],
          g.length,
        );
        if (local.regionLoss) withTail.set(local.regionLoss.subarray(0, 3 * regions.length), g.length + TAIL);
        const out = await reduce(g.group, ranks, collectiveStep(step, 'grads'), withTail);
        reduced.set(g.group, out.subarray(0, g.length));
        tail = out.slice(g.length);
      } else {
        reduced.set(
          g.group,
          ranks.length === 1 ? buf : await reduce(g.group, ranks, collectiveStep(step, 'grads'), buf),
        );
      }
    }
    let scale = 1;
    if (options.gradClipNorm !== undefined) {
      // Only rank 0 holds every group's reduced gradient: it computes the global norm and broadcasts it.
      let sq = 0;
      if (rank === 0) for (const g of layout) sq += sumOfSquares(reduced.get(g.group) as Float32Array);
      const norm = Math.sqrt(
        (
          await reduce('shared', shared, collectiveStep(step, 'norm'), new Float32Array([rank === 0 ? sq : 0]))
        )[0] as number,
      );
      if (norm > options.gradClipNorm) scale = options.gradClipNorm / norm;
    }
    const t2 = performance.now();
    await engine.apply(step, reduced, scale);
    const t3 = performance.now();

    const done = step + 1;
    const stop = (tail[4] ?? 0) > 0;
    let checkpointMs = 0;
    const atCheckpoint = done % checkpointEvery === 0 || done === totalSteps || stop;
    if (rank === 0 && atCheckpoint) {
      const snapshot = await engine.snapshot();
      await ports.saveCheckpoint(done, snapshot, { loss: tail[0] ?? 0 });
      checkpointMs = performance.now() - t3;
    } else if (atCheckpoint && done < totalSteps && ports.keepCheckpoint) {
      await ports.keepCheckpoint(done, await engine.snapshot());
      checkpointMs = performance.now() - t3;
    }
    const stepMs = performance.now() - t0;
    await ports.onStep({
      step: done,
      totalSteps,
      loss: tail[0] ?? 0,
      taskLoss: tail[1] ?? 0,
      kdLoss: tail[2] ?? 0,
      regionLoss: regionLosses(tail, regions),
      samplesPerSec: stepMs > 0 ? ((tail[3] ?? 0) * 1000) / stepMs : 0,
      computeMs: t1 - t0 + (t3 - t2),
      syncMs: t2 - t1,
      syncMsByGroup,
      checkpointMs,
    });
    if (stop && done < totalSteps) {
      // Barrier: nobody leaves before rank 0's checkpoint of this step is committed.
      await allReduce('shared', shared, collectiveStep(step, 'barrier'), new Float32Array(1));
      logger.info('stopping after this step: a slot was asked to stop', { step: done, rank });
      return { outcome: 'preempted', step: done };
    }
  }
  return { outcome: 'finished', step: totalSteps };
}
