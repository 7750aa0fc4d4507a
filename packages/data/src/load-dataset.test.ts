import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseRunSpec, type RunSpec } from '@lorkd/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFormatError, DatasetError } from './errors.js';
import { inspectNpz } from './inspect.js';
import { loadDataset } from './load-dataset.js';
import { generatePhantoms } from './phantom.js';
import { writePhantomDataset } from './phantom-io.js';

const SHARED_DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared/data');

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lorkd-load-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function spec(regions: unknown[], data: Record<string, unknown> = {}): RunSpec {
  return parseRunSpec({ apiVersion: 'lorkd/v1', name: 't', regions, data, training: { steps: 1 } });
}

const small = { seed: 9, trainPerRegion: 16, valPerRegion: 8, testPerRegion: 8, conflict: 0.5 };

describe('writePhantomDataset + inspectNpz + loadDataset', () => {
  it('writes per-region MedMNIST-layout npz that loads back to the same content hash', async () => {
    const out = await writePhantomDataset(join(dir, 'ph'), { ...small, imageSize: 28, regions: ['brain', 'spine'] });
    expect(out.files.map((f) => f.split('/').pop())).toEqual(['brain.npz', 'spine.npz']);
    const info = await inspectNpz(out.files[1] ?? '');
    const train = info.members.find((m) => m.key === 'train_images');
    expect(train).toMatchObject({ dtype: 'uint8', shape: [16, 28, 28], compressed: true });
    const labels = info.members.find((m) => m.key === 'train_labels');
    expect(Object.values(labels?.labelCounts ?? {}).reduce((a, b) => a + b, 0)).toBe(16);
    const manifest = JSON.parse(await readFile(out.manifest, 'utf8'));
    const s = spec(manifest.specRegions, { imageSize: 28 });
    const loaded = await loadDataset(s, { baseDir: out.dir });
    const generated = generatePhantoms({ ...small, imageSize: 28, regions: ['brain', 'spine'] });
    expect(loaded.hash).toBe(generated.hash);
    expect(loaded.train.masks).toEqual(generated.train.masks);
  });

  it('mixes npz and phantom regions, resizes 28² files to the spec size, and reads through an object reader', async () => {
    const pneumonia = join(SHARED_DATA, 'pneumoniamnist_subsampled.npz');
    const bytes = new Uint8Array(await readFile(pneumonia));
    const s = spec(
      [
        { name: 'chest', labels: ['normal', 'pneumonia'], source: { kind: 'npz', uri: 's3://bucket/pneumonia.npz' } },
        { name: 'brain', labels: ['a', 'b', 'c', 'd'], source: { kind: 'phantom' } },
      ],
      { imageSize: 64, phantom: small },
    );
    const seen: string[] = [];
    const d = await loadDataset(s, {
      objectReader: async (uri) => {
        seen.push(uri);
        return (async function* () {
          for (let o = 0; o < bytes.length; o += 100_000) yield bytes.subarray(o, o + 100_000);
        })();
      },
    });
    expect(seen).toEqual(['s3://bucket/pneumonia.npz']);
    expect(d.imageShape).toEqual([64, 64, 1]);
    expect(d.train.n).toBe(3882 + 16);
    expect(d.test.n).toBe(624 + 8);
    expect(d.regions.map((r) => r.name)).toEqual(['chest', 'brain']);
    expect(d.train.regions[0]).toBe(0);
    expect(d.train.regions[3882]).toBe(1);
    expect(d.train.masks).toBeUndefined();
    // The same file by file:// URI gives the same content.
    const viaFile = await loadDataset(
      spec(
        [
          {
            name: 'chest',
            labels: ['normal', 'pneumonia'],
            source: { kind: 'npz', uri: pathToFileURL(pneumonia).href },
          },
        ],
        { imageSize: 28 },
      ),
    );
    expect(viaFile.train.images.length).toBe(3882 * 28 * 28);
    const mean = (a: Float32Array, n: number) => a.subarray(0, n).reduce((x, y) => x + y, 0) / n;
    // Bilinear resizing keeps the mean intensity of the chest images.
    expect(mean(d.train.images, 100 * 64 * 64)).toBeCloseTo(mean(viaFile.train.images, 100 * 28 * 28), 2);
  });

  it('explains what is wrong with a spec that does not fit the data', async () => {
    const pneumonia = join(SHARED_DATA, 'pneumoniamnist_subsampled.npz');
    await expect(
      loadDataset(
        spec([{ name: 'chest', labels: ['normal', 'pneumonia'], source: { kind: 'npz', uri: 's3://b/k.npz' } }]),
      ),
    ).rejects.toThrow(/no object reader/);
    await expect(
      loadDataset(
        spec([{ name: 'chest', labels: ['a', 'b'], source: { kind: 'npz', uri: pneumonia, imagesKey: 'pics' } }]),
      ),
    ).rejects.toThrow(/train_pics\.npy\]: missing; region 'chest' needs train_pics and train_labels/);
    await expect(
      loadDataset(spec([{ name: 'brain', labels: ['a', 'b', 'c'], source: { kind: 'phantom' } }], { phantom: small })),
    ).rejects.toThrow(DatasetError);
    await expect(
      loadDataset(spec([{ name: 'x', labels: ['a', 'b'], source: { kind: 'npz', uri: 'missing.npz' } }]), {
        baseDir: dir,
      }),
    ).rejects.toThrow(DataFormatError);
  });
});
