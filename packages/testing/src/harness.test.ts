import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ServerStartError } from './errors.js';
import { isRunning as alive, waitForExit } from './processes.js';
import { startRedisServer } from './redis-server.js';
import { startS3Server } from './s3-server.js';

describe('test harness', () => {
  it('runs a private redis-server: read/write, kill, restart, stop leaves no process', async () => {
    const server = await startRedisServer();
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: null });
    // Reconnect attempts while the server restarts fail (ECONNREFUSED) until it is back: expected here.
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.set('k', 'v1');
      expect(await redis.get('k')).toBe('v1');
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      const firstPid = server.pid;
      await server.restart();
      expect(server.pid).not.toBe(firstPid);
      expect(alive(firstPid)).toBe(false);
      // Nothing is persisted: a restarted server starts empty, and ioredis reconnects on its own.
      expect(await redis.get('k')).toBeNull();
    } finally {
      redis.disconnect();
      const pid = server.pid;
      await server.stop();
      expect(alive(pid)).toBe(false);
    }
  });

  it('a redis-server dies with the process that started it, even when that one is SIGKILLed', async () => {
    // A separate Node process starts a server through the harness, prints the server's pid, then waits.
    const script = [
      `const { startRedisServer } = await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)});`,
      'const server = await startRedisServer();',
      "process.stdout.write(String(server.pid) + '\\n');",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        let text = '';
        parent.stdout?.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('\n')) resolve(Number(text.trim()));
        });
        parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before printing a pid`)));
      });
      expect(alive(pid)).toBe(true);
      parent.kill('SIGKILL');
      expect(await waitForExit([pid], 5000)).toEqual([]);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('says clearly when redis-server is not installed', async () => {
    const error = await startRedisServer({ binary: 'redis-server-that-is-not-there' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerStartError);
    expect((error as ServerStartError).fields.reason).toBe('not-found');
    expect((error as ServerStartError).message).toMatch(/redis-server-that-is-not-there is not on PATH/);
  });

  it('runs an S3-compatible server: put/get/list/delete and a 17 MiB multipart upload', async () => {
    const s3 = await startS3Server();
    const client = new S3Client(s3.clientConfig);
    try {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'a/one.txt', Body: 'hello' }));
      const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'a/one.txt' }));
      expect(await got.Body?.transformToString()).toBe('hello');

      const big = randomBytes(17 * 1024 * 1024);
      const upload = new Upload({
        client,
        params: { Bucket: s3.bucket, Key: 'a/big.bin', Body: big, ContentLength: big.length },
        partSize: 5 * 1024 * 1024,
        queueSize: 2,
      });
      let parts = 0;
      upload.on('httpUploadProgress', () => {
        parts += 1;
      });
      await upload.done();
      expect(parts).toBeGreaterThanOrEqual(4);
      const back = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'a/big.bin' }));
      const bytes = await back.Body?.transformToByteArray();
      const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
      expect(bytes && digest(bytes)).toBe(digest(big));

      const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'a/' }));
      expect(listed.Contents?.map((c) => c.Key).sort()).toEqual(['a/big.bin', 'a/one.txt']);
      await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: 'a/one.txt' }));
      const after = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'a/' }));
      expect(after.Contents?.map((c) => c.Key)).toEqual(['a/big.bin']);
    } finally {
      client.destroy();
      await s3.stop();
    }
    // The port is closed once stopped.
    await expect(fetch(s3.endpoint)).rejects.toThrow();
  }, 60_000);
});
