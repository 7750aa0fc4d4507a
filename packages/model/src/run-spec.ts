import type { RunSpec } from '@lorkd/contracts';
import type { ModelConfigInput } from './config.js';

export interface RunModelConfigs {
  /** The LoRKD student (experts per region). */
  readonly student: Omit<ModelConfigInput, 'experts'>;
  /** The teacher to train, or undefined when the spec loads a teacher checkpoint. */
  readonly teacher: Omit<ModelConfigInput, 'experts'> | undefined;
}

/**
 * Model configs of a run: family, size and groups from `model.*`, teacher width/depth from `teacher.*`,
 * one region per `regions[]` (classes = its labels, rank = its rank or `model.expert.rank`), square
 * images of `data.imageSize` with `channels` channels (default 1), seed from `training.seed`.
 */
export function modelConfigsFromRunSpec(spec: RunSpec, channels = 1): RunModelConfigs {
  const regions = spec.regions.map((r) => ({
    name: r.name,
    numClasses: r.labels.length,
    rank: r.rank ?? spec.model.expert.rank,
  }));
  const inputShape: [number, number, number] = [spec.data.imageSize, spec.data.imageSize, channels];
  const student = {
    family: spec.model.family,
    inputShape,
    width: spec.model.width,
    depth: spec.model.depth,
    groupNormGroups: spec.model.groupNormGroups,
    regions,
    alpha: spec.model.expert.alpha,
    seed: spec.training.seed,
  };
  const teacher =
    spec.teacher.kind === 'train'
      ? { ...student, width: spec.teacher.width, depth: spec.teacher.depth, seed: spec.training.seed + 1 }
      : undefined;
  return { student, teacher };
}
