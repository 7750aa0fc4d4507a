/**
 * Checkpoint blobs kept in memory by content hash, newest use last, bounded in bytes. A hit is as
 * good as a verified download: an entry only ever enters under the SHA-256 of its own bytes
 * (`CheckpointStore` hashes what it saves, reads or is asked to remember), so a worker that already
 * holds a tensor — because it wrote the checkpoint, read it, or computed the same bytes as a member
 * of the same sync group — skips downloading it.
 */
export class BlobCache {
  private readonly entries = new Map<string, Uint8Array>();
  private bytes = 0;
  private hitCount = 0;
  private missCount = 0;

  constructor(readonly maxBytes = 256 * 1024 * 1024) {}

  /** Copies the cached bytes of `sha256` into `target`; false when absent or of another size. */
  readInto(sha256: string, target: Uint8Array): boolean {
    const got = this.entries.get(sha256);
    if (!got || got.length !== target.length) {
      this.missCount += 1;
      return false;
    }
    this.entries.delete(sha256);
    this.entries.set(sha256, got);
    target.set(got);
    this.hitCount += 1;
    return true;
  }

  /** Keeps a copy of `bytes` under `sha256`, which the caller computed from exactly these bytes. */
  put(sha256: string, bytes: Uint8Array): void {
    if (bytes.length > this.maxBytes) return;
    const old = this.entries.get(sha256);
    if (old) {
      this.entries.delete(sha256);
      this.entries.set(sha256, old);
      return;
    }
    this.entries.set(sha256, bytes.slice());
    this.bytes += bytes.length;
    for (const [key, value] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= value.length;
    }
  }

  has(sha256: string): boolean {
    return this.entries.has(sha256);
  }

  get stats(): { entries: number; bytes: number; hits: number; misses: number } {
    return { entries: this.entries.size, bytes: this.bytes, hits: this.hitCount, misses: this.missCount };
  }
}
