import { silentLogger } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { tryLoadNative } from './index.js';
import { ADDON_PATH, loadAddon } from './load-addon.js';

describe('tryLoadNative', () => {
  it('reports the addon state truthfully: built and loadable, or why not with an install hint', async () => {
    const result = await tryLoadNative(silentLogger);
    if (loadAddon().ok) {
      expect(result.ok).toBe(true);
      if (result.ok) {
        expect(result.info).toMatch(/oneDNN \d+\.\d+/);
        expect(() => result.register('cpu')).toThrow(/wasm/);
        expect(() => result.setNumThreads(0)).toThrow(/>= 1/);
      }
    } else {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.reason).toContain(ADDON_PATH);
        expect(result.hint).toMatch(/build-native\.sh|libdnnl/);
      }
    }
  });
});
