import { z } from 'zod';
import { type Dataset, pixelsPerSample, type SplitName } from './dataset.js';
import { DatasetError } from './errors.js';
import { hashInts, uniformAt } from './rng.js';

export const AugmentOptionsSchema = z
  .object({
    /** Mirror left/right with probability 1/2 (off by default: some findings are lateral). */
    flip: z.boolean().default(false),
    /** Max rotation, degrees. */
    rotateDeg: z.number().min(0).max(180).default(8),
    /** Max relative scale change (0.08 = ±8%). */
    scale: z.number().min(0).max(0.5).default(0.06),
    /** Max shift, as a fraction of the image side. */
    translate: z.number().min(0).max(0.5).default(0.05),
    /** Max relative intensity gain change and additive offset. */
    gain: z.number().min(0).max(1).default(0.08),
    offset: z.number().min(0).max(1).default(0.04),
  })
  .strict();
export type AugmentOptions = z.input<typeof AugmentOptionsSchema>;

export interface Batch {
  readonly n: number;
  /** `[n, ...imageShape]` float32 in [0,1]. */
  readonly x: Float32Array;
  readonly labels: Int32Array;
  readonly regions: Int32Array;
  readonly masks?: Uint8Array;
}

export interface GatherOptions {
  readonly split?: SplitName;
  /** Counter-based augmentation keyed by (seed, step, sample index): resumable and worker-independent. */
  readonly augment?: { readonly seed: number; readonly step: number; readonly options?: AugmentOptions };
}

/** Copies the listed samples of a split into one contiguous batch, augmenting 2D images if asked. */
export function gatherBatch(dataset: Dataset, indices: ArrayLike<number>, options: GatherOptions = {}): Batch {
  const split = dataset[options.split ?? 'train'];
  const px = pixelsPerSample(dataset.imageShape);
  const maskPx = px / (dataset.imageShape[dataset.imageShape.length - 1] ?? 1);
  const n = indices.length;
  const x = new Float32Array(n * px);
  const labels = new Int32Array(n);
  const regions = new Int32Array(n);
  const masks = split.masks ? new Uint8Array(n * maskPx) : undefined;
  const aug = options.augment ? AugmentOptionsSchema.parse(options.augment.options ?? {}) : undefined;
  if (aug && dataset.imageShape.length !== 3) throw new DatasetError('augmentation supports 2D images only');
  for (let k = 0; k < n; k++) {
    const i = indices[k] ?? -1;
    if (!Number.isInteger(i) || i < 0 || i >= split.n) {
      throw new DatasetError(`sample index ${i} is outside the ${options.split ?? 'train'} split (n = ${split.n})`);
    }
    labels[k] = split.labels[i] ?? 0;
    regions[k] = split.regions[i] ?? 0;
    const src = split.images.subarray(i * px, (i + 1) * px);
    const srcMask = split.masks?.subarray(i * maskPx, (i + 1) * maskPx);
    if (aug && options.augment) {
      const key = hashInts(options.augment.seed, options.augment.step, i);
      augment2d(
        src,
        srcMask,
        dataset.imageShape[0] ?? 0,
        dataset.imageShape[1] ?? 0,
        key,
        aug,
        x,
        k * px,
        masks,
        k * maskPx,
      );
    } else {
      x.set(src, k * px);
      if (masks && srcMask) masks.set(srcMask, k * maskPx);
    }
  }
  return { n, x, labels, regions, ...(masks ? { masks } : {}) };
}

/** One affine + flip + intensity draw, bilinear for images and nearest for masks (single channel). */
function augment2d(
  src: Float32Array,
  srcMask: Uint8Array | undefined,
  h: number,
  w: number,
  key: number,
  o: z.output<typeof AugmentOptionsSchema>,
  out: Float32Array,
  outOff: number,
  masks: Uint8Array | undefined,
  maskOff: number,
): void {
  const u = (i: number) => uniformAt(key, i) * 2 - 1;
  const flip = o.flip && uniformAt(key, 0) < 0.5 ? -1 : 1;
  const angle = (u(1) * o.rotateDeg * Math.PI) / 180;
  const s = 1 + u(2) * o.scale;
  const tx = u(3) * o.translate * w;
  const ty = u(4) * o.translate * h;
  const gain = 1 + u(5) * o.gain;
  const off = u(6) * o.offset;
  const cos = Math.cos(angle) / s;
  const sin = Math.sin(angle) / s;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Inverse map output pixel → source coordinates.
      const dx = (x - cx - tx) * flip;
      const dy = y - cy - ty;
      const sx = cos * dx + sin * dy + cx;
      const sy = -sin * dx + cos * dy + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const at = (xx: number, yy: number) => (xx < 0 || yy < 0 || xx >= w || yy >= h ? 0 : (src[yy * w + xx] ?? 0));
      const v =
        at(x0, y0) * (1 - fx) * (1 - fy) +
        at(x0 + 1, y0) * fx * (1 - fy) +
        at(x0, y0 + 1) * (1 - fx) * fy +
        at(x0 + 1, y0 + 1) * fx * fy;
      const g = v * gain + off;
      out[outOff + y * w + x] = g < 0 ? 0 : g > 1 ? 1 : g;
      if (masks && srcMask) {
        const nx = Math.round(sx);
        const ny = Math.round(sy);
        masks[maskOff + y * w + x] = nx < 0 || ny < 0 || nx >= w || ny >= h ? 0 : (srcMask[ny * w + nx] ?? 0);
      }
    }
  }
}
