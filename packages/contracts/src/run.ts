import { z } from 'zod';
import type { RunSpec } from './run-spec.js';

/** Why a generation ended early; each cause has its own retry budget. */
export const FailureCauseSchema = z.enum(['preempted', 'crashed', 'hung', 'bad-input', 'bug', 'storage', 'redis']);
export type FailureCause = z.infer<typeof FailureCauseSchema>;

/** The run state machine: pending → teacher → training → exporting → done, plus restarting/failed/cancelled. */
export const RunStateSchema = z.discriminatedUnion('phase', [
  z.object({ phase: z.literal('pending') }),
  z.object({ phase: z.literal('teacher'), step: z.number().int(), totalSteps: z.number().int() }),
  z.object({
    phase: z.literal('training'),
    generation: z.number().int(),
    step: z.number().int(),
    totalSteps: z.number().int(),
  }),
  z.object({
    phase: z.literal('restarting'),
    generation: z.number().int(),
    cause: FailureCauseSchema,
    reason: z.string(),
    fromStep: z.number().int(),
  }),
  z.object({ phase: z.literal('exporting') }),
  z.object({ phase: z.literal('done'), reportUrl: z.string() }),
  z.object({ phase: z.literal('failed'), cause: FailureCauseSchema, reason: z.string() }),
  z.object({ phase: z.literal('cancelled'), reason: z.string().optional() }),
]);
export type RunState = z.infer<typeof RunStateSchema>;
export type RunPhase = RunState['phase'];

export const TERMINAL_PHASES: readonly RunPhase[] = ['done', 'failed', 'cancelled'];

export const RegionProgressSchema = z.object({
  region: z.string(),
  step: z.number().int(),
  totalSteps: z.number().int(),
  loss: z.number().optional(),
  taskLoss: z.number().optional(),
  kdLoss: z.number().optional(),
  samplesPerSec: z.number().optional(),
  etaSec: z.number().optional(),
});
export type RegionProgress = z.infer<typeof RegionProgressSchema>;

export const RestartRecordSchema = z.object({
  at: z.string(),
  generation: z.number().int(),
  cause: FailureCauseSchema,
  reason: z.string(),
  fromStep: z.number().int(),
});
export type RestartRecord = z.infer<typeof RestartRecordSchema>;

export const CheckpointInfoSchema = z.object({
  step: z.number().int(),
  at: z.string(),
  bytes: z.number().int(),
  ms: z.number(),
});

/** What the coordinator keeps (in Redis) and serves about one run. */
export interface RunRecord {
  readonly id: string;
  readonly name: string;
  readonly spec: RunSpec;
  readonly state: RunState;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly generation: number;
  readonly storageUrl: string;
  readonly progress: Readonly<Record<string, RegionProgress>>;
  readonly restarts: readonly RestartRecord[];
  readonly lastCheckpoint?: z.infer<typeof CheckpointInfoSchema>;
}

/** The run's event stream (Redis stream → SSE → dashboard, `lorkd status --follow`). */
export const RunEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('state'), at: z.string(), state: RunStateSchema }),
  z.object({
    type: z.literal('progress'),
    at: z.string(),
    phase: z.enum(['teacher', 'training']),
    progress: z.array(RegionProgressSchema),
  }),
  z.object({ type: z.literal('checkpoint'), ...CheckpointInfoSchema.shape }),
  z.object({ type: z.literal('restart'), ...RestartRecordSchema.shape }),
  z.object({ type: z.literal('log'), at: z.string(), level: z.enum(['info', 'warn', 'error']), message: z.string() }),
]);
export type RunEvent = z.infer<typeof RunEventSchema>;

/** Job counts of one BullMQ queue, as `lorkd queues` and the dashboard show them. */
export interface QueueCounts {
  readonly name: string;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly completed: number;
  readonly failed: number;
  readonly paused: boolean;
}

/**
 * What the coordinator offers its HTTP API and the CLI. Implemented by the coordinator app over
 * Redis/BullMQ/storage; the HTTP layer and dashboard only see this interface.
 */
export interface RunService {
  create(spec: RunSpec): Promise<RunRecord>;
  list(): Promise<RunRecord[]>;
  get(id: string): Promise<RunRecord | undefined>;
  cancel(id: string, reason?: string): Promise<RunRecord>;
  resume(id: string): Promise<RunRecord>;
  /** Past events from `sinceId` (exclusive), then live ones until `signal` aborts. */
  events(
    id: string,
    options: { sinceId?: string; signal: AbortSignal },
  ): AsyncIterable<{ id: string; event: RunEvent }>;
  queues(): Promise<QueueCounts[]>;
}
