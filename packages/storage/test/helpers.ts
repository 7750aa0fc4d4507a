import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { LogFields, Logger } from '@lorkd/contracts';
import { type S3ServerHandle, startS3Server } from '@lorkd/testing';
import { createObjectStore, type ObjectStore } from '../src/index.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields;
}

/** A Logger that records what it is told, for assertions. */
export function recordingLogger(lines: LogLine[] = [], base: LogFields = {}): Logger & { lines: LogLine[] } {
  const at =
    (level: LogLine['level']) =>
    (message: string, fields: LogFields = {}) =>
      lines.push({ level, message, fields: { ...base, ...fields } });
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
  };
}

/**
 * s3rver ignores If-None-Match / If-Match. This proxy in front of it enforces them the way AWS S3
 * does (412 Precondition Failed), one conditional PUT at a time, so the S3 store's conditional path
 * runs against a real server too.
 */
export async function conditionalProxy(s3: S3ServerHandle): Promise<{ endpoint: string; close(): Promise<void> }> {
  const client = new S3Client(s3.clientConfig);
  const target = new URL(s3.endpoint);
  let tail: Promise<unknown> = Promise.resolve();
  const forward = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) =>
    new Promise<void>((resolve) => {
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          up.once('end', () => resolve());
          up.once('error', () => resolve());
        },
      );
      upstream.once('error', () => {
        res.destroy();
        resolve();
      });
      req.pipe(upstream);
    });
  const server = createServer((req, res) => {
    const ifNoneMatch = req.headers['if-none-match'];
    const ifMatch = req.headers['if-match'];
    if (req.method !== 'PUT' || (ifNoneMatch === undefined && ifMatch === undefined)) {
      void forward(req, res);
      return;
    }
    const run = async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1);
      const cut = path.indexOf('/');
      const head = await client
        .send(new HeadObjectCommand({ Bucket: path.slice(0, cut), Key: path.slice(cut + 1) }))
        .catch(() => undefined);
      const failed = (ifNoneMatch === '*' && head !== undefined) || (ifMatch !== undefined && head?.ETag !== ifMatch);
      if (!failed) return await forward(req, res);
      req.resume();
      res.writeHead(412, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>',
      );
    };
    const next = tail.then(run, run);
    tail = next.catch(() => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One backend under test: a real s3rver bucket (optionally behind the conditional proxy) or a temp directory. */
export interface Backend {
  readonly name: 's3' | 's3-cas' | 'file';
  readonly url: string;
  open(logger?: Logger): Promise<ObjectStore>;
  stop(): Promise<void>;
  readonly s3?: S3ServerHandle;
}

export async function startBackend(name: 's3' | 's3-cas' | 'file'): Promise<Backend> {
  if (name === 's3' || name === 's3-cas') {
    const s3 = await startS3Server();
    const proxy = name === 's3-cas' ? await conditionalProxy(s3) : undefined;
    const options = { ...s3OptionsOf(s3), ...(proxy ? { endpoint: proxy.endpoint } : {}) };
    const url = `s3://${s3.bucket}/lorkd-test`;
    return {
      name,
      url,
      s3,
      open: (logger) => createObjectStore(url, { s3: options, ...(logger ? { logger } : {}) }),
      stop: async () => {
        await proxy?.close();
        await s3.stop();
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'lorkd-store-'));
  const url = `file://${dir}`;
  return {
    name,
    url,
    open: (logger) => createObjectStore(url, logger ? { logger } : {}),
    stop: () => rm(dir, { recursive: true, force: true }),
  };
}

export function s3OptionsOf(s3: S3ServerHandle) {
  return {
    endpoint: s3.endpoint,
    region: s3.clientConfig.region,
    forcePathStyle: true,
    credentials: s3.clientConfig.credentials,
    checksums: 'when_required' as const,
  };
}

let counter = 0;
export function uniqueRunId(tag: string): string {
  counter += 1;
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** Small deterministic tensors, with special float values to check bit exactness. */
export function makeTensors(seed: number, size = 64) {
  let state = seed * 2654435761;
  const next = () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state;
  };
  const w = new Float32Array(size);
  for (let i = 0; i < size; i += 1) w[i] = (next() / 2 ** 32 - 0.5) * 10;
  const special = new Float32Array([Number.NaN, -0, Infinity, -Infinity, 1.4e-45, 3.4e38, seed]);
  const ints = new Int32Array([2147483647, -2147483648, 0, -1, seed]);
  return new Map([
    ['layer/w', { dtype: 'float32' as const, shape: [size / 8, 8], data: w }],
    ['layer/special', { dtype: 'float32' as const, shape: [7], data: special }],
    ['opt/step', { dtype: 'int32' as const, shape: [5], data: ints }],
  ]);
}

export function sameBits(a: Float32Array | Int32Array, b: Float32Array | Int32Array): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
