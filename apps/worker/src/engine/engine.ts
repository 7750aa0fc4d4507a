/** The parameters of one sync group, flattened in the model's parameter order. */
export interface GroupLayout {
  readonly group: string;
  readonly names: readonly string[];
  readonly sizes: readonly number[];
  /** Sum of `sizes`: the length of the group's flat gradient buffer. */
  readonly length: number;
}

/** One slot's contribution to a step: gradients per group (already divided by the GLOBAL batch size). */
export interface StepGradients {
  readonly grads: Map<string, Float32Array>;
  /** This shard's share of the global loss (shards sum to the global loss). */
  readonly loss: number;
  readonly taskLoss: number;
  readonly kdLoss: number;
  readonly samples: number;
  /**
   * Per region of the spec (in spec order) at [3t, 3t+1, 3t+2]: this shard's summed task loss, summed
   * β·τ²·KL and sample count; sums over shards give each region's mean loss. Optional for engines that
   * cannot tell.
   */
  readonly regionLoss?: Float32Array;
}

/** Everything needed to continue training exactly: parameters, optimiser state and its step. */
export interface EngineSnapshot {
  readonly params: Map<string, Float32Array>;
  readonly optimizer: Map<string, Float32Array>;
  /** How many optimiser updates have been applied (= the training step to resume at). */
  readonly step: number;
  /** Content hash of the data the engine trains on (recorded in checkpoints). */
  readonly datasetHash?: string;
}

/** Which part of every global batch a slot trains: its regions, and its replica index among the slots sharing them. */
export interface SlotSeat {
  readonly regions: readonly string[];
  readonly replica: number;
  readonly replicas: number;
}

/**
 * The compute side of a slot: owns the model, the data shard and the optimiser. Runs in a worker
 * thread in production (see ThreadEngine) so that BullMQ lock renewal and heartbeats never starve.
 */
export interface SlotEngine {
  /** Group layouts in a fixed order (`shared` first, then experts by region order). */
  layout(): Promise<readonly GroupLayout[]>;
  /** Forward + backward on this slot's shard of the global batch of `step`. */
  gradients(step: number): Promise<StepGradients>;
  /** Applies summed gradients (one flat buffer per group) with the learning rate of `step`, scaled by `scale`. */
  apply(step: number, grads: Map<string, Float32Array>, scale: number): Promise<void>;
  snapshot(): Promise<EngineSnapshot>;
  restore(snapshot: EngineSnapshot): Promise<void>;
  /**
   * Moves the engine to another seat of the same run (same model, data and optimiser; another shard
   * of each global batch). Optional: engines without it are rebuilt for a new seat.
   */
  reseat?(seat: SlotSeat): Promise<void>;
  close(): Promise<void>;
}

/** Squared L2 norm of a buffer, accumulated in float64. */
export function sumOfSquares(data: Float32Array): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    s += v * v;
  }
  return s;
}
