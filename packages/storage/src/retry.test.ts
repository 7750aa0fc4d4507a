import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type S3ServerHandle, startS3Server } from '@lorkd/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingLogger, s3OptionsOf } from '../test/helpers.js';
import { createObjectStore, s3OptionsFromEnvConfig } from './create-object-store.js';
import { RetryPolicySchema, retryDecision } from './retry.js';

const policy = RetryPolicySchema.parse({ maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 });

describe('retryDecision', () => {
  it('never retries a client error', () => {
    expect(retryDecision('CLIENT_ERROR', 1, policy)).toMatchObject({ retry: false });
  });
  it('backs off exponentially with full jitter, capped, and gives up after maxAttempts', () => {
    expect(retryDecision('THROTTLING', 1, policy, () => 1)).toEqual({ retry: true, delayMs: 100 });
    expect(retryDecision('SERVER_ERROR', 3, policy, () => 1)).toEqual({ retry: true, delayMs: 400 });
    expect(retryDecision('TRANSIENT', 3, policy, () => 0.5)).toEqual({ retry: true, delayMs: 200 });
    expect(retryDecision('THROTTLING', 3, { ...policy, maxDelayMs: 250 }, () => 1)).toEqual({
      retry: true,
      delayMs: 250,
    });
    expect(retryDecision('THROTTLING', 4, policy)).toMatchObject({ retry: false });
  });
  it('honours a Retry-After hint within the cap', () => {
    expect(retryDecision('THROTTLING', 1, policy, () => 0, 700)).toEqual({ retry: true, delayMs: 700 });
  });
});

/** An HTTP proxy in front of s3rver that answers the first `failures` requests with `status`. */
async function faultyProxy(target: string, status: number, code: string) {
  let failures = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    if (failures > 0) {
      failures -= 1;
      req.resume();
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`);
      return;
    }
    const url = new URL(target);
    const upstream = request(
      { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fail(n: number) {
      failures = n;
      requests = 0;
    },
    get requests() {
      return requests;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('S3 retries against a real server behind a faulty proxy', () => {
  let s3: S3ServerHandle;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('retries 503 SlowDown and 500 with backoff, then succeeds', async () => {
    const proxy = await faultyProxy(s3.endpoint, 503, 'SlowDown');
    const logger = recordingLogger();
    const store = await createObjectStore(`s3://${s3.bucket}/retry`, {
      logger,
      s3: {
        ...s3OptionsOf(s3),
        endpoint: proxy.endpoint,
        conditionalWrites: 'off',
        retry: { maxAttempts: 4, baseDelayMs: 5 },
      },
    });
    try {
      proxy.fail(2);
      await store.put('a', new Uint8Array([1, 2, 3]));
      expect(proxy.requests).toBe(3);
      proxy.fail(3);
      expect(Array.from((await store.get('a'))?.body ?? [])).toEqual([1, 2, 3]);
      expect(proxy.requests).toBe(4);
      expect(logger.lines.filter((l) => l.message === 'retrying S3 request')).toHaveLength(5);
      proxy.fail(10);
      await expect(store.get('a')).rejects.toThrow(/SlowDown \(HTTP 503\)/);
      expect(proxy.requests).toBe(4);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('does not retry a 501 Not Implemented (an API the server lacks)', async () => {
    const proxy = await faultyProxy(s3.endpoint, 501, 'NotImplemented');
    const logger = recordingLogger();
    const store = await createObjectStore(`s3://${s3.bucket}/retry`, {
      logger,
      s3: { ...s3OptionsOf(s3), endpoint: proxy.endpoint, conditionalWrites: 'off', retry: { baseDelayMs: 5 } },
    });
    try {
      proxy.fail(1);
      await expect(store.put('c', new Uint8Array([1]))).rejects.toThrow(/NotImplemented \(HTTP 501\): injected/);
      expect(proxy.requests).toBe(1);
      expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('does not retry a 403', async () => {
    const proxy = await faultyProxy(s3.endpoint, 403, 'AccessDenied');
    const store = await createObjectStore(`s3://${s3.bucket}/retry`, {
      s3: { ...s3OptionsOf(s3), endpoint: proxy.endpoint, conditionalWrites: 'off', retry: { baseDelayMs: 5 } },
    });
    try {
      proxy.fail(1);
      await expect(store.put('b', new Uint8Array([1]))).rejects.toThrow(/AccessDenied \(HTTP 403\)/);
      expect(proxy.requests).toBe(1);
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});

describe('s3OptionsFromEnvConfig', () => {
  it('maps lorkd variables and leaves the rest to the AWS chain', async () => {
    expect(s3OptionsFromEnvConfig({ LORKD_S3_FORCE_PATH_STYLE: true, LORKD_S3_CHECKSUMS: 'when_required' })).toEqual({
      forcePathStyle: true,
      checksums: 'when_required',
    });
    expect(s3OptionsFromEnvConfig({ LORKD_S3_CHECKSUMS: 'when_supported' })).toEqual({
      forcePathStyle: false,
      checksums: 'when_supported',
    });
  });
});
