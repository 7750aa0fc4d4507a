import type { RunEvent, RunRecord } from '@lorkd/contracts';
import type { AllReduce } from './slot/slot-loop.js';

/** One joined generation of a job run: its collectives, and leaving (stops the heartbeat). */
export interface GenerationSession {
  readonly generation: number;
  readonly allReduce: AllReduce;
  leave(): Promise<void>;
}

/** Generations (fence + rendezvous + heartbeats + collectives) of job runs, as @lorkd/cluster provides them. */
export interface GenerationPort {
  /** The generation now open for `jobRunId`, or null when none is (run over or cancelled). */
  current(jobRunId: string): Promise<number | null>;
  /** Joins `generation` as `rank` and waits for all `worldSize` members (throws when fenced or timed out). */
  join(
    jobRunId: string,
    generation: number,
    rank: number,
    worldSize: number,
    options: {
      signal: AbortSignal;
      timeoutMs: number;
      collectiveTimeoutMs: number;
      heartbeatTtlMs: number;
      fp16: boolean;
    },
  ): Promise<GenerationSession>;
}

/** The parts of the run store a worker uses. */
export interface RunRecordsPort {
  get(runId: string): Promise<RunRecord | undefined>;
  update(
    runId: string,
    patch: (current: RunRecord) => Partial<Pick<RunRecord, 'progress' | 'lastCheckpoint'>>,
  ): Promise<unknown>;
  appendEvent(runId: string, event: RunEvent): Promise<unknown>;
}

/** Errors of the generation port that mean "this generation is over; rejoin the next one". */
export function isGenerationEnd(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'E_GENERATION_FENCED' || code === 'E_COLLECTIVE_TIMEOUT';
}
