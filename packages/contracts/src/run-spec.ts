import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import { toValidationIssues } from './zod-issues.js';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const nameMessage = 'must be 1-63 lower-case letters, digits or dashes, starting and ending with a letter or digit';

/** Where a region's images come from. */
export const DataSourceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('npz'),
      /** `file:///abs/path.npz`, `s3://bucket/key.npz`, or a path relative to the spec file. */
      uri: z.string().min(1, 'must name the .npz file'),
      /** Key prefix inside the npz, e.g. `train` for `train_images`; splits are read as `<split>_images`. */
      imagesKey: z.string().default('images'),
      labelsKey: z.string().default('labels'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('phantom'),
      /** The phantom anatomy to draw; defaults to the region's own name. */
      anatomy: z.string().optional(),
    })
    .strict(),
]);
export type DataSource = z.infer<typeof DataSourceSchema>;

export const RegionSpecSchema = z
  .object({
    name: z.string().regex(NAME, nameMessage),
    labels: z
      .array(z.string().min(1, 'a label name must not be empty'))
      .min(2, 'a region needs at least 2 labels')
      .refine((l) => new Set(l).size === l.length, 'label names must be unique'),
    source: DataSourceSchema,
    /** Expert rank for this region; defaults to `model.expert.rank`. */
    rank: z.number().int().min(1).max(256).optional(),
  })
  .strict();
export type RegionSpec = z.infer<typeof RegionSpecSchema>;

export const PhantomSettingsSchema = z
  .object({
    seed: z.number().int().min(0).default(7),
    trainPerRegion: z.number().int().min(8).default(2000),
    valPerRegion: z.number().int().min(0).default(300),
    testPerRegion: z.number().int().min(8).default(500),
    /** 0 = regions agree on what patterns mean, 1 = maximal cross-region conflict. */
    conflict: z.number().min(0).max(1).default(0.7),
  })
  .strict();

export const DataSettingsSchema = z
  .object({
    imageSize: z.union([z.literal(28), z.literal(64), z.literal(128)]).default(64),
    phantom: PhantomSettingsSchema.default(() => PhantomSettingsSchema.parse({})),
  })
  .strict();

export const ExpertSettingsSchema = z
  .object({
    rank: z.number().int().min(1).max(256).default(4),
    alpha: z.number().positive().default(16),
  })
  .strict();

export const ModelSettingsSchema = z
  .object({
    family: z.enum(['resnet', 'unet']).default('resnet'),
    /** Channels of the first stage; later stages double it. */
    width: z.number().int().min(4).max(1024).default(16),
    /** Residual blocks (resnet) or encoder stages (unet). */
    depth: z.number().int().min(1).max(16).default(4),
    groupNormGroups: z.number().int().min(1).default(4),
    expert: ExpertSettingsSchema.default(() => ExpertSettingsSchema.parse({})),
  })
  .strict();

export const OptimizerSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('adamw'),
      lr: z.number().positive().max(10).default(1e-3),
      beta1: z.number().min(0).lt(1).default(0.9),
      beta2: z.number().min(0).lt(1).default(0.999),
      epsilon: z.number().positive().default(1e-8),
      weightDecay: z.number().min(0).default(1e-4),
    })
    .strict(),
  z
    .object({
      kind: z.literal('sgd'),
      lr: z.number().positive().max(10).default(0.05),
      momentum: z.number().min(0).lt(1).default(0.9),
      nesterov: z.boolean().default(false),
      weightDecay: z.number().min(0).default(0),
    })
    .strict(),
]);
export type OptimizerSettings = z.infer<typeof OptimizerSchema>;

export const ScheduleSchema = z
  .object({
    kind: z.enum(['cosine', 'constant']).default('cosine'),
    warmupSteps: z.number().int().min(0).default(0),
    /** Final learning rate as a fraction of the peak (cosine only). */
    minLrRatio: z.number().min(0).max(1).default(0.05),
  })
  .strict();

export const KdSettingsSchema = z
  .object({
    beta: z.number().min(0).default(1),
    temperature: z.number().positive().default(4),
  })
  .strict();

export const TeacherSpecSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('train'),
      width: z.number().int().min(4).max(2048).default(32),
      depth: z.number().int().min(1).max(32).default(4),
      steps: z.number().int().min(1).default(300),
    })
    .strict(),
  z
    .object({
      kind: z.literal('checkpoint'),
      /** A tfjs LayersModel saved by lorkd: `s3://…/model.json` or `file://…/model.json`. */
      uri: z.string().min(1),
    })
    .strict(),
]);

export const TrainingSettingsSchema = z
  .object({
    steps: z.number().int().min(1).max(10_000_000),
    batchPerRegion: z.number().int().min(1).max(4096).default(8),
    optimizer: OptimizerSchema.default(() => OptimizerSchema.parse({ kind: 'adamw' })),
    schedule: ScheduleSchema.default(() => ScheduleSchema.parse({})),
    kd: KdSettingsSchema.default(() => KdSettingsSchema.parse({})),
    /** Clip the global gradient norm to this value; absent = no clipping. */
    gradClipNorm: z.number().positive().optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(0),
    evalEvery: z.number().int().min(0).default(0),
  })
  .strict();

export const FailureBudgetsSchema = z
  .object({
    preemptions: z.number().int().min(0).default(100),
    crashes: z.number().int().min(0).default(5),
    hangs: z.number().int().min(0).default(3),
  })
  .strict();

export const ClusterSettingsSchema = z
  .object({
    workers: z.number().int().min(1).max(4096).default(1),
    checkpointEvery: z.number().int().min(1).default(50),
    keepCheckpoints: z.number().int().min(1).default(3),
    /** Seconds without a heartbeat or collective progress before a member counts as lost. */
    heartbeatTimeoutSec: z.number().positive().default(15),
    fp16Transport: z.boolean().default(false),
    backend: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu']).default('auto'),
    budgets: FailureBudgetsSchema.default(() => FailureBudgetsSchema.parse({})),
  })
  .strict();

const STORAGE_URL = /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|file:\/\/\/.*)$/;

export const RunSpecSchema = z
  .object({
    apiVersion: z.literal('lorkd/v1', { error: "must be 'lorkd/v1'" }),
    name: z.string().regex(NAME, nameMessage),
    task: z.enum(['classification', 'segmentation']).default('classification'),
    regions: z.array(RegionSpecSchema).min(1, 'a run needs at least one region').max(64),
    data: DataSettingsSchema.default(() => DataSettingsSchema.parse({})),
    model: ModelSettingsSchema.default(() => ModelSettingsSchema.parse({})),
    teacher: TeacherSpecSchema.default(() => TeacherSpecSchema.parse({ kind: 'train' })),
    training: TrainingSettingsSchema,
    cluster: ClusterSettingsSchema.default(() => ClusterSettingsSchema.parse({})),
    storage: z
      .object({
        /** `s3://bucket/prefix` or `file:///abs/dir`; absent = the deployment's LORKD_STORAGE_URL. */
        url: z.string().regex(STORAGE_URL, 'must be s3://BUCKET[/PREFIX] or file:///ABSOLUTE/PATH').optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const seen = new Map<string, number>();
    spec.regions.forEach((region, i) => {
      const first = seen.get(region.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['regions', i, 'name'],
          message: `duplicate region name '${region.name}' (also regions[${first}])`,
        });
      } else seen.set(region.name, i);
    });
    if (spec.task === 'segmentation' && spec.model.family !== 'unet') {
      ctx.addIssue({ code: 'custom', path: ['model', 'family'], message: "segmentation needs family 'unet'" });
    }
    if (spec.task === 'classification' && spec.model.family !== 'resnet') {
      ctx.addIssue({ code: 'custom', path: ['model', 'family'], message: "classification needs family 'resnet'" });
    }
    if (spec.training.schedule.warmupSteps > spec.training.steps) {
      ctx.addIssue({
        code: 'custom',
        path: ['training', 'schedule', 'warmupSteps'],
        message: `warmup (${spec.training.schedule.warmupSteps}) is longer than the run (${spec.training.steps} steps)`,
      });
    }
    if (spec.teacher.kind === 'train' && spec.teacher.width < spec.model.width) {
      ctx.addIssue({
        code: 'custom',
        path: ['teacher', 'width'],
        message: `the teacher (width ${spec.teacher.width}) should not be narrower than the student (${spec.model.width})`,
      });
    }
  });

export type RunSpec = z.infer<typeof RunSpecSchema>;
export type RunSpecInput = z.input<typeof RunSpecSchema>;

/** Validates an already-parsed object. Throws ValidationError naming every bad field. */
export function parseRunSpec(input: unknown): RunSpec {
  const result = RunSpecSchema.safeParse(input);
  if (!result.success) throw new ValidationError('run spec', toValidationIssues(result.error), { cause: result.error });
  return result.data;
}

/** Parses YAML (or JSON, which is YAML) text into a validated RunSpec. */
export function parseRunSpecYaml(text: string, source = 'run spec'): RunSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ValidationError(source, [{ path: '', message: `not valid YAML${where}: ${(err as Error).message}` }], {
      cause: err,
    });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ValidationError(source, [{ path: '', message: 'must be a YAML mapping (key: value lines)' }]);
  }
  return parseRunSpec(doc);
}
