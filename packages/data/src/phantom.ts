import { z } from 'zod';
import { concatSplits, type Dataset, SPLITS, type Split, type SplitName, withHash } from './dataset.js';
import { DatasetError } from './errors.js';
import { ANATOMIES, type AnatomyDef, anatomyByName } from './phantom-anatomy.js';
import { drawFinding, placeFoci, renderImage } from './phantom-render.js';
import { hashInts, hashString, Rng } from './rng.js';

export const DEFAULT_PHANTOM_REGIONS: readonly string[] = ANATOMIES.map((a) => a.name);

export const PhantomOptionsSchema = z
  .object({
    /** Anatomy names (default: all 7), or a count taking the first N. */
    regions: z
      .union([z.array(z.string().min(1)).min(1), z.number().int().min(1).max(ANATOMIES.length)])
      .default(() => [...DEFAULT_PHANTOM_REGIONS]),
    seed: z.number().int().min(0).default(7),
    imageSize: z.union([z.literal(28), z.literal(64), z.literal(128)]).default(64),
    trainPerRegion: z.number().int().min(0).default(2000),
    valPerRegion: z.number().int().min(0).default(300),
    testPerRegion: z.number().int().min(0).default(500),
    /** 0 = regions agree on what patterns mean; 1 = maximal cross-region conflict. */
    conflict: z.number().min(0).max(1).default(0.7),
    /** Images drawn from one subject (same anatomy, different findings); splits never share a subject. */
    imagesPerSubject: z.number().int().min(1).max(64).default(4),
    masks: z.boolean().default(true),
    /** Slices of a 3D volume (`[D,S,S]` samples); 0 = 2D images. */
    depth: z.number().int().min(0).max(128).default(0),
  })
  .strict();
export type PhantomOptions = z.input<typeof PhantomOptionsSchema>;
export type ResolvedPhantomOptions = z.output<typeof PhantomOptionsSchema>;

export function resolvePhantomOptions(options: PhantomOptions = {}): ResolvedPhantomOptions {
  const r = PhantomOptionsSchema.safeParse(options);
  if (!r.success) {
    throw new DatasetError(
      `invalid phantom options: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      { issues: r.error.issues },
    );
  }
  return r.data;
}

export function phantomAnatomies(regions: ResolvedPhantomOptions['regions']): AnatomyDef[] {
  const names = typeof regions === 'number' ? DEFAULT_PHANTOM_REGIONS.slice(0, regions) : regions;
  return names.map((name) => {
    const a = anatomyByName(name);
    if (!a) {
      throw new DatasetError(`unknown phantom anatomy '${name}'; choose from: ${DEFAULT_PHANTOM_REGIONS.join(', ')}`, {
        anatomy: name,
      });
    }
    return a;
  });
}

/** Raw uint8 output for one region and split (the npz layout). */
export interface RawRegionSplit {
  n: number;
  images: Uint8Array;
  labels: Uint8Array;
  masks: Uint8Array | undefined;
  subjects: Int32Array;
}

const SPLIT_TAG: Record<SplitName, number> = { train: 1, val: 2, test: 3 };

/**
 * Generates one region's split. Deterministic: every image is a pure function of
 * (seed, anatomy, split, subject, image-in-subject, conflict, size), independent of other regions.
 */
export function generateRegionSplit(
  anat: AnatomyDef,
  split: SplitName,
  n: number,
  o: ResolvedPhantomOptions,
): RawRegionSplit {
  const size = o.imageSize;
  const slices = Math.max(1, o.depth);
  const px = size * size * slices;
  const images = new Uint8Array(n * px);
  const labels = new Uint8Array(n);
  const masks = o.masks ? new Uint8Array(n * px) : undefined;
  const subjects = new Int32Array(n);
  const buf = new Float32Array(size * size);
  const regionKey = hashInts(o.seed, hashString(anat.name));
  // Subject ids are disjoint across splits: split tag in the high part.
  let i = 0;
  for (let s = 0; i < n; s++) {
    const subjectId = SPLIT_TAG[split] * 1_000_000 + s;
    const subjectKey = hashInts(regionKey, subjectId);
    const srng = new Rng(subjectKey);
    const anatomy = anat.subject(srng);
    const flipped = anat.tissuesAlt !== undefined && srng.next() < 0.5;
    for (let k = 0; k < o.imagesPerSubject && i < n; k++, i++) {
      const rng = new Rng(hashInts(subjectKey, k, 0x51ed));
      const finding = drawFinding(anat, rng, o.conflict, flipped);
      const foci = placeFoci(anat, anatomy, finding, rng);
      if (o.depth === 0)
        renderImage(anat, anatomy, finding, foci, undefined, rng, size, buf, images, i * px, masks, i * px);
      else {
        // 3D: the anatomy is extruded with ellipsoidal ends, each focus is an ellipsoid around its own depth.
        const zc = foci.map(() => 0.3 * rng.normal());
        const rz = foci.map((f) => Math.sqrt(f.rx * f.ry));
        for (let d = 0; d < slices; d++) {
          const zz = ((d + 0.5) / slices) * 2 - 1;
          const k = Math.sqrt(Math.max(0, 1 - (zz / 1.15) ** 2));
          const slice = { ...anatomy, shapes: anatomy.shapes.map((s) => ({ ...s, rx: s.rx * k, ry: s.ry * k })) };
          const scale = foci.map((_, f) =>
            Math.sqrt(Math.max(0, 1 - ((zz - (zc[f] as number)) / (rz[f] as number)) ** 2)),
          );
          const off = i * px + d * size * size;
          renderImage(anat, slice, finding, foci, scale, rng, size, buf, images, off, masks, off);
        }
      }
      labels[i] = finding.label;
      subjects[i] = subjectId;
    }
  }
  return { n, images, labels, masks, subjects };
}

function perSplit(o: ResolvedPhantomOptions, split: SplitName): number {
  return split === 'train' ? o.trainPerRegion : split === 'val' ? o.valPerRegion : o.testPerRegion;
}

/** Converts a raw region split into the in-memory float layout. */
export function toSplit(raw: RawRegionSplit, regionIndex: number): Split {
  const images = new Float32Array(raw.images.length);
  for (let i = 0; i < raw.images.length; i++) images[i] = (raw.images[i] ?? 0) / 255;
  const labels = Int32Array.from(raw.labels);
  const regions = new Int32Array(raw.n).fill(regionIndex);
  return { n: raw.n, images, labels, regions, subjects: raw.subjects, ...(raw.masks ? { masks: raw.masks } : {}) };
}

/** The phantom benchmark in memory: per-split Float32 images `[n,H,W,1]`, labels, region indices, masks. */
export function generatePhantoms(options: PhantomOptions = {}): Dataset {
  const o = resolvePhantomOptions(options);
  const anats = phantomAnatomies(o.regions);
  const px = o.imageSize * o.imageSize * Math.max(1, o.depth);
  const splits = {} as Record<SplitName, Split>;
  for (const split of SPLITS) {
    const parts = anats.map((a, r) => toSplit(generateRegionSplit(a, split, perSplit(o, split), o), r));
    splits[split] = concatSplits(parts, px, px);
  }
  return withHash({
    imageShape: o.depth > 0 ? [o.depth, o.imageSize, o.imageSize, 1] : [o.imageSize, o.imageSize, 1],
    regions: anats.map((a) => ({ name: a.name, labels: [...a.classes] })),
    ...splits,
  });
}

export { ANATOMIES, type AnatomyDef, anatomyByName };
