/// <reference path="./s3rver.d.ts" />
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { freePort } from './free-port.js';

export interface S3ServerHandle {
  readonly port: number;
  /** `http://127.0.0.1:PORT` — use as the S3 endpoint with path-style addressing. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly dir: string;
  /** Settings for `new S3Client(...)` that work against this server. */
  readonly clientConfig: {
    endpoint: string;
    region: string;
    forcePathStyle: true;
    credentials: { accessKeyId: string; secretAccessKey: string };
    requestChecksumCalculation: 'WHEN_REQUIRED';
    responseChecksumValidation: 'WHEN_REQUIRED';
  };
  /** Environment for a child process that should use this server through the standard AWS chain. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export interface S3ServerOptions {
  port?: number;
  bucket?: string;
  /** Keep objects in this directory (default: a fresh temp dir, removed on stop). */
  dir?: string;
}

/**
 * Starts an S3-compatible HTTP server (s3rver) on a free loopback port with one bucket.
 * Note: s3rver ignores conditional writes (If-None-Match / If-Match); see storage's CAS fallback.
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3ServerHandle> {
  const port = options.port ?? (await freePort());
  const bucket = options.bucket ?? 'lorkd-test';
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'lorkd-s3-')));
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    port,
    endpoint,
    bucket,
    dir,
    clientConfig: {
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    },
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      LORKD_S3_FORCE_PATH_STYLE: 'true',
      LORKD_S3_CHECKSUMS: 'when_required',
    },
    async stop() {
      await server.close();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
