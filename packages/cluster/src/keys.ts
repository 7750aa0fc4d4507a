/** Redis key layout of lorkd's own (non-BullMQ) keys, all under the deployment's queue prefix. */
export const keys = {
  runIndex: (p: string) => `${p}:runs`,
  run: (p: string, runId: string) => `${p}:runs:${runId}`,
  runEvents: (p: string, runId: string) => `${p}:runs:${runId}:events`,
  fence: (p: string, runId: string) => `${p}:runs:${runId}:fence`,
  rendezvous: (p: string, runId: string, generation: number) => `${p}:rdv:${runId}:g${generation}`,
  heartbeat: (p: string, runId: string, generation: number, rank: number) =>
    `${p}:rdv:${runId}:g${generation}:hb:${rank}`,
  /** Sorted set of every live member's heartbeat deadline across runs: `runId|generation|rank` → expiry ms. */
  heartbeatIndex: (p: string) => `${p}:rdv:heartbeats`,
  collective: (p: string, runId: string, generation: number) => `${p}:coll:${runId}:g${generation}`,
} as const;
