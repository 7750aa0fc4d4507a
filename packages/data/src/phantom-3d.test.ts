import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunSpec } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { inspectNpz } from './inspect.js';
import { loadDataset } from './load-dataset.js';
import { generatePhantoms, type PhantomOptions } from './phantom.js';
import { writePhantomDataset } from './phantom-io.js';

describe('3D phantoms', () => {
  const opts: PhantomOptions = {
    imageSize: 28,
    depth: 8,
    trainPerRegion: 8,
    valPerRegion: 0,
    testPerRegion: 8,
    regions: ['brain', 'pelvis'],
  };

  it('makes [D,H,W] volumes with ellipsoidal lesions, deterministically', () => {
    const d = generatePhantoms(opts);
    expect(d.imageShape).toEqual([8, 28, 28, 1]);
    expect(d.train.images.length).toBe(16 * 8 * 28 * 28);
    expect(generatePhantoms(opts).hash).toBe(d.hash);
    // Lesion voxels per slice: some slices have lesion, and the volume is not one repeated slice.
    const vol = 8 * 784;
    let withLesion = 0;
    let sameAsFirst = 0;
    for (let s = 0; s < 8; s++) {
      let m = 0;
      for (let i = 0; i < 784; i++) m += d.train.masks?.[s * 784 + i] ?? 0;
      if (m > 0) withLesion++;
      if (d.train.images.subarray(s * 784, (s + 1) * 784).every((v, i) => v === d.train.images[i])) sameAsFirst++;
    }
    expect(withLesion).toBeGreaterThan(0);
    expect(sameAsFirst).toBe(1);
    expect(d.train.masks?.length).toBe(16 * vol);
  });

  it('writes [N,D,H,W] npz that loadDataset reads back as [D,H,W,1] samples', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lorkd-3d-'));
    try {
      const out = await writePhantomDataset(dir, opts);
      const info = await inspectNpz(out.files[0] ?? '');
      expect(info.members.find((m) => m.key === 'train_images')?.shape).toEqual([8, 8, 28, 28]);
      const spec = parseRunSpec({
        apiVersion: 'lorkd/v1',
        name: 'v',
        regions: [{ name: 'brain', labels: ['a', 'b', 'c', 'd'], source: { kind: 'npz', uri: 'brain.npz' } }],
        data: { imageSize: 28 },
        training: { steps: 1 },
      });
      const d = await loadDataset(spec, { baseDir: dir });
      expect(d.imageShape).toEqual([8, 28, 28, 1]);
      expect(d.train.n).toBe(8);
      expect(d.train.images).toEqual(generatePhantoms({ ...opts, regions: ['brain'] }).train.images);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
