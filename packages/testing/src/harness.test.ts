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
import { startRedisServer } from './redis-server.js';
import { startS3Server } from './s3-server.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test harness', () => {
  it('runs a private redis-server: read/write, kill, restart, stop leaves no process', async () => {
    const server = await startRedisServer();
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: null });
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
