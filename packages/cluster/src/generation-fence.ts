import { z } from 'zod';
import { GenerationFencedError } from './errors.js';
import { keys } from './keys.js';
import { QueuePrefixSchema } from './queues.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';

// KEYS: fence. ARGV: generation. Moves the fence forward only; returns the fence after the call.
const ADVANCE = `
local cur = redis.call('GET', KEYS[1])
local g = tonumber(ARGV[1])
if (not cur) or tonumber(cur) < g then
  redis.call('SET', KEYS[1], ARGV[1])
  return g
end
return tonumber(cur)
`;

/**
 * The run's current generation, kept in Redis. The coordinator advances it (never backwards) when it starts a
 * generation; every rendezvous and collective write of generation g checks it atomically, so a member of an old
 * generation is rejected with {@link GenerationFencedError} instead of writing into the new one.
 */
export class GenerationFence {
  readonly prefix: string;
  private readonly redis: RedisClient;

  private constructor(redis: RedisClient, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
    this.redis.defineCommand('lorkdFenceAdvance', { numberOfKeys: 1, lua: ADVANCE });
  }

  static async create(input: { connections: RedisConnections; prefix?: string }): Promise<GenerationFence> {
    return new GenerationFence(input.connections.command, QueuePrefixSchema.default('lorkd').parse(input.prefix));
  }

  /** Moves the run's fence to `generation` unless it is already there or beyond; returns the fence afterwards. */
  async advance(runId: string, generation: number): Promise<number> {
    z.number().int().nonnegative().parse(generation);
    const run = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<number>>).lorkdFenceAdvance;
    if (!run) throw new Error('lorkdFenceAdvance script missing');
    return Number(await run.call(this.redis, keys.fence(this.prefix, runId), String(generation)));
  }

  /** The run's current generation, or null when none was opened (or the run was deleted). */
  async current(runId: string): Promise<number | null> {
    const v = await this.redis.get(keys.fence(this.prefix, runId));
    return v === null ? null : Number(v);
  }

  /** Throws GenerationFencedError unless `generation` is the run's current one. */
  async check(runId: string, generation: number, what = 'operation'): Promise<void> {
    const current = await this.current(runId);
    if (current !== generation) throw new GenerationFencedError(what, { runId, generation, current });
  }
}
