import type { LogFields, Logger } from '@lorkd/contracts';
import { SHARED_REDIS_URL, uniquePrefix } from '@lorkd/testing';
import { RedisConnections } from '../src/redis-connections.js';

/** A logger that remembers what it was told, for assertions. */
export function memoryLogger(): Logger & { lines: { level: string; message: string; fields?: LogFields }[] } {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (base: LogFields): Logger => ({
    debug: (message, fields) => lines.push({ level: 'debug', message, fields: { ...base, ...fields } }),
    info: (message, fields) => lines.push({ level: 'info', message, fields: { ...base, ...fields } }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields: { ...base, ...fields } }),
    error: (message, fields) => lines.push({ level: 'error', message, fields: { ...base, ...fields } }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return Object.assign(make({}), { lines });
}

/** Connections to the machine's shared Redis with a unique prefix; `cleanup()` deletes the prefix's keys. */
export async function sharedRedis(name: string): Promise<{
  connections: RedisConnections;
  prefix: string;
  cleanup: () => Promise<void>;
}> {
  const prefix = uniquePrefix(name);
  const connections = await RedisConnections.create({ url: SHARED_REDIS_URL });
  return {
    connections,
    prefix,
    cleanup: async () => {
      const redis = connections.command;
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (found.length > 0) await redis.unlink(...found);
      } while (cursor !== '0');
      await connections.close();
    },
  };
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
