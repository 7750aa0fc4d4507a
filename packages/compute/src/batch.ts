/** A typed array a batch field can hold. */
export type BatchArray = Float32Array | Int32Array | Uint8Array;

/** One named field of a batch: row-major data whose first axis is the sample axis. */
export interface BatchField {
  readonly data: BatchArray;
  readonly shape: readonly number[];
}

/** A batch: named fields sharing the sample axis (e.g. `{ x: [N,H,W,C], y: [N] }`). */
export type Batch = Readonly<Record<string, BatchField>>;

/** The number of samples in a batch (checks every field agrees). */
export function batchSize(batch: Batch): number {
  let n: number | undefined;
  for (const [name, f] of Object.entries(batch)) {
    const rows = f.shape[0];
    if (rows === undefined) throw new Error(`batch field '${name}' has no sample axis (shape [])`);
    const size = f.shape.reduce((a, b) => a * b, 1);
    if (size !== f.data.length)
      throw new Error(`batch field '${name}': shape [${f.shape}] needs ${size} values, got ${f.data.length}`);
    if (n !== undefined && rows !== n) throw new Error(`batch field '${name}' has ${rows} samples, others have ${n}`);
    n = rows;
  }
  if (n === undefined) throw new Error('batch has no fields');
  return n;
}

/** Splits a batch into `parts` contiguous shards whose sizes differ by at most one (first shards larger). */
export function splitBatch(batch: Batch, parts: number): Batch[] {
  const n = batchSize(batch);
  const shards: Batch[] = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const rows = Math.floor(n / parts) + (p < n % parts ? 1 : 0);
    const shard: Record<string, BatchField> = {};
    for (const [name, f] of Object.entries(batch)) {
      const per = f.data.length / n;
      shard[name] = { data: f.data.slice(start * per, (start + rows) * per), shape: [rows, ...f.shape.slice(1)] };
    }
    shards.push(shard);
    start += rows;
  }
  return shards;
}
