import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SPLITS, type SplitName } from './dataset.js';
import type { NdArray } from './npy.js';
import { writeNpz } from './npz.js';
import {
  generateRegionSplit,
  type PhantomOptions,
  phantomAnatomies,
  type RawRegionSplit,
  type ResolvedPhantomOptions,
  resolvePhantomOptions,
} from './phantom.js';

export interface WrittenPhantoms {
  readonly dir: string;
  /** The npz files, one per region (MedMNIST layout) or one combined file. */
  readonly files: readonly string[];
  /** `phantoms.json`: options, regions with their label names and files, and a RunSpec `regions` snippet. */
  readonly manifest: string;
  readonly options: ResolvedPhantomOptions;
}

export interface WritePhantomOptions {
  /** `per-region` (default): `<region>.npz` each; `combined`: one `phantoms.npz` with `*_regions`. */
  readonly layout?: 'per-region' | 'combined';
  /** deflate the members (default true). */
  readonly compress?: boolean;
}

function u8(data: Uint8Array, shape: number[]): NdArray {
  return { dtype: 'uint8', shape, data };
}

function splitArrays(raw: RawRegionSplit, split: SplitName, dims: number[]): Record<string, NdArray> {
  const out: Record<string, NdArray> = {
    [`${split}_images`]: u8(raw.images, [raw.n, ...dims]),
    [`${split}_labels`]: u8(raw.labels, [raw.n, 1]),
    [`${split}_subjects`]: { dtype: 'int32', shape: [raw.n], data: raw.subjects },
  };
  if (raw.masks) out[`${split}_masks`] = u8(raw.masks, [raw.n, ...dims]);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Generates the phantom benchmark and writes it as MedMNIST-layout npz (uint8 images `[N,H,W]`,
 * labels `[N,1]`, masks `[N,H,W]`, subject ids) plus a `phantoms.json` manifest. Loading the
 * per-region files with `loadDataset` gives the same content (and hash) as `generatePhantoms`.
 */
export async function writePhantomDataset(
  dir: string,
  options: PhantomOptions = {},
  write: WritePhantomOptions = {},
): Promise<WrittenPhantoms> {
  const o = resolvePhantomOptions(options);
  const anats = phantomAnatomies(o.regions);
  const size = o.imageSize;
  const dims = o.depth > 0 ? [o.depth, size, size] : [size, size];
  const counts: Record<SplitName, number> = { train: o.trainPerRegion, val: o.valPerRegion, test: o.testPerRegion };
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const compress = write.compress ?? true;
  if ((write.layout ?? 'per-region') === 'per-region') {
    for (const a of anats) {
      const arrays: Record<string, NdArray> = {};
      for (const split of SPLITS)
        Object.assign(arrays, splitArrays(generateRegionSplit(a, split, counts[split], o), split, dims));
      const file = join(dir, `${a.name}.npz`);
      await writeNpz(file, arrays, { compress });
      files.push(file);
    }
  } else {
    const arrays: Record<string, NdArray> = {};
    for (const split of SPLITS) {
      const raws = anats.map((a) => generateRegionSplit(a, split, counts[split], o));
      const n = raws.reduce((s, r) => s + r.n, 0);
      const regions = new Uint8Array(n);
      let at = 0;
      raws.forEach((r, i) => {
        regions.fill(i, at, at + r.n);
        at += r.n;
      });
      arrays[`${split}_images`] = u8(concat(raws.map((r) => r.images)), [n, ...dims]);
      arrays[`${split}_labels`] = u8(concat(raws.map((r) => r.labels)), [n, 1]);
      arrays[`${split}_regions`] = u8(regions, [n]);
      if (o.masks) arrays[`${split}_masks`] = u8(concat(raws.map((r) => r.masks ?? new Uint8Array(0))), [n, ...dims]);
    }
    const file = join(dir, 'phantoms.npz');
    await writeNpz(file, arrays, { compress });
    files.push(file);
  }
  const manifest = join(dir, 'phantoms.json');
  const perRegion = (write.layout ?? 'per-region') === 'per-region';
  await writeFile(
    manifest,
    `${JSON.stringify(
      {
        generator: 'lorkd-phantoms/1',
        options: o,
        layout: perRegion ? 'per-region' : 'combined',
        regions: anats.map((a, i) => ({
          index: i,
          name: a.name,
          modality: a.modality,
          decisiveFeature: a.decisive,
          labels: a.classes,
          ...(perRegion ? { file: `${a.name}.npz` } : {}),
        })),
        // Paste into a RunSpec (paths relative to this directory).
        specRegions: perRegion
          ? anats.map((a) => ({ name: a.name, labels: a.classes, source: { kind: 'npz', uri: `${a.name}.npz` } }))
          : undefined,
      },
      null,
      2,
    )}\n`,
  );
  return { dir, files, manifest, options: o };
}
