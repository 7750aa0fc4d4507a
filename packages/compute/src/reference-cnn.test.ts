import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Batch } from './batch.js';
import {
  initReferenceCnnParams,
  mulberry32,
  paramCount,
  referenceCnnConfig,
  referenceCnnLayout,
} from './reference-cnn.js';
import { referenceCnnGradientFunction } from './reference-cnn-gradient.js';
import { selectBackend } from './select-backend.js';

describe('reference CNN gradient on wasm (lorkd kernels) vs the cpu backend', () => {
  it.each(['none', 'group'] as const)(
    'norm %s: loss and full gradient agree',
    async (norm) => {
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
      const run = async (backend: 'cpu' | 'wasm') => {
        await selectBackend({ preference: backend });
        const g = new Float32Array(size);
        const { loss } = await grad(params, batch, 4, g);
        return { loss, g };
      };
      const cpu = await run('cpu');
      const wasm = await run('wasm');
      expect(tf.getBackend()).toBe('wasm');
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
