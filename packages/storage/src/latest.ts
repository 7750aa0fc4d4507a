import type { Logger } from '@lorkd/contracts';
import { StorageError } from './errors.js';
import { type LatestPointer, LatestPointerSchema } from './manifest.js';
import type { ObjectStore } from './object-store.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parsePointer(body: Uint8Array): LatestPointer | undefined {
  try {
    return LatestPointerSchema.parse(JSON.parse(decoder.decode(body)));
  } catch {
    return undefined;
  }
}

/** True when `next` should replace `current`: a later step, or the same step re-saved with other content. */
export function isAdvance(current: LatestPointer | undefined, next: LatestPointer): boolean {
  if (!current) return true;
  if (next.step !== current.step) return next.step > current.step;
  return next.manifestSha256 !== current.manifestSha256;
}

export interface AdvanceLatestOptions {
  readonly store: ObjectStore;
  readonly key: string;
  readonly pointer: LatestPointer;
  /** The newest committed manifest, as a pointer (used by the fallback's repair step). */
  readonly newestCommitted: () => Promise<LatestPointer | undefined>;
  readonly logger: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Moves LATEST to `pointer` unless it already names a later step. Returns whether it wrote.
 *
 * Where the store honours conditional writes this is a compare-and-set loop: read LATEST with its
 * etag, stop if it is ahead, else write with If-Match (or If-None-Match: * when absent) and retry
 * on a lost race. Nobody can move LATEST backwards.
 *
 * Where it does not (s3rver, some S3-compatible servers) it is read-compare-write followed by a
 * repair step: after writing, the writer lists the committed manifests and re-reads LATEST, and
 * rewrites LATEST to the newest manifest until LATEST is at least that. With one writer per run
 * (the rank-0 checkpoint writer, serialised in-process) this is exact. With racing writers a lower
 * value can be visible briefly, but the last write to LATEST is made by a writer that, after it,
 * saw every manifest committed before any earlier LATEST write (manifests precede their pointer),
 * so LATEST settles on the newest committed checkpoint; readers (`loadLatest`) also take the newest
 * manifest, so what they load never goes backwards. See docs/storage.md.
 */
export async function advanceLatest(options: AdvanceLatestOptions): Promise<boolean> {
  const { store, key, logger } = options;
  if (await store.conditionalWrites()) {
    const body = encoder.encode(JSON.stringify(options.pointer));
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const current = await store.get(key);
      const parsed = current ? parsePointer(current.body) : undefined;
      if (current && parsed && !isAdvance(parsed, options.pointer)) return false;
      const result = current ? await store.putIfMatch(key, body, current.etag) : await store.putIfAbsent(key, body);
      if (result.ok) return true;
      await sleep(Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
    }
    throw new StorageError(`could not advance ${key}: too much contention`, { fields: { key } });
  }
  let target = options.pointer;
  let wrote = false;
  for (let round = 0; round < 50; round += 1) {
    const current = await store.get(key);
    const parsed = current ? parsePointer(current.body) : undefined;
    if (!parsed || isAdvance(parsed, target)) {
      await store.put(key, encoder.encode(JSON.stringify(target)), { contentType: 'application/json' });
      wrote = wrote || target === options.pointer;
    } else if (round === 0) {
      return false;
    }
    // Repair: a racing writer may have committed a newer manifest and had its LATEST write overtaken.
    const newest = await options.newestCommitted();
    if (newest && newest.step > target.step) {
      logger.debug('LATEST repair: a newer checkpoint is committed', { wrote: target.step, newest: newest.step });
      target = newest;
      continue;
    }
    const after = await store.get(key);
    const now = after ? parsePointer(after.body) : undefined;
    if (now && now.step >= target.step) return wrote;
  }
  throw new StorageError(`could not settle ${key} without conditional writes`, { fields: { key } });
}
