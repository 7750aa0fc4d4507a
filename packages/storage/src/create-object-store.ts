import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EnvConfig, type Logger, silentLogger } from '@lorkd/contracts';
import { StorageConfigError } from './errors.js';
import { FileObjectStore } from './file-store.js';
import type { ObjectStore } from './object-store.js';
import type { S3OptionsInput } from './s3-store.js';

export interface ObjectStoreOptions {
  logger?: Logger;
  /** Settings for `s3://` URLs; unset fields come from the standard AWS chain. */
  s3?: S3OptionsInput;
  /** For `file://` stores: after how long a lock whose owner cannot be checked counts as stale. */
  lockStaleMs?: number;
}

export type StorageLocation =
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string }
  | { readonly kind: 'file'; readonly path: string };

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses `s3://bucket[/prefix]` or `file:///absolute/dir`, explaining what is wrong otherwise. */
export function parseStorageUrl(url: string): StorageLocation {
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const cut = rest.indexOf('/');
    const bucket = cut < 0 ? rest : rest.slice(0, cut);
    const prefix = cut < 0 ? '' : rest.slice(cut + 1).replace(/^\/+|\/+$/g, '');
    if (!BUCKET.test(bucket))
      throw new StorageConfigError(
        `invalid storage URL ${JSON.stringify(url)}: "${bucket}" is not an S3 bucket name (3-63 of a-z 0-9 . -); write s3://BUCKET/PREFIX`,
        { fields: { url } },
      );
    if (prefix.split('/').some((s) => s === '.' || s === '..'))
      throw new StorageConfigError(`invalid storage URL ${JSON.stringify(url)}: the prefix may not contain . or ..`, {
        fields: { url },
      });
    return { kind: 's3', bucket, prefix };
  }
  if (url.startsWith('file://')) {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (error) {
      throw new StorageConfigError(
        `invalid storage URL ${JSON.stringify(url)}: write file:///ABSOLUTE/PATH (three slashes)`,
        { fields: { url }, cause: error },
      );
    }
    if (!isAbsolute(path))
      throw new StorageConfigError(`invalid storage URL ${JSON.stringify(url)}: the path must be absolute`, {
        fields: { url },
      });
    return { kind: 'file', path: path.replace(/\/+$/, '') || '/' };
  }
  throw new StorageConfigError(
    `invalid storage URL ${JSON.stringify(url)}: use s3://BUCKET/PREFIX or file:///ABSOLUTE/PATH`,
    { fields: { url } },
  );
}

/** Opens the store a storage URL names. Does no network IO (S3 probes conditional writes lazily). */
export async function createObjectStore(url: string, options: ObjectStoreOptions = {}): Promise<ObjectStore> {
  const logger = options.logger ?? silentLogger;
  const location = parseStorageUrl(url);
  if (location.kind === 'file')
    return await FileObjectStore.create(location.path, {
      logger,
      ...(options.lockStaleMs === undefined ? {} : { lockStaleMs: options.lockStaleMs }),
    });
  // Loaded on demand: a file-only process need not pay for loading the AWS SDK.
  const { S3ObjectStore } = await import('./s3-store.js');
  return await S3ObjectStore.create(location.bucket, location.prefix, { ...options.s3, logger });
}

/**
 * The S3 settings lorkd's own variables carry (for an app's main.ts). Endpoint (AWS_ENDPOINT_URL_S3),
 * region and credentials are left to the AWS SDK's standard chain.
 */
export function s3OptionsFromEnvConfig(
  config: Pick<EnvConfig, 'LORKD_S3_FORCE_PATH_STYLE' | 'LORKD_S3_CHECKSUMS'>,
): S3OptionsInput {
  return {
    forcePathStyle: config.LORKD_S3_FORCE_PATH_STYLE ?? false,
    checksums: config.LORKD_S3_CHECKSUMS,
  };
}
