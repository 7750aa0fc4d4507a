import { ValidationError } from '@lorkd/contracts';
import { z } from 'zod';

/** One region: its name, how many classes its head predicts, and its expert rank (0 = no expert). */
export const RegionConfigSchema = z
  .object({
    name: z.string().min(1, 'a region needs a name'),
    numClasses: z.number().int().min(2, 'a region head needs at least 2 classes'),
    rank: z.number().int().min(0).max(256).default(4),
  })
  .strict();
export type RegionConfig = z.infer<typeof RegionConfigSchema>;

/**
 * A student or teacher network. `family: 'resnet'` is a classifier (per-region dense heads on
 * globally pooled features), `family: 'unet'` a 2D segmenter (per-region 1x1 conv heads, one logit per
 * class and pixel). `experts: false` builds a plain network (teacher, or the MTL-KD baseline student).
 */
export const ModelConfigSchema = z
  .object({
    family: z.enum(['resnet', 'unet']),
    /** [height, width, channels] of one input image (NHWC without N). */
    inputShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
    /** Channels of the first stage; later stages double it. */
    width: z.number().int().min(1).max(2048),
    /** Residual blocks (resnet) or encoder stages (unet). */
    depth: z.number().int().min(1).max(32),
    /** GroupNorm groups; a layer uses the largest divisor of its channel count that is <= this. */
    groupNormGroups: z.number().int().min(1).default(4),
    regions: z.array(RegionConfigSchema).min(1, 'a model needs at least one region'),
    /** Expert scale numerator: s = alpha / rank. */
    alpha: z.number().positive().default(16),
    experts: z.boolean().default(true),
    seed: z.number().int().min(0).default(0),
    /** GroupNorm epsilon. */
    epsilon: z.number().positive().default(1e-5),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.regions.forEach((r, i) => {
      if (names.has(r.name))
        ctx.addIssue({ code: 'custom', path: ['regions', i, 'name'], message: `duplicate region '${r.name}'` });
      names.add(r.name);
    });
    if (c.family === 'unet') {
      const f = 2 ** (c.depth - 1);
      if (c.inputShape[0] % f !== 0 || c.inputShape[1] % f !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['inputShape'],
          message: `a U-Net of depth ${c.depth} needs height and width divisible by ${f} (got ${c.inputShape[0]}x${c.inputShape[1]}); lower the depth or resize the images`,
        });
      }
    }
  });
export type ModelConfig = z.infer<typeof ModelConfigSchema>;
export type ModelConfigInput = z.input<typeof ModelConfigSchema>;

/** Validates a model config, throwing a ValidationError that names every bad field. */
export function resolveModelConfig(input: ModelConfigInput): ModelConfig {
  const r = ModelConfigSchema.safeParse(input);
  if (!r.success) {
    throw new ValidationError(
      'model config',
      r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      { cause: r.error },
    );
  }
  return r.data;
}

/** Expert scale of a region: alpha / rank (0 when the region has no expert). */
export function expertScale(config: ModelConfig, region: number): number {
  const rank = config.regions[region]?.rank ?? 0;
  return config.experts && rank > 0 ? config.alpha / rank : 0;
}
