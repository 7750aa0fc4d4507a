import type { EngineSnapshot } from '../engine/engine.js';

/** A tensor as the checkpoint store keeps it. */
export interface StoredTensor {
  readonly dtype: 'float32' | 'int32';
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

const PARAM = 'param:';
const OPT = 'opt:';

/** Flattens a snapshot into checkpoint tensors: `param:<name>` and `opt:<state key>` (1-D float32). */
export function snapshotToTensors(snapshot: EngineSnapshot): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [name, data] of snapshot.params)
    out.set(`${PARAM}${name}`, { dtype: 'float32', shape: [data.length], data });
  for (const [name, data] of snapshot.optimizer)
    out.set(`${OPT}${name}`, { dtype: 'float32', shape: [data.length], data });
  return out;
}

/** The inverse of `snapshotToTensors`; `step` is the checkpoint's step. */
export function tensorsToSnapshot(tensors: ReadonlyMap<string, StoredTensor>, step: number): EngineSnapshot {
  const params = new Map<string, Float32Array>();
  const optimizer = new Map<string, Float32Array>();
  for (const [key, t] of tensors) {
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    if (key.startsWith(PARAM)) params.set(key.slice(PARAM.length), data);
    else if (key.startsWith(OPT)) optimizer.set(key.slice(OPT.length), data);
  }
  return { params, optimizer, step };
}
