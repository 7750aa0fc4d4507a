import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { env, getBackend, setBackend } from '@tensorflow/tfjs-core';
import { snapshotStockKernels } from './kernels/register-wasm-kernels.js';

let pathsSet = false;

/**
 * Loads `@tensorflow/tfjs-backend-wasm`, points it at its `.wasm` binaries inside node_modules (so it works
 * the same under plain node, tsx and Vitest), and makes `wasm` the active backend. Returns whether the SIMD
 * binary runs.
 */
export async function activateWasmBackend(): Promise<{ simd: boolean }> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  snapshotStockKernels('wasm');
  if (!pathsSet) {
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    try {
      wasm.setWasmPaths(`${dirname(entry)}/`);
    } catch {
      // Already initialised by someone else in this process: its paths worked.
    }
    pathsSet = true;
  }
  if (getBackend() !== 'wasm') {
    const ok = await setBackend('wasm');
    if (!ok) throw new Error('the wasm backend failed to initialise (its .wasm binary could not be loaded)');
  }
  const simd = (await env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  return { simd };
}
