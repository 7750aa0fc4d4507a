import { z } from 'zod';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

/** A JSON value (sampler cursor, RNG state): whatever the runtime needs to resume exactly. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
const JsonValueSchema: z.ZodType<JsonValue> = z.json() as z.ZodType<JsonValue>;

export const TensorDtypeSchema = z.enum(['float32', 'int32']);
export type TensorDtype = z.infer<typeof TensorDtypeSchema>;

/** One tensor of a checkpoint: a content-addressed blob of its raw little-endian bytes. */
export const TensorEntrySchema = z.object({
  name: z.string().min(1),
  dtype: TensorDtypeSchema,
  shape: z.array(z.number().int().min(0)),
  sha256,
  bytes: z.number().int().min(0),
});
export type TensorEntry = z.infer<typeof TensorEntrySchema>;

/** `checkpoints/STEP/manifest.json`: written last, after every blob it names is stored. */
export const CheckpointManifestSchema = z.object({
  format: z.literal('lorkd.checkpoint'),
  version: z.literal(1),
  runId: z.string().min(1),
  step: z.number().int().min(0),
  generation: z.number().int().min(0),
  createdAt: z.string(),
  tensors: z.array(TensorEntrySchema),
  sampler: JsonValueSchema,
  rng: JsonValueSchema,
  metrics: z.record(z.string(), z.number()),
  specHash: z.string(),
  datasetHash: z.string(),
  /** Who wrote it (worker id, rank), for the logs. */
  writer: z.string().optional(),
});
export type CheckpointManifest = z.infer<typeof CheckpointManifestSchema>;

/** `LATEST`: the newest committed checkpoint, advanced only forward. */
export const LatestPointerSchema = z.object({
  format: z.literal('lorkd.latest'),
  version: z.literal(1),
  step: z.number().int().min(0),
  generation: z.number().int().min(0),
  /** Key of the manifest, relative to the run. */
  manifest: z.string(),
  manifestSha256: sha256,
  at: z.string(),
});
export type LatestPointer = z.infer<typeof LatestPointerSchema>;

const STEP_DIGITS = 12;

/** Zero-padded so that listings sort by step. */
export function stepSegment(step: number): string {
  return String(step).padStart(STEP_DIGITS, '0');
}

export function parseStepSegment(segment: string): number | undefined {
  return /^\d+$/.test(segment) ? Number(segment) : undefined;
}
