import { createServer } from 'node:net';
import { freePort, type S3ServerHandle, startS3Server } from '@lorkd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingLogger, s3OptionsOf } from '../test/helpers.js';
import { createObjectStore } from './create-object-store.js';
import { describeSdkError, formatSdkError, sdkLogLine } from './sdk-log.js';

describe('describeSdkError', () => {
  it('keeps name, message, HTTP status and network code', () => {
    const sdk = Object.assign(new Error('The specified bucket does not exist'), {
      name: 'NoSuchBucket',
      $metadata: { httpStatusCode: 404, requestId: 'r-1' },
    });
    expect(describeSdkError(sdk)).toEqual({
      name: 'NoSuchBucket',
      message: 'The specified bucket does not exist',
      status: 404,
      requestId: 'r-1',
    });
    expect(formatSdkError(sdk)).toBe('NoSuchBucket (HTTP 404): The specified bucket does not exist');
    const net = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(formatSdkError(net)).toBe('Error (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:9');
    expect(formatSdkError({ name: 'UnknownError', $metadata: { httpStatusCode: 400 } })).toBe(
      'UnknownError (HTTP 400): HTTP 400',
    );
    expect(formatSdkError('plain')).toBe('Error: plain');
  });

  it("formats the logger middleware's records without the request body or credentials", () => {
    const line = sdkLogLine([
      {
        clientName: 'S3Client',
        commandName: 'PutObjectCommand',
        input: { Bucket: 'b', Key: 'k', Body: 'secret-bytes', SSECustomerKey: 'sse-secret' },
        error: Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }),
        metadata: { httpStatusCode: 403 },
      },
    ]);
    expect(line.message).toBe('PutObjectCommand failed: AccessDenied (HTTP 403): Access Denied');
    expect(line.fields).toEqual({
      bucket: 'b',
      key: 'k',
      errorName: 'AccessDenied',
      error: 'Access Denied',
      status: 403,
    });
    expect(JSON.stringify(line.fields)).not.toMatch(/secret/);
  });
});

describe('S3 store logs on a real server', () => {
  let s3: S3ServerHandle;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('gives up on a server that accepts and then goes silent, instead of hanging', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // reads nothing, answers nothing
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const store = await createObjectStore(`s3://${s3.bucket}/logs`, {
      s3: {
        ...s3OptionsOf(s3),
        endpoint: `http://127.0.0.1:${port}`,
        conditionalWrites: 'on',
        stallTimeoutMs: 300,
        retry: { maxAttempts: 2, baseDelayMs: 1 },
      },
    });
    const started = Date.now();
    try {
      await expect(store.get('a')).rejects.toThrow(/s3:\/\/.*\/logs\/a failed/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('says what failed (name, HTTP status, message), never [object Object] or the secret key', async () => {
    const logger = recordingLogger();
    const options = { ...s3OptionsOf(s3), retry: { maxAttempts: 2, baseDelayMs: 1 } };
    const store = await createObjectStore(`s3://${s3.bucket}/logs`, { s3: options, logger });
    const noBucket = await createObjectStore('s3://no-such-bucket-x/logs', { s3: options, logger });
    const closed = await createObjectStore(`s3://${s3.bucket}/logs`, {
      s3: { ...options, endpoint: `http://127.0.0.1:${await freePort()}` },
      logger,
    });
    try {
      expect(await store.get('missing')).toBeUndefined();
      await expect(noBucket.put('a', new Uint8Array(3))).rejects.toThrow(
        /s3:\/\/no-such-bucket-x\/logs\/a failed: NoSuchBucket \(HTTP 404\): The specified bucket does not exist/,
      );
      await expect(closed.put('a', new Uint8Array(3))).rejects.toThrow(/failed: Error \(ECONNREFUSED\): connect/);
    } finally {
      await store.close();
      await noBucket.close();
      await closed.close();
    }
    const text = logger.lines.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.fields)}`);
    expect(text.join('\n')).not.toMatch(/\[object Object\]/);
    const secret = s3.clientConfig.credentials.secretAccessKey;
    expect(text.join('\n')).not.toContain(secret);
    // the 404 of a lookup is routine (debug); a missing bucket is a warning naming the status
    const getLine = logger.lines.find((l) => l.message.startsWith('GetObjectCommand failed'));
    expect(getLine).toMatchObject({ level: 'debug', fields: { status: 404, errorName: 'NoSuchKey' } });
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'PutObjectCommand failed: NoSuchBucket (HTTP 404): The specified bucket does not exist',
      }),
    );
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'retrying S3 request',
        fields: expect.objectContaining({
          errorName: 'Error',
          code: 'ECONNREFUSED',
          error: expect.stringMatching(/^connect ECONNREFUSED/),
          attempt: 1,
        }),
      }),
    );
  });
});
