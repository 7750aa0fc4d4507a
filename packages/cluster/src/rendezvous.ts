import type { Logger } from '@lorkd/contracts';
import { silentLogger } from '@lorkd/contracts';
import { z } from 'zod';
import { ClusterUsageError, CollectiveTimeoutError, GenerationFencedError, RedisUnavailableError } from './errors.js';
import { keys } from './keys.js';
import { QueuePrefixSchema } from './queues.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';

export const RendezvousOptionsSchema = z.object({
  prefix: QueuePrefixSchema.default('lorkd'),
  runId: z.string().min(1),
  generation: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  worldSize: z.number().int().positive(),
  /** Who holds this rank (worker id), shown by `members()`. */
  memberId: z.string().min(1).default('unknown'),
  /** Heartbeat period. */
  heartbeatMs: z.number().int().positive().default(1_000),
  /** A member whose last heartbeat is older than this is lost. */
  ttlMs: z.number().int().positive().default(5_000),
});
export type RendezvousOptions = z.input<typeof RendezvousOptionsSchema>;

export interface RendezvousMemberInfo {
  readonly rank: number;
  readonly memberId: string;
  readonly joinedAt: number;
  /** Server time (ms) after which the member counts as lost; undefined once it left. */
  readonly deadline?: number;
  readonly left: boolean;
}

/** A member whose heartbeat deadline passed, as the coordinator's monitor sees it (across all runs). */
export interface ExpiredMember {
  readonly runId: string;
  readonly generation: number;
  readonly rank: number;
  /** How long ago (ms, server clock) the deadline passed. */
  readonly overdueMs: number;
}

const entry = (runId: string, generation: number, rank: number) => `${runId}|${generation}|${rank}`;

// KEYS: fence, members hash, heartbeat index. ARGV: generation, rank, member json, ttl ms, entry, join(1)/beat(0).
// Returns -1 when fenced (the fence is not at this generation), else the server time in ms.
const BEAT = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur ~= ARGV[1] then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], 7 * 24 * 3600 * 1000)
elseif redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then
  return -2
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[5])
return now
`;

// KEYS: heartbeat index. Returns entries whose deadline passed, with their deadlines, and the server time.
const EXPIRED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
table.insert(r, tostring(now))
return r
`;

function scripts(redis: RedisClient): Record<string, (...a: unknown[]) => Promise<unknown>> {
  redis.defineCommand('lorkdRdvBeat', { numberOfKeys: 3, lua: BEAT });
  redis.defineCommand('lorkdRdvExpired', { numberOfKeys: 1, lua: EXPIRED });
  return redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
}

/**
 * One member's place in the rendezvous of (run, generation): join with a rank, heartbeat in the background,
 * wait for everyone, detect lost members. `signal` aborts when this member is fenced off (the run moved to a newer
 * generation) or cannot heartbeat for longer than its TTL (Redis unreachable), so a training loop can stop.
 */
export class RendezvousMember {
  readonly runId: string;
  readonly generation: number;
  readonly rank: number;
  readonly worldSize: number;
  private readonly options: z.output<typeof RendezvousOptionsSchema>;
  private readonly redis: RedisClient;
  private readonly logger: Logger;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private lastBeat = Date.now();
  private left = false;

  private constructor(redis: RedisClient, options: z.output<typeof RendezvousOptionsSchema>, logger: Logger) {
    this.redis = redis;
    this.options = options;
    this.runId = options.runId;
    this.generation = options.generation;
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.logger = logger;
  }

  /** Joins (fails with GenerationFencedError unless the run's fence is at `generation`) and starts heartbeating. */
  static async join(
    input: RendezvousOptions & { connections: RedisConnections; logger?: Logger },
  ): Promise<RendezvousMember> {
    const { connections, logger, ...rest } = input;
    const o = RendezvousOptionsSchema.parse(rest);
    if (o.rank >= o.worldSize)
      throw new ClusterUsageError(`rank ${o.rank} is outside world size ${o.worldSize}`, { rank: o.rank });
    const log = (logger ?? silentLogger).child({ runId: o.runId, generation: o.generation, rank: o.rank });
    const m = new RendezvousMember(connections.command, o, log);
    const r = await m.beat(true);
    if (r === -1) throw await m.fencedError('join');
    m.schedule();
    log.info('joined rendezvous', { worldSize: o.worldSize });
    return m;
  }

  /** Aborted when this member is fenced off or lost its heartbeat; `reason` says which. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Waits until all `worldSize` ranks have joined; times out naming the missing ranks. */
  async waitForAll(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let joined: Set<number>;
      try {
        joined = await this.joinedRanks();
      } catch (err) {
        throw new RedisUnavailableError(
          `rendezvous wait failed: run ${this.runId} generation ${this.generation}: Redis error: ${err instanceof Error ? err.message : String(err)}`,
          { fields: { runId: this.runId, generation: this.generation }, cause: err },
        );
      }
      const missing = range(this.worldSize).filter((r) => !joined.has(r));
      if (missing.length === 0) return;
      if (this.signal.aborted) throw this.signal.reason;
      if (Date.now() >= deadline)
        throw new CollectiveTimeoutError(
          `rendezvous timed out after ${timeoutMs} ms: run ${this.runId} generation ${this.generation}: ranks ${missing.join(', ')} of ${this.worldSize} did not join`,
          { runId: this.runId, generation: this.generation, missingRanks: missing, timeoutMs },
        );
      await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    }
  }

  /** Ranks that joined and have not left but whose heartbeat deadline passed. */
  async lost(): Promise<number[]> {
    return lostRanks(this.redis, this.options.prefix, this.runId, this.generation);
  }

  /** Every joined member. */
  async members(): Promise<RendezvousMemberInfo[]> {
    return members(this.redis, this.options.prefix, this.runId, this.generation);
  }

  /** Stops heartbeating and marks this rank as left (a clean exit is never reported as lost). */
  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    if (this.timer) clearTimeout(this.timer);
    const p = this.options.prefix;
    const info = { memberId: this.options.memberId, joinedAt: 0, left: true };
    await this.redis
      .multi()
      .zrem(keys.heartbeatIndex(p), entry(this.runId, this.generation, this.rank))
      .hset(keys.rendezvous(p, this.runId, this.generation), String(this.rank), JSON.stringify(info))
      .exec();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.beat(false).then(
        (r) => {
          if (r === -1 || r === -2) {
            this.fencedError('heartbeat').then(
              (err) => this.stop(err),
              (err: unknown) => this.stop(err),
            );
            return;
          }
          this.lastBeat = Date.now();
          this.schedule();
        },
        (err: unknown) => {
          const silentFor = Date.now() - this.lastBeat;
          this.logger.warn('heartbeat failed', { error: err instanceof Error ? err.message : String(err), silentFor });
          if (silentFor > this.options.ttlMs)
            this.stop(
              new GenerationFencedError('heartbeat', {
                runId: this.runId,
                generation: this.generation,
                current: null,
                reason: `no heartbeat for ${silentFor} ms (Redis unreachable?)`,
              }),
            );
          else this.schedule();
        },
      );
    }, this.options.heartbeatMs);
    this.timer.unref();
  }

  private stop(reason: unknown): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.left) this.logger.warn('rendezvous member stopped', { reason: String(reason) });
    this.controller.abort(reason);
  }

  private async beat(join: boolean): Promise<number> {
    const p = this.options.prefix;
    const info = { memberId: this.options.memberId, joinedAt: Date.now(), left: false };
    const s = scripts(this.redis).lorkdRdvBeat;
    if (!s) throw new Error('lorkdRdvBeat script missing');
    return Number(
      await s.call(
        this.redis,
        keys.fence(p, this.runId),
        keys.rendezvous(p, this.runId, this.generation),
        keys.heartbeatIndex(p),
        String(this.generation),
        String(this.rank),
        JSON.stringify(info),
        String(this.options.ttlMs),
        entry(this.runId, this.generation, this.rank),
        join ? '1' : '0',
      ),
    );
  }

  private async joinedRanks(): Promise<Set<number>> {
    const all = await this.redis.hkeys(keys.rendezvous(this.options.prefix, this.runId, this.generation));
    return new Set(all.map(Number));
  }

  private async fencedError(what: string): Promise<GenerationFencedError> {
    const cur = await this.redis.get(keys.fence(this.options.prefix, this.runId));
    return new GenerationFencedError(`rendezvous ${what} of rank ${this.rank}`, {
      runId: this.runId,
      generation: this.generation,
      current: cur === null ? null : Number(cur),
    });
  }
}

async function members(
  redis: RedisClient,
  prefix: string,
  runId: string,
  generation: number,
): Promise<RendezvousMemberInfo[]> {
  const all = await redis.hgetall(keys.rendezvous(prefix, runId, generation));
  const ranks = Object.keys(all)
    .map(Number)
    .sort((a, b) => a - b);
  if (ranks.length === 0) return [];
  const scores = (await redis.zmscore(
    keys.heartbeatIndex(prefix),
    ...ranks.map((r) => entry(runId, generation, r)),
  )) as (string | null)[];
  return ranks.map((rank, i) => {
    const info = JSON.parse(all[String(rank)] ?? '{}') as { memberId?: string; joinedAt?: number; left?: boolean };
    const score = scores[i];
    return {
      rank,
      memberId: info.memberId ?? 'unknown',
      joinedAt: info.joinedAt ?? 0,
      left: info.left === true,
      ...(score !== null && score !== undefined ? { deadline: Number(score) } : {}),
    };
  });
}

async function serverNow(redis: RedisClient): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

async function lostRanks(redis: RedisClient, prefix: string, runId: string, generation: number): Promise<number[]> {
  const [list, now] = await Promise.all([members(redis, prefix, runId, generation), serverNow(redis)]);
  return list.filter((m) => !m.left && (m.deadline === undefined || m.deadline < now)).map((m) => m.rank);
}

/**
 * The coordinator's view of every rendezvous: one sorted set holds every live member's heartbeat deadline across
 * all runs, so `expired()` is a single ZRANGEBYSCORE however many runs and workers there are.
 */
export class RendezvousMonitor {
  private readonly redis: RedisClient;
  private readonly prefix: string;

  private constructor(redis: RedisClient, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
    scripts(redis);
  }

  static async create(input: { connections: RedisConnections; prefix?: string }): Promise<RendezvousMonitor> {
    return new RendezvousMonitor(input.connections.command, QueuePrefixSchema.default('lorkd').parse(input.prefix));
  }

  /** Members (of any run) whose heartbeat deadline passed and that did not leave, most overdue first. */
  async expired(limit = 1000): Promise<ExpiredMember[]> {
    const s = scripts(this.redis).lorkdRdvExpired;
    if (!s) throw new Error('lorkdRdvExpired script missing');
    const reply = (await s.call(this.redis, keys.heartbeatIndex(this.prefix), String(limit))) as string[];
    const now = Number(reply.pop());
    const out: ExpiredMember[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const [runId, g, rank] = (reply[i] ?? '').split('|');
      if (runId === undefined || g === undefined || rank === undefined) continue;
      out.push({ runId, generation: Number(g), rank: Number(rank), overdueMs: now - Number(reply[i + 1]) });
    }
    return out;
  }

  /** Members of one rendezvous. */
  async members(runId: string, generation: number): Promise<RendezvousMemberInfo[]> {
    return members(this.redis, this.prefix, runId, generation);
  }

  /** Lost ranks of one rendezvous. */
  async lost(runId: string, generation: number): Promise<number[]> {
    return lostRanks(this.redis, this.prefix, runId, generation);
  }

  /** Stops watching a run's members (all generations ≤ `upTo`, or all): call after handling them or at run end. */
  async forget(runId: string, upTo = Number.POSITIVE_INFINITY): Promise<number> {
    const all = await this.redis.zrange(keys.heartbeatIndex(this.prefix), '0', '-1');
    const mine = all.filter((e) => {
      const [r, g] = e.split('|');
      return r === runId && Number(g) <= upTo;
    });
    if (mine.length === 0) return 0;
    return this.redis.zrem(keys.heartbeatIndex(this.prefix), ...mine);
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
