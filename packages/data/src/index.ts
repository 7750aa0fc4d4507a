export { type AugmentOptions, AugmentOptionsSchema, type Batch, type GatherOptions, gatherBatch } from './batch.js';
export { type ByteSource, bufferSource, fileSource } from './byte-source.js';
export {
  concatSplits,
  type Dataset,
  datasetHash,
  pixelsPerSample,
  type RegionInfo,
  SPLITS,
  type Split,
  type SplitName,
  withHash,
} from './dataset.js';
export { DataFormatError, DatasetError } from './errors.js';
export { type InspectedMember, type InspectResult, inspectNpz } from './inspect.js';
export { type LoadDatasetOptions, loadDataset, type ObjectReader, resizeStack } from './load-dataset.js';
export {
  decodeNpy,
  encodeNpy,
  encodeNpyHeader,
  type NdArray,
  type NpyData,
  type NpyDtype,
  type NpyHeader,
  parseNpyHeader,
} from './npy.js';
export { encodeNpz, type NpzArrays, type NpzMemberInfo, NpzReader, readNpz, writeNpz } from './npz.js';
export {
  DEFAULT_PHANTOM_REGIONS,
  generatePhantoms,
  generateRegionSplit,
  type PhantomOptions,
  PhantomOptionsSchema,
  type ResolvedPhantomOptions,
  resolvePhantomOptions,
} from './phantom.js';
export { ANATOMIES, type AnatomyDef, type Feature, type Modality } from './phantom-anatomy.js';
export { type WritePhantomOptions, type WrittenPhantoms, writePhantomDataset } from './phantom-io.js';
export { encodePng } from './png.js';
export { fmix32, hashInts, hashString, Rng, uniformAt } from './rng.js';
export { Sampler, type SamplerOptions, type ShardAssignment } from './sampler.js';
export type { ZipWriterOptions } from './zip-writer.js';
