import { getKernel, type KernelFunc, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { matMulKernel } from './batch-mat-mul.js';
import { conv2DBackpropFilterKernel } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputKernel } from './conv2d-backprop-input.js';
import type { RawKernelFunc } from './kernel-scope.js';
import { sumKernel } from './sum.js';
import { unsortedSegmentSumKernel } from './unsorted-segment-sum.js';

/** The kernels lorkd adds to (or replaces in) the wasm backend. */
export const WASM_KERNEL_NAMES = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'UnsortedSegmentSum',
  'BatchMatMul',
  '_FusedMatMul',
  'Sum',
] as const;
export type WasmKernelName = (typeof WASM_KERNEL_NAMES)[number];

/** Stock kernels the wrappers call (captured before they are replaced). */
const WRAPPED = ['BatchMatMul', '_FusedMatMul', 'Sum'] as const;

// The stock kernels we wrap, captured before the first override; kept on globalThis so that a second copy
// of this module (source and dist loaded together) never pins one of our own wrappers as "stock".
const STATE_KEY = Symbol.for('lorkd.compute.wasmKernels');
interface State {
  stock: Map<string, RawKernelFunc>;
  ours: WeakSet<object>;
}
function state(): State {
  const g = globalThis as unknown as Record<symbol, State | undefined>;
  let s = g[STATE_KEY];
  if (s === undefined) {
    s = { stock: new Map(), ours: new WeakSet() };
    g[STATE_KEY] = s;
  }
  return s;
}

/**
 * Registers lorkd's kernels for the wasm backend: Conv2DBackpropFilter (missing in stock tfjs),
 * Conv2DBackpropInput (stock one is a scalar loop), UnsortedSegmentSum (missing: the gradient of gather),
 * BatchMatMul/_FusedMatMul wrappers that keep transposed and batched products on XNNPACK, and a Sum that
 * reduces leading axes (bias gradients) with a matmul.
 * Idempotent; returns the names of lorkd's kernels now active on that backend. Kernels registered later by others
 * (for example native ones) win over these, and these are never re-registered over them.
 */
export function registerWasmKernels(backendName = 'wasm'): WasmKernelName[] {
  const st = state();
  for (const name of WRAPPED) {
    const key = `${backendName}/${name}`;
    const current = getKernel(name, backendName);
    if (!st.stock.has(key) && current !== undefined && !st.ours.has(current.kernelFunc)) {
      st.stock.set(key, current.kernelFunc as RawKernelFunc);
    }
  }
  const pinned = new Map<string, RawKernelFunc>();
  for (const name of WRAPPED) {
    const f = st.stock.get(`${backendName}/${name}`);
    if (f !== undefined) pinned.set(name, f);
  }
  const factories: Record<WasmKernelName, () => RawKernelFunc> = {
    Conv2DBackpropFilter: () => conv2DBackpropFilterKernel(pinned, backendName),
    Conv2DBackpropInput: () => conv2DBackpropInputKernel(pinned, backendName),
    UnsortedSegmentSum: () => unsortedSegmentSumKernel(pinned, backendName),
    BatchMatMul: () => matMulKernel('BatchMatMul', pinned, backendName),
    _FusedMatMul: () => matMulKernel('_FusedMatMul', pinned, backendName),
    Sum: () => sumKernel(pinned, backendName),
  };
  for (const name of WASM_KERNEL_NAMES) {
    const current = getKernel(name, backendName);
    if (current !== undefined && st.ours.has(current.kernelFunc)) continue; // already ours
    if ((WRAPPED as readonly string[]).includes(name) && !pinned.has(name)) continue; // nothing to wrap
    const isStock = current === undefined || isStockWasmKernel(current.kernelFunc);
    if (!isStock) continue; // someone (e.g. the native addon) registered a better one: keep it
    const func = factories[name]();
    st.ours.add(func);
    if (current !== undefined) unregisterKernel(name, backendName);
    registerKernel({ kernelName: name, backendName, kernelFunc: func as unknown as KernelFunc });
  }
  return activeWasmKernels(backendName);
}

/** lorkd's kernels currently registered on `backendName` (others, e.g. native ones, may have replaced some). */
export function activeWasmKernels(backendName = 'wasm'): WasmKernelName[] {
  const st = state();
  return WASM_KERNEL_NAMES.filter((name) => {
    const k = getKernel(name, backendName);
    return k !== undefined && st.ours.has(k.kernelFunc);
  });
}

const STOCK_KEY = Symbol.for('lorkd.compute.stockWasmKernels');
/** Remembers the stock wasm kernel functions as they are right after the backend registered them. */
export function snapshotStockKernels(backendName = 'wasm'): void {
  const g = globalThis as unknown as Record<symbol, WeakSet<object> | undefined>;
  let set = g[STOCK_KEY];
  if (set === undefined) {
    set = new WeakSet();
    g[STOCK_KEY] = set;
  }
  for (const name of WASM_KERNEL_NAMES) {
    const k = getKernel(name, backendName);
    if (k !== undefined && !state().ours.has(k.kernelFunc)) set.add(k.kernelFunc);
  }
}

function isStockWasmKernel(func: object): boolean {
  const set = (globalThis as unknown as Record<symbol, WeakSet<object> | undefined>)[STOCK_KEY];
  return set === undefined || set.has(func);
}
