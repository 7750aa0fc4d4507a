import { z } from 'zod';
import type { Dataset, SplitName } from './dataset.js';
import { DatasetError } from './errors.js';
import { hashInts, hashString } from './rng.js';

/** Which part of the global batch a worker (slot) takes. */
export interface ShardAssignment {
  /** Region indices this slot hosts. */
  readonly regions: readonly number[];
  /** This slot's replica index among the `replicas` slots that share these regions. */
  readonly replica: number;
  readonly replicas: number;
}

export const SamplerOptionsSchema = z
  .object({
    seed: z.number().int().min(0),
    /** The dataset's content hash: a different dataset gives a different order. */
    datasetHash: z.string().min(1),
    /** Number of training samples per region (the sampler draws indices into each region's list). */
    regionSampleIndices: z.array(z.custom<Int32Array>((v) => v instanceof Int32Array, 'must be an Int32Array')).min(1),
    /** Samples per region per step: one number for all, or one per region. */
    batchPerRegion: z.union([z.number().int().min(1), z.array(z.number().int().min(0))]),
  })
  .strict();
export type SamplerOptions = z.input<typeof SamplerOptionsSchema>;

/**
 * The region-aware deterministic sampler. The global batch of step s is a pure function of
 * (seed, s, dataset hash, per-region batch sizes): each region walks its own sequence of epochs,
 * each epoch a seeded permutation of that region's samples. Nothing depends on the number of
 * workers, and the cursor to resume from is just the step.
 */
export class Sampler {
  readonly batchSizes: readonly number[];
  readonly globalBatchSize: number;
  private readonly key: number;
  private readonly regionIdx: readonly Int32Array[];
  private readonly cache = new Map<string, Int32Array>();

  constructor(options: SamplerOptions) {
    const r = SamplerOptionsSchema.safeParse(options);
    if (!r.success) {
      throw new DatasetError(
        `invalid sampler options: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    const o = r.data;
    this.regionIdx = o.regionSampleIndices;
    const nRegions = this.regionIdx.length;
    const b = o.batchPerRegion;
    if (Array.isArray(b) && b.length !== nRegions) {
      throw new DatasetError(`batchPerRegion lists ${b.length} sizes but the dataset has ${nRegions} regions`);
    }
    this.batchSizes = Array.isArray(b) ? b : new Array<number>(nRegions).fill(b);
    this.batchSizes.forEach((size, i) => {
      if (size > 0 && (this.regionIdx[i]?.length ?? 0) === 0) {
        throw new DatasetError(`region ${i} has no samples but a batch size of ${size}`, { region: i });
      }
    });
    this.globalBatchSize = this.batchSizes.reduce((a, c) => a + c, 0);
    this.key = hashInts(o.seed, hashString(o.datasetHash));
  }

  /** A sampler over one split of a dataset (default train). */
  static forDataset(
    dataset: Dataset,
    options: { seed: number; batchPerRegion: number | readonly number[]; split?: SplitName },
  ): Sampler {
    const split = dataset[options.split ?? 'train'];
    const lists: number[][] = dataset.regions.map(() => []);
    for (let i = 0; i < split.n; i++) lists[split.regions[i] ?? 0]?.push(i);
    return new Sampler({
      seed: options.seed,
      datasetHash: `${dataset.hash}:${options.split ?? 'train'}`,
      regionSampleIndices: lists.map((l) => Int32Array.from(l)),
      batchPerRegion: typeof options.batchPerRegion === 'number' ? options.batchPerRegion : [...options.batchPerRegion],
    });
  }

  get regionCount(): number {
    return this.regionIdx.length;
  }

  /** Epoch e of region r: a Fisher-Yates permutation of the region's samples keyed by (seed, hash, r, e). */
  private permutation(region: number, epoch: number): Int32Array {
    const id = `${region}:${epoch}`;
    const hit = this.cache.get(id);
    if (hit) return hit;
    const base = this.regionIdx[region] ?? new Int32Array(0);
    const perm = Int32Array.from(base);
    const k = hashInts(this.key, region, epoch);
    let state = k;
    for (let i = perm.length - 1; i > 0; i--) {
      state = hashInts(state, i);
      const j = Math.floor((state / 4294967296) * (i + 1));
      const t = perm[i] ?? 0;
      perm[i] = perm[j] ?? 0;
      perm[j] = t;
    }
    if (this.cache.size > 4 * this.regionIdx.length) this.cache.clear();
    this.cache.set(id, perm);
    return perm;
  }

  /** Sample indices of region `region` in step `step` (its slice of the global batch). */
  regionBatch(step: number, region: number): Int32Array {
    if (!Number.isSafeInteger(step) || step < 0)
      throw new DatasetError(`step must be a non-negative integer, got ${step}`);
    const b = this.batchSizes[region] ?? 0;
    const n = this.regionIdx[region]?.length ?? 0;
    const out = new Int32Array(b);
    for (let j = 0; j < b; j++) {
      const p = step * b + j;
      const epoch = Math.floor(p / n);
      out[j] = this.permutation(region, epoch)[p - epoch * n] ?? 0;
    }
    return out;
  }

  /** The whole global batch of a step: region 0's samples, then region 1's, … */
  globalBatch(step: number): Int32Array {
    const out = new Int32Array(this.globalBatchSize);
    let o = 0;
    for (let r = 0; r < this.regionIdx.length; r++) {
      const rb = this.regionBatch(step, r);
      out.set(rb, o);
      o += rb.length;
    }
    return out;
  }

  /**
   * One worker's part of the global batch: for each assigned region (in ascending order), the contiguous
   * slice `[floor(k·b/R), floor((k+1)·b/R))` of that region's samples, k = replica, R = replicas.
   */
  shardFor(step: number, assignment: ShardAssignment): Int32Array {
    const { replica, replicas } = assignment;
    if (
      !Number.isInteger(replicas) ||
      replicas < 1 ||
      !Number.isInteger(replica) ||
      replica < 0 ||
      replica >= replicas
    ) {
      throw new DatasetError(`bad shard assignment: replica ${replica} of ${replicas}`);
    }
    const regions = [...new Set(assignment.regions)].sort((a, b) => a - b);
    const parts: Int32Array[] = [];
    for (const r of regions) {
      if (r < 0 || r >= this.regionIdx.length) {
        throw new DatasetError(`bad shard assignment: region ${r} (the dataset has ${this.regionIdx.length})`);
      }
      const rb = this.regionBatch(step, r);
      const lo = Math.floor((replica * rb.length) / replicas);
      const hi = Math.floor(((replica + 1) * rb.length) / replicas);
      parts.push(rb.subarray(lo, hi));
    }
    const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
