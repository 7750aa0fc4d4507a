import { open, stat } from 'node:fs/promises';

/** Random-access bytes: a file on disk or a buffer in memory. */
export interface ByteSource {
  /** A name for error messages (the path or URI). */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes from `offset` (fewer only at the end of the source). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** The bytes in [offset, offset + length) as chunks of at most `chunkSize`. */
  stream(offset: number, length: number, chunkSize?: number): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

const CHUNK = 1 << 20;

export function bufferSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.length,
    async read(offset, length) {
      return bytes.subarray(offset, Math.min(bytes.length, offset + length));
    },
    async *stream(offset, length, chunkSize = CHUNK) {
      const end = Math.min(bytes.length, offset + length);
      for (let p = offset; p < end; p += chunkSize) yield bytes.subarray(p, Math.min(end, p + chunkSize));
    },
    async close() {},
  };
}

/** Opens a file for random access; reads never load more than one chunk at a time. */
export async function fileSource(path: string): Promise<ByteSource> {
  const { size } = await stat(path);
  const handle = await open(path, 'r');
  const readAt = async (offset: number, length: number): Promise<Uint8Array> => {
    const n = Math.max(0, Math.min(length, size - offset));
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await handle.read(buf, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  };
  return {
    name: path,
    size,
    read: readAt,
    async *stream(offset, length, chunkSize = CHUNK) {
      const end = Math.min(size, offset + length);
      for (let p = offset; p < end; p += chunkSize) {
        const chunk = await readAt(p, Math.min(chunkSize, end - p));
        if (chunk.length === 0) return;
        yield chunk;
      }
    },
    close: () => handle.close(),
  };
}
