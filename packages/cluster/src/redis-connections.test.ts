import { freePort, startRedisServer } from '@lorkd/testing';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../test-support/redis.js';
import { RedisConfigError, RedisUnavailableError } from './errors.js';
import { RedisConnections, redactRedisUrl } from './redis-connections.js';

describe('RedisConnections', () => {
  it('fails fast with a clear message when Redis is unreachable', async () => {
    const port = await freePort();
    const err = await RedisConnections.create({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 1000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
    expect((err as Error).message).toContain('is redis-server running? set LORKD_REDIS_URL');
  });

  it('rejects a malformed URL naming the field', async () => {
    await expect(RedisConnections.create({ url: 'localhost:6379' })).rejects.toThrow(/url: must be a redis:\/\//);
  });

  it('redacts passwords', () => {
    expect(redactRedisUrl('redis://user:secret@host:1/0')).toBe('redis://user:***@host:1/0');
  });

  it('warns or fails on an evicting maxmemory-policy', async () => {
    const server = await startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      const logger = memoryLogger();
      const c = await RedisConnections.create({ url: server.url, logger });
      await c.close();
      expect(logger.lines.some((l) => l.level === 'warn' && l.message.includes('maxmemory-policy allkeys-lru'))).toBe(
        true,
      );
      await expect(RedisConnections.create({ url: server.url, evictionPolicyCheck: 'fail' })).rejects.toBeInstanceOf(
        RedisConfigError,
      );
    } finally {
      await server.stop();
    }
  });

  it('reconnects after a Redis restart', async () => {
    const server = await startRedisServer();
    const logger = memoryLogger();
    const c = await RedisConnections.create({ url: server.url, logger, maxReconnectDelayMs: 100 });
    try {
      const blocking = c.connection('blocking');
      await c.command.set('k', '1');
      await blocking.set('k2', '1');
      await server.restart();
      // blocking connections wait for the reconnect; command connections retry a few times.
      await expect(blocking.set('k', '2')).resolves.toBe('OK');
      await expect(c.command.get('k')).resolves.toBe('2');
      expect(logger.lines.some((l) => l.message.includes('Redis connection lost'))).toBe(true);
    } finally {
      await c.close();
      await server.stop();
    }
  });
});
