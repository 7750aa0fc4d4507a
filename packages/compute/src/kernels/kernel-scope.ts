import { getKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';

/** A kernel function as tfjs stores it: takes backend-level tensor infos, returns new ones. */
export type RawKernelFunc = (args: {
  inputs: Record<string, TensorInfo>;
  backend: KernelBackend;
  attrs: NamedAttrMap;
}) => TensorInfo | TensorInfo[];

/**
 * Runs a backend's own kernel functions directly (no engine, no tape) and frees every intermediate on
 * `dispose()` except the ones passed to `keep()`. Custom kernels are compositions of these calls.
 */
export class KernelScope {
  private readonly owned = new Set<TensorInfo>();

  constructor(
    private readonly backend: KernelBackend,
    private readonly backendName: string,
    private readonly pinned: ReadonlyMap<string, RawKernelFunc> = new Map(),
  ) {}

  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
    const func = this.pinned.get(kernelName) ?? (getKernel(kernelName, this.backendName)?.kernelFunc as RawKernelFunc);
    if (func === undefined) throw new Error(`kernel ${kernelName} is not registered for backend ${this.backendName}`);
    const out = func({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) throw new Error(`kernel ${kernelName} returned several outputs`);
    this.owned.add(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  pad(x: TensorInfo, paddings: [number, number][]): TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  concat(xs: TensorInfo[], axis: number): TensorInfo {
    if (xs.length === 1) return xs[0] as TensorInfo;
    // The Concat kernel takes its inputs as an array.
    return this.run('Concat', xs as unknown as Record<string, TensorInfo>, { axis });
  }

  /** Takes ownership of a tensor written directly with `backend.write`. */
  adopt(t: TensorInfo): TensorInfo {
    this.owned.add(t);
    return t;
  }

  /** Keeps `t` alive past `dispose()` (the kernel's output); an input passed through gets its own reference. */
  keep(t: TensorInfo): TensorInfo {
    if (this.owned.delete(t)) return t;
    const copy = this.run('Identity', { x: t });
    this.owned.delete(copy);
    return copy;
  }

  dispose(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.clear();
  }
}

/** Runs `body` with a fresh scope and disposes the intermediates whatever happens. */
export function withScope<T>(scope: KernelScope, body: (s: KernelScope) => T): T {
  try {
    return body(scope);
  } finally {
    scope.dispose();
  }
}
