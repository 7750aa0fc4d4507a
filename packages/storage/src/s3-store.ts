import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from '@lorkd/contracts';
import { z } from 'zod';
import { ConditionalWritesUnsupportedError, StorageError } from './errors.js';
import { type ConditionalResult, checkKey, type ObjectInfo, type ObjectStore } from './object-store.js';
import { RetryPolicySchema, retryDecision, sdkRetryStrategy } from './retry.js';
import { describeSdkError, formatSdkError, sdkLogger } from './sdk-log.js';

const MiB = 1024 * 1024;

/**
 * Resolved S3 settings. Anything left out comes from the standard AWS chain (AWS_REGION,
 * AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID/SECRET, profiles, instance roles, ...).
 */
export const S3OptionsSchema = z.object({
  endpoint: z.url({ error: 'must be an http(s) URL such as http://127.0.0.1:9000' }).optional(),
  region: z.string().min(1).optional(),
  /** Path-style addressing (`http://host/bucket/key`), needed by MinIO, s3rver and most S3-compatible servers. */
  forcePathStyle: z.boolean().default(false),
  /** `when_required` for S3-compatible servers that reject the SDK's default CRC checksums. */
  checksums: z.enum(['when_supported', 'when_required']).default('when_supported'),
  credentials: z
    .object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().optional() })
    .optional(),
  /** Bodies at least this large go up as a multipart upload. */
  multipartThresholdBytes: z
    .number()
    .int()
    .min(5 * MiB)
    .default(16 * MiB),
  partSizeBytes: z
    .number()
    .int()
    .min(5 * MiB)
    .default(8 * MiB),
  /** Parts uploaded (or ranges downloaded) in parallel per object. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** Give up connecting after this long (then the retry policy applies). */
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /**
   * Give up on a request whose connection has been silent this long (a stalled server or network);
   * a slow but moving transfer is not cut. The retry policy applies to the failure.
   */
  stallTimeoutMs: z.number().int().positive().default(60_000),
  /** `probe` asks the server once per bucket whether it honours If-None-Match; `on`/`off` skip the probe. */
  conditionalWrites: z.enum(['probe', 'on', 'off']).default('probe'),
  retry: RetryPolicySchema.default(RetryPolicySchema.parse({})),
});
export type S3Options = z.infer<typeof S3OptionsSchema>;
export type S3OptionsInput = z.input<typeof S3OptionsSchema>;

interface SdkErrorShape {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

function status(error: unknown): number | undefined {
  return (error as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as SdkErrorShape | undefined)?.name;
  return status(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

function isPreconditionFailed(error: unknown): boolean {
  const name = (error as SdkErrorShape | undefined)?.name;
  return status(error) === 412 || status(error) === 409 || name === 'PreconditionFailed';
}

/** A response body that broke off mid-stream (the SDK retries requests, not body reads). */
function isBrokenBody(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  const message = (error as Error | undefined)?.message ?? '';
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ETIMEDOUT' ||
    /aborted|socket hang up|premature close/i.test(message)
  );
}

/** Log fields of an SDK error: its name, message, HTTP status and network code (nothing of the request). */
function errorFields(error: unknown): Record<string, unknown> {
  const { name, message, ...rest } = describeSdkError(error);
  return { errorName: name, error: message, ...rest };
}

/** Probe results per endpoint+bucket, shared by every store in this process. */
const probes = new Map<string, Promise<boolean>>();

/** An ObjectStore on an S3 bucket (AWS S3, MinIO, s3rver, ...), keys under an optional prefix. */
export class S3ObjectStore implements ObjectStore {
  readonly url: string;
  private readonly client: S3Client;
  private readonly root: string;

  private constructor(
    readonly bucket: string,
    prefix: string,
    private readonly options: S3Options,
    private readonly logger: Logger,
  ) {
    this.root = prefix === '' ? '' : `${prefix.replace(/\/+$/, '')}/`;
    this.url = `s3://${bucket}${prefix === '' ? '' : `/${prefix.replace(/\/+$/, '')}`}`;
    const checksum = options.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';

    this.client = new S3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      forcePathStyle: options.forcePathStyle,
      requestChecksumCalculation: checksum,
      responseChecksumValidation: checksum,
      maxAttempts: options.retry.maxAttempts,
      requestHandler: { connectionTimeout: options.connectTimeoutMs, socketTimeout: options.stallTimeoutMs },
      retryStrategy: sdkRetryStrategy(options.retry, ({ kind, attempt, delayMs, error }) =>
        logger.warn('retrying S3 request', {
          kind,
          attempt,
          delayMs: Math.round(delayMs),
          ...errorFields(error),
        }),
      ),
      logger: sdkLogger(logger.child({ component: 'aws-sdk' })),
    });
  }

  /** `prefix` is the key prefix inside the bucket ('' for the whole bucket). No IO happens here. */
  static async create(
    bucket: string,
    prefix: string,
    options: S3OptionsInput & { logger: Logger },
  ): Promise<S3ObjectStore> {
    const { logger, ...rest } = options;
    return new S3ObjectStore(bucket, prefix, S3OptionsSchema.parse(rest), logger);
  }

  private key(key: string): string {
    return this.root + checkKey(key);
  }

  private fail(op: string, key: string, error: unknown): never {
    const d = describeSdkError(error);
    throw new StorageError(`S3 ${op} s3://${this.bucket}/${this.root}${key} failed: ${formatSdkError(error)}`, {
      fields: { op, bucket: this.bucket, key, status: d.status, name: d.name, ...(d.code ? { code: d.code } : {}) },
      cause: error,
    });
  }

  async put(key: string, body: Uint8Array, options: { contentType?: string } = {}): Promise<{ etag: string }> {
    const Key = this.key(key);
    const Body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    try {
      if (body.byteLength >= this.options.multipartThresholdBytes) {
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key, Body, ContentLength: body.byteLength, ContentType: options.contentType },
          partSize: this.options.partSizeBytes,
          queueSize: this.options.concurrency,
          leavePartsOnError: false,
        });
        const out = await upload.done();
        return { etag: out.ETag ?? '' };
      }
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body,
          ContentLength: body.byteLength,
          ContentType: options.contentType,
        }),
      );
      return { etag: out.ETag ?? '' };
    } catch (error) {
      this.fail('put', key, error);
    }
  }

  private async conditionalPut(key: string, body: Uint8Array, header: { IfNoneMatch?: string; IfMatch?: string }) {
    if (!(await this.conditionalWrites())) throw new ConditionalWritesUnsupportedError(this.url);
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          ContentLength: body.byteLength,
          ...header,
        }),
      );
      return { ok: true as const, etag: out.ETag ?? '' };
    } catch (error) {
      if (isPreconditionFailed(error)) return { ok: false as const };
      this.fail('conditional put', key, error);
    }
  }

  putIfAbsent(key: string, body: Uint8Array): Promise<ConditionalResult> {
    return this.conditionalPut(key, body, { IfNoneMatch: '*' });
  }

  putIfMatch(key: string, body: Uint8Array, etag: string): Promise<ConditionalResult> {
    return this.conditionalPut(key, body, { IfMatch: etag });
  }

  conditionalWrites(): Promise<boolean> {
    if (this.options.conditionalWrites !== 'probe') return Promise.resolve(this.options.conditionalWrites === 'on');
    const id = `${this.options.endpoint ?? 'default'}|${this.bucket}`;
    let probe = probes.get(id);
    if (!probe) {
      probe = this.probe();
      probes.set(id, probe);
      probe.catch(() => probes.delete(id));
    }
    return probe;
  }

  /** Creates one key twice with If-None-Match: * — a server that honours it refuses the second. */
  private async probe(): Promise<boolean> {
    const Key = `${this.root}.lorkd/cas-probe-${randomBytes(6).toString('hex')}`;
    const put = () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key, Body: 'probe', ContentLength: 5, IfNoneMatch: '*' }),
      );
    try {
      try {
        await put();
      } catch (error) {
        const code = status(error);
        if (code === 501 || code === 400) return false; // the header itself is not implemented
        this.fail('probe', Key, error);
      }
      try {
        await put();
      } catch (error) {
        if (isPreconditionFailed(error)) {
          this.logger.debug('S3 server honours conditional writes', { bucket: this.bucket });
          return true;
        }
        this.fail('probe', Key, error);
      }
      this.logger.info('S3 server ignores conditional writes; using the compare-and-set fallback', {
        bucket: this.bucket,
      });
      return false;
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })).catch(() => {});
    }
  }

  /** Repeats a read whose response body broke off, with the same backoff policy as requests. */
  private async readRetrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await fn();
      } catch (error) {
        const decision = isBrokenBody(error) ? retryDecision('TRANSIENT', attempt, this.options.retry) : undefined;
        if (!decision?.retry) throw error;
        this.logger.debug('S3 response body broke off; reading again', { attempt, ...errorFields(error) });
        await new Promise((r) => setTimeout(r, decision.delayMs));
      }
    }
  }

  async get(key: string): Promise<{ body: Uint8Array; etag: string } | undefined> {
    try {
      return await this.readRetrying(async () => {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
        const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
        return { body, etag: out.ETag ?? '' };
      });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      this.fail('get', key, error);
    }
  }

  private async getRange(key: string, target: Uint8Array, start: number, end: number): Promise<void> {
    const out = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), Range: `bytes=${start}-${end - 1}` }),
    );
    let offset = start;
    for await (const chunk of out.Body as AsyncIterable<Uint8Array>) {
      if (offset + chunk.length > end)
        throw new StorageError(`s3 object ${key} grew while reading`, { fields: { key } });
      target.set(chunk, offset);
      offset += chunk.length;
    }
    if (offset !== end) throw new StorageError(`s3 object ${key} shrank while reading`, { fields: { key } });
  }

  /**
   * Reads an object expected to hold `target.length` (> 0) bytes in one ranged GET of exactly that
   * range: the reply's Content-Range carries the object's real size, so a wrong size is detected
   * without a HEAD first and without downloading a large wrong object.
   */
  private async getWhole(key: string, target: Uint8Array): Promise<boolean> {
    const out = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), Range: `bytes=0-${target.length - 1}` }),
    );
    const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
    const size = total !== undefined ? Number(total) : out.ContentLength;
    const wrong = (n: number) =>
      new StorageError(`${this.url}/${key} has ${n} bytes, expected ${target.length}`, {
        fields: { key, size: n, expected: target.length },
      });
    let offset = 0;
    for await (const chunk of (out.Body ?? []) as AsyncIterable<Uint8Array>) {
      if (offset + chunk.length <= target.length) target.set(chunk, offset);
      offset += chunk.length;
    }
    if (size !== undefined && size !== target.length) throw wrong(size);
    if (offset !== target.length) throw wrong(offset);
    return true;
  }

  async getInto(key: string, target: Uint8Array): Promise<boolean> {
    // One request for an object that fits in one part (most checkpoint tensors): the GET's own
    // Content-Range is the size check, no HEAD first.
    if (target.length > 0 && target.length < this.options.partSizeBytes) {
      try {
        return await this.readRetrying(() => this.getWhole(key, target));
      } catch (error) {
        if (error instanceof StorageError) throw error;
        if (isNotFound(error)) return false;
        this.fail('get', key, error);
      }
    }
    const info = await this.head(key);
    if (!info) return false;
    if (info.size !== target.length)
      throw new StorageError(`${this.url}/${key} has ${info.size} bytes, expected ${target.length}`, {
        fields: { key, size: info.size, expected: target.length },
      });
    if (target.length === 0) return true;
    const part = this.options.partSizeBytes;
    const ranges: Array<[number, number]> = [];
    for (let start = 0; start < target.length; start += part)
      ranges.push([start, Math.min(target.length, start + part)]);
    let next = 0;
    const worker = async () => {
      while (next < ranges.length) {
        const range = ranges[next++];
        if (range) await this.readRetrying(() => this.getRange(key, target, range[0], range[1]));
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.options.concurrency, ranges.length) }, worker));
    } catch (error) {
      if (error instanceof StorageError) throw error;
      if (isNotFound(error)) return false;
      this.fail('get', key, error);
    }
    return true;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { key, size: out.ContentLength ?? 0, etag: out.ETag ?? '', lastModified: out.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      this.fail('head', key, error);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.root + prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key?.startsWith(this.root)) continue;
          const key = o.Key.slice(this.root.length);
          if (key.startsWith('.lorkd/')) continue;
          out.push({ key, size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      this.fail('list', prefix, error);
    }
    return out;
  }

  async listDirs(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    const full = this.root + prefix;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, Delimiter: '/', ContinuationToken: token }),
        );
        for (const p of page.CommonPrefixes ?? [])
          if (p.Prefix?.startsWith(full)) out.push(p.Prefix.slice(full.length).replace(/\/$/, ''));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      this.fail('list', prefix, error);
    }
    return out.filter((d) => d !== '.lorkd').sort();
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
    } catch (error) {
      if (!isNotFound(error)) this.fail('delete', key, error);
    }
  }

  /** Aborts incomplete multipart uploads under the prefix (servers without the API are skipped). */
  async sweep(prefix: string, olderThanMs: number): Promise<number> {
    let removed = 0;
    try {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.root + prefix }),
      );
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated && Date.now() - u.Initiated.getTime() < olderThanMs)) continue;
        await this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
        );
        removed += 1;
      }
    } catch (error) {
      this.logger.debug('cannot list incomplete multipart uploads; rely on a bucket lifecycle rule', {
        ...errorFields(error),
      });
    }
    return removed;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
