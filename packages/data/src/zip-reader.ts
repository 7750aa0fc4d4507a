import { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import type { ByteSource } from './byte-source.js';
import { crc32 } from './crc32.js';

/** One member of a ZIP archive, from its central-directory entry. */
export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

/** A structural problem in the archive; `member` is set when it concerns one member. */
export class ZipProblem extends Error {
  constructor(
    message: string,
    readonly member?: string,
  ) {
    super(message);
  }
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

function u64(view: DataView, at: number): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipProblem('a ZIP64 size or offset is too large');
  return Number(v);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads the central directory (ZIP64 aware). Throws ZipProblem when the archive is damaged. */
export async function readZipDirectory(source: ByteSource): Promise<ZipEntry[]> {
  if (source.size < 22) throw new ZipProblem(`not a ZIP/npz archive (only ${source.size} bytes)`);
  const tailLength = Math.min(source.size, 22 + 0xffff);
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const tv = viewOf(tail);
  let eocd = -1;
  for (let p = tail.length - 22; p >= 0; p--) {
    if (tv.getUint32(p, true) === EOCD) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) {
    throw new ZipProblem('not a ZIP/npz archive, or truncated: no end-of-central-directory record found');
  }
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === MAX32 || cdOffset === MAX32) {
    const loc = eocd - 20;
    if (loc < 0 || tv.getUint32(loc, true) !== ZIP64_LOCATOR) {
      throw new ZipProblem('the archive needs ZIP64 records but the ZIP64 locator is missing');
    }
    const z64At = u64(tv, loc + 8);
    const z64 = await source.read(z64At, 56);
    const zv = viewOf(z64);
    if (z64.length < 56 || zv.getUint32(0, true) !== ZIP64_EOCD) {
      throw new ZipProblem('the ZIP64 end-of-central-directory record is missing or damaged');
    }
    count = u64(zv, 32);
    cdSize = u64(zv, 40);
    cdOffset = u64(zv, 48);
  }
  if (cdOffset + cdSize > source.size) {
    throw new ZipProblem(
      `truncated: the central directory should span bytes ${cdOffset}..${cdOffset + cdSize} but the file has ${source.size}`,
    );
  }
  const cd = await source.read(cdOffset, cdSize);
  const cv = viewOf(cd);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cd.length || cv.getUint32(p, true) !== CENTRAL) {
      throw new ZipProblem(`damaged central directory: entry ${k} of ${count} is missing or has a bad signature`);
    }
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc = cv.getUint32(p + 16, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let size = cv.getUint32(p + 24, true);
    const nameLength = cv.getUint16(p + 28, true);
    const extraLength = cv.getUint16(p + 30, true);
    const commentLength = cv.getUint16(p + 32, true);
    let localHeaderOffset = cv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLength));
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === MAX32) {
          size = u64(cv, q);
          q += 8;
        }
        if (compressedSize === MAX32) {
          compressedSize = u64(cv, q);
          q += 8;
        }
        if (localHeaderOffset === MAX32) localHeaderOffset = u64(cv, q);
      }
      e += 4 + len;
    }
    entries.push({ name, method, flags, crc32: crc, compressedSize, size, localHeaderOffset });
    p = extraEnd + commentLength;
  }
  return entries;
}

/** Where the member's compressed bytes start (after its local header). */
export async function memberDataOffset(source: ByteSource, entry: ZipEntry): Promise<number> {
  const head = await source.read(entry.localHeaderOffset, 30);
  if (head.length < 30 || viewOf(head).getUint32(0, true) !== LOCAL) {
    throw new ZipProblem('the local file header is missing or damaged', entry.name);
  }
  const hv = viewOf(head);
  const start = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
  if (start + entry.compressedSize > source.size) {
    throw new ZipProblem(
      `truncated: the member's ${entry.compressedSize} compressed bytes run past the end of the file`,
      entry.name,
    );
  }
  return start;
}

async function* inflateRaw(input: AsyncIterable<Uint8Array>, member: string): AsyncIterable<Uint8Array> {
  const inflater = createInflateRaw({ chunkSize: 1 << 18 });
  const src = Readable.from(input);
  src.on('error', (err) => inflater.destroy(err));
  src.pipe(inflater);
  try {
    for await (const chunk of inflater) yield chunk as Uint8Array;
  } catch (err) {
    throw new ZipProblem(`the deflate data is corrupt or truncated (${(err as Error).message})`, member);
  } finally {
    src.destroy();
    inflater.destroy();
  }
}

/**
 * The member's uncompressed bytes, streamed; checks the method, the size and the CRC-32 at the end.
 * Consumers must read to the end for the checks to run.
 */
export async function* readMember(source: ByteSource, entry: ZipEntry): AsyncIterable<Uint8Array> {
  if (entry.flags & 1) throw new ZipProblem('encrypted members are not supported', entry.name);
  if (entry.method !== 0 && entry.method !== 8) {
    throw new ZipProblem(
      `compression method ${entry.method} is not supported (only stored = 0 and deflate = 8)`,
      entry.name,
    );
  }
  const start = await memberDataOffset(source, entry);
  const raw = source.stream(start, entry.compressedSize);
  const chunks = entry.method === 8 ? inflateRaw(raw, entry.name) : raw;
  let crc = 0;
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > entry.size) {
      throw new ZipProblem(`the member inflates to more than its recorded ${entry.size} bytes`, entry.name);
    }
    crc = crc32(chunk, crc);
    yield chunk;
  }
  if (total !== entry.size) {
    throw new ZipProblem(`truncated member: ${total} of ${entry.size} bytes`, entry.name);
  }
  if (crc !== entry.crc32) {
    throw new ZipProblem(
      `CRC-32 mismatch (stored ${entry.crc32.toString(16)}, computed ${crc.toString(16)}): the data is corrupt`,
      entry.name,
    );
  }
}
