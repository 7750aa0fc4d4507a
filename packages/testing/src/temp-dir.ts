import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp directory and a function that removes it. */
export async function tempDir(prefix = 'lorkd-test-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A key/queue prefix unique to one test, for sharing the machine's Redis safely. */
export function uniquePrefix(name = 'test'): string {
  return `lorkd-${name}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The machine's shared Redis (tests that do not kill Redis may use it with a unique prefix). */
export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';
