import type { DataType, KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's `BackendWasm` the native kernels use (tensor data lives on the wasm heap). */
export interface WasmHeapBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
}

export function isWasmHeapBackend(backend: KernelBackend | object): backend is WasmHeapBackend & KernelBackend {
  const b = backend as Partial<WasmHeapBackend>;
  return (
    typeof b.makeOutput === 'function' && b.wasm?.HEAPU8 instanceof Uint8Array && typeof b.dataIdMap?.get === 'function'
  );
}

/** Byte offset of a tensor's data on the wasm heap. */
export function heapOffset(backend: WasmHeapBackend, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error(`native kernel: tensor ${t.shape.join('x')} has no data on the wasm heap`);
  return data.memoryOffset;
}

/** The current heap view: read it after every allocation, because the wasm memory may have grown. */
export function heapBytes(backend: WasmHeapBackend): Uint8Array {
  return backend.wasm.HEAPU8;
}
