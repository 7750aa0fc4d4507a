import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Batch } from './batch.js';
import { GROUP_NORM_KERNEL } from './native/group-norm-kernel.js';
import { loadAddon } from './native/load-addon.js';
import {
  initReferenceCnnParams,
  mulberry32,
  paramCount,
  referenceCnnConfig,
  referenceCnnLayout,
} from './reference-cnn.js';
import { referenceCnnGradientFunction } from './reference-cnn-gradient.js';
import { selectBackend } from './select-backend.js';

const nativeBuilt = loadAddon().ok;
const CASES: Array<['none' | 'group', 'wasm' | 'native']> = [
  ['none', 'wasm'],
  ['group', 'wasm'],
];
if (nativeBuilt) CASES.push(['group', 'native']);

describe('reference CNN gradient on wasm (lorkd kernels) and native vs the cpu backend', () => {
  it.each(CASES)(
    'norm %s on %s (GroupNorm: the fused native kernel with ReLU on native): loss and full gradient agree',
    async (norm, backend) => {
      const config = referenceCnnConfig({
        imageSize: 9,
        stem: 4,
        blocks: [
          { channels: 4, stride: 1 },
          { channels: 6, stride: 2 },
        ],
        classes: 3,
        norm,
        groups: 2,
      });
      const rand = mulberry32(4);
      const n = 3;
      const batch: Batch = {
        x: { data: Float32Array.from({ length: n * 81 }, () => rand() * 2 - 1), shape: [n, 9, 9, 1] },
        y: { data: Int32Array.from([0, 2, 1]), shape: [n] },
      };
      const params = initReferenceCnnParams(config, 9);
      const size = paramCount(referenceCnnLayout(config));
      const grad = referenceCnnGradientFunction(config);
      const run = async (preference: 'cpu' | 'wasm' | 'native') => {
        await selectBackend({ preference });
        const g = new Float32Array(size);
        const { loss } = await grad(params, batch, 4, g);
        return { loss, g };
      };
      const cpu = await run('cpu');
      const wasm = await run(backend);
      expect(tf.getBackend()).toBe('wasm');
      expect(tf.getKernel(GROUP_NORM_KERNEL, 'wasm') !== undefined).toBe(backend === 'native');
      expect(wasm.loss).toBeCloseTo(cpu.loss, 5);
      let diff = 0;
      let mag = 0;
      for (let i = 0; i < size; i++) {
        diff = Math.max(diff, Math.abs((wasm.g[i] as number) - (cpu.g[i] as number)));
        mag = Math.max(mag, Math.abs(cpu.g[i] as number));
      }
      expect(diff / mag).toBeLessThanOrEqual(1e-4);
    },
    120_000,
  );
});
