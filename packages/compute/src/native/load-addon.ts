import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './addon-types.js';

/** The package root (`packages/compute`), found from this file in both `src/native` and `dist/native`. */
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `scripts/build-native.sh` (node-gyp) puts the addon. */
export const ADDON_PATH = join(packageRoot, 'native', 'build', 'Release', 'lorkd_native.node');

export const INSTALL_HINT =
  'apt-get install libdnnl-dev g++ make python3 && bash scripts/build-native.sh (lorkd then uses oneDNN kernels on the wasm backend)';

export type AddonLoadResult = { ok: true; addon: NativeAddon } | { ok: false; reason: string; hint: string };

let cached: AddonLoadResult | undefined;

/** Loads the compiled addon once per process (per worker thread); later calls return the same result. */
export function loadAddon(): AddonLoadResult {
  if (cached !== undefined) return cached;
  cached = loadUncached();
  return cached;
}

function loadUncached(): AddonLoadResult {
  if (!existsSync(ADDON_PATH)) {
    return { ok: false, reason: `native addon not built (no ${ADDON_PATH})`, hint: INSTALL_HINT };
  }
  try {
    const require = createRequire(import.meta.url);
    const addon = require(ADDON_PATH) as NativeAddon;
    if (typeof addon.conv2d !== 'function' || typeof addon.version !== 'function') {
      return {
        ok: false,
        reason: `native addon at ${ADDON_PATH} is from another version (missing conv2d/version exports)`,
        hint: 'rebuild it: bash scripts/build-native.sh',
      };
    }
    return { ok: true, addon };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      reason: `native addon at ${ADDON_PATH} failed to load: ${message}`,
      hint: message.includes('libdnnl')
        ? 'install the oneDNN runtime: apt-get install libdnnl2 (or libdnnl-dev), or delete the addon to silence this'
        : 'rebuild it: bash scripts/build-native.sh',
    };
  }
}
