import { fileURLToPath } from 'node:url';
import { LorkdError, type RunSpec } from '@lorkd/contracts';
import { type Dataset, DatasetError, generatePhantoms, type NdArray, readNpz, withHash } from '@lorkd/data';

/** The spec's data could not be found or does not fit the spec (a bad-input failure: retrying will not help). */
export class RunDataError extends LorkdError {
  constructor(message: string, fields: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    super('E_BAD_INPUT', message, { fields, cause: options.cause });
  }
}

/**
 * The dataset of a run, built from its spec: phantom regions are generated (deterministic by seed);
 * `npz` regions are read from `file://` URIs or absolute paths (one region per file, its labels as
 * the region's label set). Every problem names the region and what to change.
 */
export async function loadRunDataset(spec: RunSpec): Promise<Dataset> {
  const kinds = new Set(spec.regions.map((r) => r.source.kind));
  if (kinds.size > 1)
    throw new RunDataError(
      'mixing phantom and npz regions in one run is not supported yet: use one kind for all regions',
    );
  if (kinds.has('phantom')) {
    const p = spec.data.phantom;
    const anatomies = spec.regions.map((r) => (r.source.kind === 'phantom' ? (r.source.anatomy ?? r.name) : r.name));
    let data: Dataset;
    try {
      data = generatePhantoms({
        regions: anatomies,
        seed: p.seed,
        imageSize: spec.data.imageSize,
        trainPerRegion: p.trainPerRegion,
        valPerRegion: p.valPerRegion,
        testPerRegion: p.testPerRegion,
        conflict: p.conflict,
        masks: spec.task === 'segmentation',
      });
    } catch (err) {
      throw new RunDataError(`cannot generate the phantom data: ${(err as Error).message}`, {}, { cause: err });
    }
    spec.regions.forEach((r, i) => {
      const have = data.regions[i]?.labels.length ?? 0;
      if (have !== r.labels.length)
        throw new RunDataError(
          `region '${r.name}': the phantom anatomy '${anatomies[i]}' has ${have} classes (${data.regions[i]?.labels.join(', ')}) but the spec lists ${r.labels.length} labels; list ${have} labels`,
          { region: r.name },
        );
    });
    return withHash({ ...data, regions: spec.regions.map((r) => ({ name: r.name, labels: [...r.labels] })) });
  }
  return loadNpzRegions(spec);
}

async function loadNpzRegions(spec: RunSpec): Promise<Dataset> {
  const parts: Dataset[] = [];
  for (const region of spec.regions) {
    if (region.source.kind !== 'npz') continue;
    const uri = region.source.uri;
    let path: string;
    if (uri.startsWith('file://')) path = fileURLToPath(uri);
    else if (uri.startsWith('/')) path = uri;
    else
      throw new RunDataError(
        `region '${region.name}': dataset URI ${JSON.stringify(uri)} is not supported by workers yet; use file:///ABSOLUTE/PATH.npz`,
        { region: region.name, uri },
      );
    let arrays: NpzArrays;
    try {
      arrays = await readNpz(path);
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why = code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new RunDataError(
        `region '${region.name}': cannot read dataset ${uri}: ${why}`,
        { region: region.name, uri },
        {
          cause: err,
        },
      );
    }
    parts.push(npzToDataset(region.name, region.labels, arrays, uri));
  }
  return mergeRegions(parts);
}

type NpzArrays = Map<string, NdArray>;

function npzToDataset(name: string, labels: readonly string[], arrays: NpzArrays, uri: string): Dataset {
  const splits = {} as Record<'train' | 'val' | 'test', Dataset['train']>;
  let imageShape: number[] = [];
  for (const split of ['train', 'val', 'test'] as const) {
    const img = arrays.get(`${split}_images`);
    const lab = arrays.get(`${split}_labels`);
    if (!img || !lab)
      throw new RunDataError(`region '${name}': ${uri} has no ${split}_images/${split}_labels arrays`, {
        region: name,
        uri,
      });
    const n = img.shape[0] ?? 0;
    const shape = [...img.shape.slice(1)];
    if (shape.length === 2) shape.push(1);
    imageShape = shape;
    const images = new Float32Array(img.data.length);
    for (let i = 0; i < images.length; i++) images[i] = Number(img.data[i] ?? 0) / 255;
    const ls = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(lab.data[i] ?? 0);
      if (v < 0 || v >= labels.length)
        throw new RunDataError(
          `region '${name}': ${uri} ${split}_labels has class ${v} but the spec lists ${labels.length} labels`,
          { region: name, uri },
        );
      ls[i] = v;
    }
    splits[split] = { n, images, labels: ls, regions: new Int32Array(n) };
  }
  return withHash({ imageShape, regions: [{ name, labels: [...labels] }], ...splits });
}

function mergeRegions(parts: Dataset[]): Dataset {
  const first = parts[0];
  if (!first) throw new DatasetError('a run needs at least one region');
  const shape = JSON.stringify(first.imageShape);
  for (const p of parts)
    if (JSON.stringify(p.imageShape) !== shape)
      throw new RunDataError(
        `region '${p.regions[0]?.name}' has images of shape [${p.imageShape}] but '${first.regions[0]?.name}' has [${first.imageShape}]; all regions need one size`,
      );
  const merge = (split: 'train' | 'val' | 'test') => {
    const n = parts.reduce((a, p) => a + p[split].n, 0);
    const px = first.imageShape.reduce((a, b) => a * b, 1);
    const images = new Float32Array(n * px);
    const labels = new Int32Array(n);
    const regions = new Int32Array(n);
    let at = 0;
    parts.forEach((p, r) => {
      const s = p[split];
      images.set(s.images, at * px);
      labels.set(s.labels, at);
      regions.fill(r, at, at + s.n);
      at += s.n;
    });
    return { n, images, labels, regions };
  };
  return withHash({
    imageShape: first.imageShape,
    regions: parts.flatMap((p) => p.regions),
    train: merge('train'),
    val: merge('val'),
    test: merge('test'),
  });
}
