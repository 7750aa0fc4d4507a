import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Logger, type RunSpec, silentLogger } from '@lorkd/contracts';
import { concatSplits, type Dataset, emptySplit, SPLITS, type Split, type SplitName, withHash } from './dataset.js';
import { DataFormatError, DatasetError } from './errors.js';
import type { NdArray } from './npy.js';
import { NpzReader } from './npz.js';
import { generateRegionSplit, phantomAnatomies, resolvePhantomOptions, toSplit } from './phantom.js';

/** Reads non-file URIs (e.g. `s3://…`): the storage package supplies one. */
export type ObjectReader = (uri: string) => Promise<Uint8Array | AsyncIterable<Uint8Array>>;

export interface LoadDatasetOptions {
  /** Directory relative npz paths are resolved against (the spec file's directory); default: cwd. */
  readonly baseDir?: string;
  readonly objectReader?: ObjectReader;
  readonly logger?: Logger;
}

type SpecPart = Pick<RunSpec, 'regions' | 'data'>;

async function collect(input: Uint8Array | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input;
  const parts: Uint8Array[] = [];
  for await (const c of input) parts.push(c);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function openSource(uri: string, options: LoadDatasetOptions): Promise<NpzReader> {
  if (uri.startsWith('file://')) return NpzReader.open(fileURLToPath(uri));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    if (!options.objectReader) {
      throw new DatasetError(`cannot read ${uri}: no object reader was given for non-file URIs (pass objectReader)`, {
        uri,
      });
    }
    return NpzReader.open({ name: uri, bytes: await collect(await options.objectReader(uri)) });
  }
  return NpzReader.open(isAbsolute(uri) ? uri : resolve(options.baseDir ?? process.cwd(), uri));
}

/** Converts an image stack to float [0,1]; returns the per-sample shape without channel. */
function toFloatImages(a: NdArray, file: string, key: string): { n: number; dims: number[]; data: Float32Array } {
  let dims = a.shape.slice(1);
  if (dims.length >= 3 && dims[dims.length - 1] === 1) dims = dims.slice(0, -1);
  if (a.shape.length < 3 || dims.length < 2 || dims.length > 3) {
    throw new DataFormatError(
      file,
      `${key}.npy`,
      `expected images [N,H,W], [N,H,W,1] or [N,D,H,W], got (${a.shape.join(', ')})`,
    );
  }
  const out = new Float32Array(a.data.length);
  const src = a.data;
  let scale = 1;
  if (a.dtype === 'uint8') scale = 1 / 255;
  else if (a.dtype === 'uint16') scale = 1 / 65535;
  else if (a.dtype !== 'float32' && a.dtype !== 'float64' && a.dtype !== 'bool') {
    throw new DataFormatError(
      file,
      `${key}.npy`,
      `images must be uint8, uint16, bool or float in [0,1], got ${a.dtype}`,
    );
  }
  for (let i = 0; i < out.length; i++) {
    const v = Number(src[i] ?? 0) * scale;
    if (!(v >= 0 && v <= 1)) {
      throw new DataFormatError(file, `${key}.npy`, `float image values must lie in [0,1]; element ${i} is ${v}`);
    }
    out[i] = v;
  }
  return { n: a.shape[0] ?? 0, dims, data: out };
}

/** Bilinear (images) or nearest (masks) resize of a stack of 2D images. */
export function resizeStack<T extends Float32Array | Uint8Array>(
  src: T,
  n: number,
  h: number,
  w: number,
  size: number,
  nearest: boolean,
): T {
  const out = (src instanceof Float32Array ? new Float32Array(n * size * size) : new Uint8Array(n * size * size)) as T;
  const sy = h / size;
  const sx = w / size;
  for (let k = 0; k < n; k++) {
    const base = k * h * w;
    for (let y = 0; y < size; y++) {
      const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
      for (let x = 0; x < size; x++) {
        const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
        let v: number;
        if (nearest) v = src[base + Math.round(fy) * w + Math.round(fx)] ?? 0;
        else {
          const x0 = Math.floor(fx);
          const y0 = Math.floor(fy);
          const x1 = Math.min(w - 1, x0 + 1);
          const y1 = Math.min(h - 1, y0 + 1);
          const ax = fx - x0;
          const ay = fy - y0;
          v =
            (src[base + y0 * w + x0] ?? 0) * (1 - ax) * (1 - ay) +
            (src[base + y0 * w + x1] ?? 0) * ax * (1 - ay) +
            (src[base + y1 * w + x0] ?? 0) * (1 - ax) * ay +
            (src[base + y1 * w + x1] ?? 0) * ax * ay;
        }
        out[k * size * size + y * size + x] = v;
      }
    }
  }
  return out;
}

function toLabels(
  a: NdArray,
  file: string,
  key: string,
  n: number,
  classes: readonly string[],
  region: string,
): Int32Array {
  if (!(a.shape.length === 1 || (a.shape.length === 2 && a.shape[1] === 1)) || a.shape[0] !== n) {
    throw new DataFormatError(
      file,
      `${key}.npy`,
      `expected labels [${n}] or [${n},1] (one per image), got (${a.shape.join(', ')})`,
    );
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(a.data[i] ?? 0);
    if (!Number.isInteger(v) || v < 0 || v >= classes.length) {
      throw new DataFormatError(
        file,
        `${key}.npy`,
        `label ${v} of sample ${i} is outside region '${region}' label set (${classes.length} labels: ${classes.join(', ')})`,
      );
    }
    out[i] = v;
  }
  return out;
}

interface LoadedRegion {
  imageShape: number[];
  splits: Record<SplitName, Split>;
}

async function loadNpzRegion(
  region: RunSpec['regions'][number],
  index: number,
  source: { uri: string; imagesKey: string; labelsKey: string },
  size: number,
  options: LoadDatasetOptions,
): Promise<LoadedRegion> {
  const log = options.logger ?? silentLogger;
  const reader = await openSource(source.uri, options);
  try {
    const splits = {} as Record<SplitName, Split>;
    let imageShape: number[] | undefined;
    for (const split of SPLITS) {
      const ik = `${split}_${source.imagesKey}`;
      const lk = `${split}_${source.labelsKey}`;
      if (!reader.has(ik) || !reader.has(lk)) {
        if (split === 'val') {
          log.warn('npz has no validation split; using an empty one', { region: region.name, file: reader.file });
          splits.val = emptySplit(1, false, 1);
          continue;
        }
        throw new DataFormatError(
          reader.file,
          reader.has(ik) ? `${lk}.npy` : `${ik}.npy`,
          `missing; region '${region.name}' needs ${ik} and ${lk} (the archive has: ${reader.keys().join(', ')})`,
        );
      }
      const img = toFloatImages(await reader.read(ik), reader.file, ik);
      const labels = toLabels(await reader.read(lk), reader.file, lk, img.n, region.labels, region.name);
      const mk = `${split}_masks`;
      let masks: Uint8Array | undefined;
      if (reader.has(mk)) {
        const m = await reader.read(mk);
        if (
          m.shape.slice(0, img.dims.length + 1).join() !== [img.n, ...img.dims].join() ||
          !(m.data instanceof Uint8Array)
        ) {
          throw new DataFormatError(
            reader.file,
            `${mk}.npy`,
            `masks must be uint8 (${[img.n, ...img.dims].join(', ')}), got ${m.dtype} (${m.shape.join(', ')})`,
          );
        }
        masks = m.data;
      }
      let data = img.data;
      let dims = img.dims;
      const [h = 0, w = 0] = dims;
      if (dims.length === 2 && (h !== size || w !== size)) {
        data = resizeStack(data, img.n, h, w, size, false);
        if (masks) masks = resizeStack(masks, img.n, h, w, size, true);
        if (split === 'train')
          log.info('resized region images', { region: region.name, from: `${h}x${w}`, to: `${size}x${size}` });
        dims = [size, size];
      }
      const shape = [...dims, 1];
      if (imageShape && imageShape.join() !== shape.join()) {
        throw new DataFormatError(
          reader.file,
          `${ik}.npy`,
          `sample shape (${shape.join(', ')}) differs from the other splits (${imageShape.join(', ')})`,
        );
      }
      imageShape = shape;
      splits[split] = {
        n: img.n,
        images: data,
        labels,
        regions: new Int32Array(img.n).fill(index),
        ...(masks ? { masks } : {}),
      };
    }
    if (!imageShape) throw new DatasetError(`region '${region.name}' has no images`);
    const px = imageShape.reduce((a, b) => a * b, 1);
    if (splits.val.n === 0) splits.val = emptySplit(px, false, px);
    return { imageShape, splits };
  } finally {
    await reader.close();
  }
}

/**
 * Builds the multi-region dataset a run spec describes: each region from its npz file (MedMNIST layout,
 * `<split>_<imagesKey>` / `<split>_<labelsKey>` / optional `<split>_masks`) or from the phantom generator.
 * 2D images of another size are resized (bilinear) to `data.imageSize`. Region i gets index i.
 */
export async function loadDataset(spec: SpecPart, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const size = spec.data.imageSize;
  const loaded: LoadedRegion[] = [];
  for (const [index, region] of spec.regions.entries()) {
    const src = region.source;
    if (src.kind === 'npz') {
      loaded.push(await loadNpzRegion(region, index, src, size, options));
      continue;
    }
    const p = spec.data.phantom;
    const o = resolvePhantomOptions({ ...p, imageSize: size, regions: [src.anatomy ?? region.name] });
    const [anat] = phantomAnatomies(o.regions);
    if (!anat) throw new DatasetError(`region '${region.name}': no phantom anatomy`);
    if (anat.classes.length !== region.labels.length) {
      throw new DatasetError(
        `region '${region.name}': the phantom anatomy '${anat.name}' has ${anat.classes.length} finding classes ` +
          `(${anat.classes.join(', ')}) but the spec lists ${region.labels.length} labels`,
        { region: region.name, anatomy: anat.name, classes: anat.classes },
      );
    }
    const counts = { train: p.trainPerRegion, val: p.valPerRegion, test: p.testPerRegion };
    const splits = {} as Record<SplitName, Split>;
    for (const split of SPLITS) splits[split] = toSplit(generateRegionSplit(anat, split, counts[split], o), index);
    loaded.push({ imageShape: [size, size, 1], splits });
  }
  const first = loaded[0];
  if (!first) throw new DatasetError('the spec has no regions');
  loaded.forEach((l, i) => {
    if (l.imageShape.join() !== first.imageShape.join()) {
      throw new DatasetError(
        `region '${spec.regions[i]?.name}' has samples of shape (${l.imageShape.join(', ')}) but region ` +
          `'${spec.regions[0]?.name}' has (${first.imageShape.join(', ')}); all regions must match`,
      );
    }
  });
  const px = first.imageShape.reduce((a, b) => a * b, 1);
  const maskPx = px / (first.imageShape[first.imageShape.length - 1] ?? 1);
  const out = {} as Record<SplitName, Split>;
  for (const split of SPLITS)
    out[split] = concatSplits(
      loaded.map((l) => l.splits[split]),
      px,
      maskPx,
    );
  return withHash({
    imageShape: first.imageShape,
    regions: spec.regions.map((r) => ({ name: r.name, labels: [...r.labels] })),
    ...out,
  });
}
