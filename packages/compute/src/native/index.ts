import type { Logger } from '@lorkd/contracts';
import { loadAddon } from './load-addon.js';
import { registerNativeWasmKernels } from './register-wasm.js';

export type NativeLoadResult =
  | {
      ok: true;
      register(backendName: string): void;
      info: string;
      /**
       * OpenMP threads the native kernels use in this process (default: OMP_NUM_THREADS, else all cores). Set 1 in
       * each of several data-parallel worker threads, so they do not oversubscribe the cores.
       */
      setNumThreads(n: number): void;
    }
  | { ok: false; reason: string; hint: string };

/**
 * Loads the optional oneDNN addon (built by `scripts/build-native.sh`). On success, `register('wasm')`
 * registers the native kernels on the wasm backend, replacing its Conv2D and friends; the wasm backend must
 * be the one it registers for. On failure it says why and how to fix it; the caller decides how loudly.
 */
export async function tryLoadNative(logger: Logger): Promise<NativeLoadResult> {
  const loaded = loadAddon();
  if (!loaded.ok) {
    logger.debug('native kernels unavailable', { reason: loaded.reason });
    return loaded;
  }
  const { addon } = loaded;
  const info = addon.version();
  return {
    ok: true,
    info,
    register(backendName: string): void {
      registerNativeWasmKernels(addon, backendName, logger);
    },
    setNumThreads(n: number): void {
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`native kernels: thread count must be an integer >= 1, got ${n}`);
      addon.setNumThreads(n);
    },
  };
}
