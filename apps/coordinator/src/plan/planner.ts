import { ValidationError } from '@lorkd/contracts';

/** One region's share of one slot: which replica of the region the slot is, out of how many. */
export interface RegionShare {
  readonly region: string;
  /** 0-based replica index of this slot among the slots hosting `region`. */
  readonly replica: number;
  /** How many slots host `region`. */
  readonly replicas: number;
  /** Half-open range of the region's per-step samples (0..batchPerRegion) this slot computes. */
  readonly from: number;
  readonly to: number;
}

/** What one slot (one worker seat, rank `slot`) trains. */
export interface SlotAssignment {
  readonly slot: number;
  readonly shares: readonly RegionShare[];
}

/** The plan of one run: W slots, their regions, and the sync groups (param group → ranks, ascending). */
export interface SlotPlan {
  readonly worldSize: number;
  readonly slots: readonly SlotAssignment[];
  /** `shared` → every rank; `expert:<region>` → the ranks hosting the region, plus rank 0 (the keeper). */
  readonly groups: Readonly<Record<string, readonly number[]>>;
  /** Human-readable notes on how the request was adjusted (e.g. more slots than samples). */
  readonly notes: readonly string[];
}

export interface PlanInput {
  readonly regions: readonly string[];
  readonly workers: number;
  readonly batchPerRegion: number;
}

/** Splits `n` items into `parts` contiguous chunks whose sizes differ by at most one (larger first). */
export function splitEven(n: number, parts: number): Array<[number, number]> {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  const out: Array<[number, number]> = [];
  let at = 0;
  for (let i = 0; i < parts; i++) {
    const size = base + (i < extra ? 1 : 0);
    out.push([at, at + size]);
    at += size;
  }
  return out;
}

/**
 * Assigns regions to W slots.
 * - W ≤ regions: each slot hosts a contiguous block of regions (sizes differ by ≤ 1) and trains them
 *   with EKS on its mixed batch.
 * - W > regions: each region gets ⌊W/R⌋ or ⌈W/R⌉ replicas; each replica computes a contiguous
 *   part of that region's per-step samples. W is capped at regions × batchPerRegion (no empty slots).
 * Rank 0 is added to every expert group as the keeper, so it always holds the complete,
 * up-to-date parameters and optimiser state and can write checkpoints alone.
 */
export function planSlots(input: PlanInput): SlotPlan {
  const { regions, batchPerRegion } = input;
  const issues = [];
  if (regions.length === 0) issues.push({ path: 'regions', message: 'a run needs at least one region' });
  if (new Set(regions).size !== regions.length)
    issues.push({ path: 'regions', message: 'region names must be unique' });
  if (!Number.isInteger(input.workers) || input.workers < 1)
    issues.push({ path: 'cluster.workers', message: 'must be an integer ≥ 1' });
  if (!Number.isInteger(batchPerRegion) || batchPerRegion < 1)
    issues.push({ path: 'training.batchPerRegion', message: 'must be an integer ≥ 1' });
  if (issues.length > 0) throw new ValidationError('slot plan', issues);

  const notes: string[] = [];
  const cap = regions.length * batchPerRegion;
  let world = input.workers;
  if (world > cap) {
    notes.push(
      `asked for ${world} workers but ${regions.length} regions × ${batchPerRegion} samples per step keep at most ${cap} busy; using ${cap}`,
    );
    world = cap;
  }

  const slots: SlotAssignment[] = [];
  if (world <= regions.length) {
    for (const [slot, [from, to]] of splitEven(regions.length, world).entries()) {
      slots.push({
        slot,
        shares: regions.slice(from, to).map((region) => ({
          region,
          replica: 0,
          replicas: 1,
          from: 0,
          to: batchPerRegion,
        })),
      });
    }
  } else {
    let slot = 0;
    for (const [r, [from, to]] of splitEven(world, regions.length).entries()) {
      const region = regions[r] as string;
      const replicas = to - from;
      for (const [replica, [a, b]] of splitEven(batchPerRegion, replicas).entries()) {
        slots.push({ slot, shares: [{ region, replica, replicas, from: a, to: b }] });
        slot++;
      }
    }
  }

  const groups: Record<string, number[]> = { shared: slots.map((s) => s.slot) };
  for (const region of regions) {
    const ranks = new Set<number>([0]);
    for (const s of slots) if (s.shares.some((sh) => sh.region === region)) ranks.add(s.slot);
    groups[`expert:${region}`] = [...ranks].sort((a, b) => a - b);
  }
  return { worldSize: world, slots, groups, notes };
}

/** The ranks that take part in a param group (unknown groups sync across all ranks). */
export function groupRanks(plan: SlotPlan, group: string): readonly number[] {
  return plan.groups[group] ?? plan.groups.shared ?? [];
}

/** The regions a slot computes samples for. */
export function slotRegions(plan: SlotPlan, slot: number): string[] {
  return plan.slots[slot]?.shares.map((s) => s.region) ?? [];
}
