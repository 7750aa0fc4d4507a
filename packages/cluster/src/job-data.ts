import { z } from 'zod';

/** Names of the two BullMQ queues. */
export const QUEUE_NAMES = { control: 'lorkd-control', train: 'lorkd-train' } as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

const runId = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9_.-]+$/, 'run ids use letters, digits, _ . - only');

/** A region hosted by a slot: which replica of that region this slot is (0-based) and how many there are. */
export const SlotRegionSchema = z.object({
  region: z.string().min(1),
  replica: z.number().int().nonnegative(),
  replicas: z.number().int().positive(),
});
export type SlotRegion = z.infer<typeof SlotRegionSchema>;

/** A sync group: `shared` (all ranks) or `expert:<region>` (the ranks hosting that region), ranks ascending. */
export const GroupMembershipSchema = z.object({
  name: z.string().regex(/^(shared|expert:.+)$/, "group names are 'shared' or 'expert:<region>'"),
  ranks: z.array(z.number().int().nonnegative()).min(1),
});
export type GroupMembership = z.infer<typeof GroupMembershipSchema>;

/** Payload of a slot job on `lorkd-train`: one worker seat of a run. */
export const SlotJobDataSchema = z.object({
  kind: z.literal('slot'),
  runId,
  /** Generation the job was enqueued for; the current one is the run's fence (see GenerationFence). */
  generation: z.number().int().nonnegative(),
  /** This seat's rank, 0 ≤ slot < worldSize. */
  slot: z.number().int().nonnegative(),
  worldSize: z.number().int().positive(),
  regions: z.array(SlotRegionSchema).min(1),
  /** Every group this slot is a member of (always includes `shared`). */
  groups: z.array(GroupMembershipSchema).min(1),
});
export type SlotJobData = z.infer<typeof SlotJobDataSchema>;

/** Payload of the export job on `lorkd-control` (parent of a run's slot jobs). */
export const ExportJobDataSchema = z.object({ kind: z.literal('export'), runId });
export type ExportJobData = z.infer<typeof ExportJobDataSchema>;

/** Payload of a plan job on `lorkd-control` (plan a new run or a resume). */
export const PlanJobDataSchema = z.object({ kind: z.literal('plan'), runId, resume: z.boolean().default(false) });
export type PlanJobData = z.infer<typeof PlanJobDataSchema>;

export const ControlJobDataSchema = z.discriminatedUnion('kind', [ExportJobDataSchema, PlanJobDataSchema]);
export type ControlJobData = z.infer<typeof ControlJobDataSchema>;

/** What a finished slot job returns (stored by BullMQ, read by the export job via `childrenValues`). */
export const SlotJobResultSchema = z.object({
  runId,
  slot: z.number().int().nonnegative(),
  generation: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  outcome: z.enum(['finished', 'superseded', 'cancelled']),
});
export type SlotJobResult = z.infer<typeof SlotJobResultSchema>;
