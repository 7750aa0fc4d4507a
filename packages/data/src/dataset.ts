import { createHash } from 'node:crypto';

export type SplitName = 'train' | 'val' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

/** One split of a multi-region dataset; sample i is `images[i*pixels .. (i+1)*pixels)`. */
export interface Split {
  readonly n: number;
  /** `[n, ...imageShape]` (e.g. `[n,H,W,1]`), values in [0,1]. */
  readonly images: Float32Array;
  readonly labels: Int32Array;
  /** Index into `Dataset.regions`. */
  readonly regions: Int32Array;
  /** `[n, ...imageShape without channel]` segmentation masks (0 = background) where the source has them. */
  readonly masks?: Uint8Array;
  /** Subject ids (unique within a region) where known; splits never share a subject. */
  readonly subjects?: Int32Array;
}

export interface RegionInfo {
  readonly name: string;
  readonly labels: readonly string[];
}

export interface Dataset {
  /** Per-sample shape including the channel: `[H,W,1]`, or `[D,H,W,1]` for volumes. */
  readonly imageShape: readonly number[];
  readonly regions: readonly RegionInfo[];
  readonly train: Split;
  readonly val: Split;
  readonly test: Split;
  /** sha256 (hex) of the content: region names, label sets, shapes and every array of every split. */
  readonly hash: string;
}

export function pixelsPerSample(imageShape: readonly number[]): number {
  return imageShape.reduce((a, b) => a * b, 1);
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The content hash: stable across runs and machines (little-endian bytes of every array). */
export function datasetHash(d: Omit<Dataset, 'hash'>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: 1, imageShape: d.imageShape, regions: d.regions }));
  for (const name of SPLITS) {
    const s = d[name];
    h.update(JSON.stringify({ split: name, n: s.n, masks: s.masks !== undefined }));
    h.update(bytesOf(s.images));
    h.update(bytesOf(s.labels));
    h.update(bytesOf(s.regions));
    if (s.masks) h.update(bytesOf(s.masks));
  }
  return h.digest('hex');
}

/** Stamps the content hash onto a dataset. */
export function withHash(d: Omit<Dataset, 'hash'>): Dataset {
  return { ...d, hash: datasetHash(d) };
}

export function emptySplit(pixels: number, withMasks: boolean, maskPixels: number): Split {
  return {
    n: 0,
    images: new Float32Array(0 * pixels),
    labels: new Int32Array(0),
    regions: new Int32Array(0),
    ...(withMasks ? { masks: new Uint8Array(0 * maskPixels) } : {}),
  };
}

/** Concatenates splits (all with the same per-sample shape); masks kept only when every part has them. */
export function concatSplits(parts: readonly Split[], pixels: number, maskPixels: number): Split {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const images = new Float32Array(n * pixels);
  const labels = new Int32Array(n);
  const regions = new Int32Array(n);
  const allMasks = parts.length > 0 && parts.every((p) => p.masks !== undefined);
  const allSubjects = parts.length > 0 && parts.every((p) => p.subjects !== undefined);
  const masks = allMasks ? new Uint8Array(n * maskPixels) : undefined;
  const subjects = allSubjects ? new Int32Array(n) : undefined;
  let o = 0;
  for (const p of parts) {
    images.set(p.images, o * pixels);
    labels.set(p.labels, o);
    regions.set(p.regions, o);
    if (masks && p.masks) masks.set(p.masks, o * maskPixels);
    if (subjects && p.subjects) subjects.set(p.subjects, o);
    o += p.n;
  }
  return { n, images, labels, regions, ...(masks ? { masks } : {}), ...(subjects ? { subjects } : {}) };
}
