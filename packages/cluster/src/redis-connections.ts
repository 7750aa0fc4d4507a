import type { Logger } from '@lorkd/contracts';
import { silentLogger } from '@lorkd/contracts';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { RedisConfigError, RedisUnavailableError } from './errors.js';

export const RedisConnectionsOptionsSchema = z.object({
  /** redis:// or rediss:// URL (LORKD_REDIS_URL). */
  url: z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379'),
  /** What to do when `maxmemory-policy` is not `noeviction` (BullMQ and lorkd's keys must never be evicted). */
  evictionPolicyCheck: z.enum(['warn', 'fail', 'ignore']).default('warn'),
  /** Time allowed for the first connection at start-up. */
  connectTimeoutMs: z.number().int().positive().default(5_000),
  /** Longest pause between reconnect attempts once running (they back off from 50 ms up to this). */
  maxReconnectDelayMs: z.number().int().positive().default(2_000),
  /** Client name prefix shown by `CLIENT LIST`. */
  clientName: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('lorkd'),
});
export type RedisConnectionsOptions = z.input<typeof RedisConnectionsOptionsSchema>;

/**
 * What a connection is for:
 * - `command`: ordinary commands; fails a command after a few retries while Redis is down.
 * - `blocking`: BLPOP/XREAD BLOCK readers and BullMQ workers; `maxRetriesPerRequest: null` (waits for reconnect).
 */
export type ConnectionPurpose = 'command' | 'blocking';

/** A Redis client created by {@link RedisConnections}. Apps use it only through this package's API. */
export type RedisClient = Redis;

/** Hides the password of a Redis URL for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * The one place lorkd creates ioredis connections. `create()` checks that Redis answers (with a clear error when it
 * does not) and that it will not evict keys; `connection()` makes dedicated clients that reconnect forever with
 * capped backoff; `close()` closes every client it made.
 */
export class RedisConnections {
  readonly url: string;
  private readonly options: z.output<typeof RedisConnectionsOptionsSchema>;
  private readonly logger: Logger;
  private readonly clients = new Set<Redis>();
  private shared: Redis | undefined;
  private closed = false;
  private counter = 0;

  private constructor(options: z.output<typeof RedisConnectionsOptionsSchema>, logger: Logger) {
    this.options = options;
    this.url = options.url;
    this.logger = logger;
  }

  static async create(input: RedisConnectionsOptions & { logger?: Logger }): Promise<RedisConnections> {
    const { logger, ...rest } = input;
    const parsed = RedisConnectionsOptionsSchema.safeParse(rest);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RedisConfigError(
        `invalid Redis connection options: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
        { cause: parsed.error },
      );
    }
    const connections = new RedisConnections(parsed.data, (logger ?? silentLogger).child({ component: 'redis' }));
    await connections.probe();
    return connections;
  }

  /** A long-lived shared command connection (created on first use). */
  get command(): Redis {
    if (!this.shared) this.shared = this.connection('command', 'shared');
    return this.shared;
  }

  /** A new dedicated connection; closed by `close()` (or earlier by the caller with `release`). */
  connection(purpose: ConnectionPurpose, name: string = purpose): Redis {
    if (this.closed) throw new RedisUnavailableError('RedisConnections is closed; create a new one');
    const maxDelay = this.options.maxReconnectDelayMs;
    const opts: RedisOptions = {
      connectionName: `${this.options.clientName}-${name}-${++this.counter}`,
      maxRetriesPerRequest: purpose === 'blocking' ? null : 3,
      enableReadyCheck: true,
      connectTimeout: this.options.connectTimeoutMs,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    };
    const client = new Redis(this.url, opts);
    let down = false;
    client.on('error', (err: Error) => {
      if (!down) this.logger.warn(`Redis connection error: ${err.message}`, { url: redactRedisUrl(this.url), name });
      down = true;
    });
    client.on('reconnecting', () => {
      if (!down) this.logger.warn('Redis connection lost; reconnecting', { url: redactRedisUrl(this.url), name });
      down = true;
    });
    client.on('ready', () => {
      if (down) this.logger.info('Redis connection restored', { url: redactRedisUrl(this.url), name });
      down = false;
    });
    this.clients.add(client);
    return client;
  }

  /** Closes one connection made by `connection()`. */
  async release(client: Redis): Promise<void> {
    this.clients.delete(client);
    await quit(client);
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.clients];
    this.clients.clear();
    this.shared = undefined;
    await Promise.all(all.map((c) => quit(c)));
  }

  private async probe(): Promise<void> {
    const shown = redactRedisUrl(this.url);
    const probe = new Redis(this.url, {
      lazyConnect: true,
      connectTimeout: this.options.connectTimeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      connectionName: `${this.options.clientName}-probe`,
    });
    probe.on('error', () => {});
    try {
      try {
        await probe.connect();
        await probe.ping();
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new RedisUnavailableError(
          `cannot reach Redis at ${shown}: ${why} — is redis-server running? set LORKD_REDIS_URL`,
          { fields: { url: shown }, cause: err },
        );
      }
      if (this.options.evictionPolicyCheck === 'ignore') return;
      let policy: string | undefined;
      try {
        const reply = (await probe.config('GET', 'maxmemory-policy')) as unknown as string[];
        policy = reply[1];
      } catch (err) {
        this.logger.warn('cannot read maxmemory-policy (CONFIG disabled?); make sure it is noeviction', {
          url: shown,
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      if (policy !== undefined && policy !== 'noeviction') {
        const message = `Redis at ${shown} has maxmemory-policy ${policy}; lorkd needs noeviction (queues and run state must never be evicted): run CONFIG SET maxmemory-policy noeviction or set it in redis.conf`;
        if (this.options.evictionPolicyCheck === 'fail')
          throw new RedisConfigError(message, { fields: { url: shown, policy } });
        this.logger.warn(message, { url: shown, policy });
      }
    } finally {
      probe.disconnect();
    }
  }
}

/** QUIT politely (flushes pending replies) but never waits long: a blocked BLPOP/XREAD would delay it. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 300);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    client.disconnect();
  }
}
