import type { RunSpecInput } from '@lorkd/contracts';

/**
 * A tiny phantom run for tests: 28x28 images, width-4 depth-1 networks, a handful of steps.
 * Regions use phantom anatomies with their class names.
 */
export function tinySpecInput(overrides: Partial<RunSpecInput> = {}): RunSpecInput {
  return {
    apiVersion: 'lorkd/v1',
    name: 'tiny',
    regions: [
      {
        name: 'brain',
        labels: ['non-enhancing', 'faint-enhancing', 'enhancing', 'hemorrhagic'],
        source: { kind: 'phantom' },
      },
      { name: 'head-neck', labels: ['round-node', 'oval-node', 'infiltrative'], source: { kind: 'phantom' } },
      { name: 'pelvis', labels: ['left', 'midline', 'right'], source: { kind: 'phantom' } },
    ],
    data: { imageSize: 28, phantom: { seed: 3, trainPerRegion: 16, valPerRegion: 0, testPerRegion: 8, conflict: 0.7 } },
    model: { width: 4, depth: 1, groupNormGroups: 2, expert: { rank: 2, alpha: 4 } },
    teacher: { kind: 'train', width: 4, depth: 1, steps: 2 },
    training: {
      steps: 4,
      batchPerRegion: 2,
      optimizer: { kind: 'adamw', lr: 0.01 },
      schedule: { kind: 'constant' },
      kd: { beta: 1, temperature: 2 },
      gradClipNorm: 5,
    },
    cluster: { workers: 3, checkpointEvery: 2, heartbeatTimeoutSec: 3, backend: 'wasm' },
    ...overrides,
  };
}
