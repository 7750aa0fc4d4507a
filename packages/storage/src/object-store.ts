/** One stored object as a listing or a HEAD request reports it. */
export interface ObjectInfo {
  /** Key relative to the store's root (the URL's prefix is not part of it). */
  readonly key: string;
  readonly size: number;
  /** Opaque version tag; changes whenever the object is replaced. */
  readonly etag: string;
  readonly lastModified: Date;
}

export type ConditionalResult = { readonly ok: true; readonly etag: string } | { readonly ok: false };

/**
 * A flat key/value store of immutable-once-written objects: S3 (`s3://bucket/prefix`) or a local
 * directory (`file:///abs/dir`). Every `put` is atomic: readers see the old object or the new one,
 * never a part. Keys use `/` separators and never start with `/`.
 */
export interface ObjectStore {
  /** The store's root URL, e.g. `s3://bucket/prefix` or `file:///abs/dir` (no trailing slash). */
  readonly url: string;
  /** Writes `body` under `key` (multipart with parallel parts for large bodies on S3). */
  put(key: string, body: Uint8Array, options?: { contentType?: string }): Promise<{ etag: string }>;
  /** Creates `key` only if it does not exist. Throws ConditionalWritesUnsupportedError where unsupported. */
  putIfAbsent(key: string, body: Uint8Array): Promise<ConditionalResult>;
  /** Replaces `key` only if its current etag is `etag`. Throws ConditionalWritesUnsupportedError where unsupported. */
  putIfMatch(key: string, body: Uint8Array, etag: string): Promise<ConditionalResult>;
  /** Whether the server honours conditional writes (S3: probed once per bucket and cached). */
  conditionalWrites(): Promise<boolean>;
  /** Reads a small object whole; `undefined` when absent. */
  get(key: string): Promise<{ body: Uint8Array; etag: string } | undefined>;
  /**
   * Reads an object of known size straight into `target` (parallel ranged reads on S3), so a large
   * blob needs no memory beyond its destination. Returns false when absent; throws when the size differs.
   */
  getInto(key: string, target: Uint8Array): Promise<boolean>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** The distinct next path segments below `prefix` (which should end in `/`), like `aws s3 ls`. */
  listDirs(prefix: string): Promise<string[]>;
  /** Deletes `key`; deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Removes write debris under `prefix` older than `olderThanMs`: temp files, stale locks, incomplete multipart uploads. */
  sweep(prefix: string, olderThanMs: number): Promise<number>;
  close(): Promise<void>;
}

/** Rejects keys that would escape the store root or are ambiguous. */
export function checkKey(key: string): string {
  if (
    key === '' ||
    key.startsWith('/') ||
    key.endsWith('/') ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..')
  )
    throw new TypeError(`invalid object key ${JSON.stringify(key)}: use non-empty segments separated by single '/'`);
  return key;
}
