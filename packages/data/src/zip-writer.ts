import { createDeflateRaw } from 'node:zlib';
import { crc32 } from './crc32.js';

/** Where archive bytes go, in order. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
}

export interface ZipWriterOptions {
  /** deflate (method 8, the default, like `np.savez_compressed`) or stored (method 0, like `np.savez`). */
  readonly compress?: boolean;
  /** zlib level 0-9 (default 6). */
  readonly level?: number;
  /** Write ZIP64 records even when the sizes fit in 32 bits. */
  readonly forceZip64?: boolean;
}

interface Written {
  name: Uint8Array;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
  zip64: boolean;
}

const MAX32 = 0xffffffff;
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01: fixed, so the same arrays give the same bytes

async function deflateChunks(parts: readonly Uint8Array[], level: number): Promise<Uint8Array[]> {
  const deflater = createDeflateRaw({ level });
  const out: Uint8Array[] = [];
  const done = new Promise<void>((resolve, reject) => {
    deflater.on('data', (c: Uint8Array) => out.push(c));
    deflater.on('end', resolve);
    deflater.on('error', reject);
  });
  for (const p of parts) {
    // Feed in 4 MiB slices so a huge member never needs a second whole copy.
    for (let o = 0; o < p.length; o += 1 << 22) {
      if (!deflater.write(p.subarray(o, Math.min(p.length, o + (1 << 22))))) {
        await new Promise<void>((r) => deflater.once('drain', () => r()));
      }
    }
  }
  deflater.end();
  await done;
  return out;
}

/** Writes a ZIP archive member by member to a sink; `finish` writes the central directory. */
export class ZipWriter {
  private offset = 0;
  private readonly written: Written[] = [];
  private readonly names = new Set<string>();

  constructor(
    private readonly sink: ByteSink,
    private readonly options: ZipWriterOptions = {},
  ) {}

  private async put(bytes: Uint8Array): Promise<void> {
    await this.sink.write(bytes);
    this.offset += bytes.length;
  }

  /** Adds one member whose content is the concatenation of `parts`. */
  async add(name: string, parts: readonly Uint8Array[]): Promise<void> {
    if (this.names.has(name)) throw new Error(`duplicate member name ${name}`);
    this.names.add(name);
    const compress = this.options.compress ?? true;
    let crc = 0;
    let size = 0;
    for (const p of parts) {
      crc = crc32(p, crc);
      size += p.length;
    }
    const body = compress ? await deflateChunks(parts, this.options.level ?? 6) : parts;
    const compressedSize = body.reduce((a, b) => a + b.length, 0);
    const nameBytes = new TextEncoder().encode(name);
    const zip64 = this.options.forceZip64 === true || size >= MAX32 || compressedSize >= MAX32 || this.offset >= MAX32;
    const head = new Uint8Array(30 + nameBytes.length + (zip64 ? 20 : 0));
    const v = new DataView(head.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, zip64 ? 45 : 20, true);
    v.setUint16(6, 0, true);
    v.setUint16(8, compress ? 8 : 0, true);
    v.setUint16(10, 0, true);
    v.setUint16(12, DOS_DATE, true);
    v.setUint32(14, crc, true);
    v.setUint32(18, zip64 ? MAX32 : compressedSize, true);
    v.setUint32(22, zip64 ? MAX32 : size, true);
    v.setUint16(26, nameBytes.length, true);
    v.setUint16(28, zip64 ? 20 : 0, true);
    head.set(nameBytes, 30);
    if (zip64) {
      const e = 30 + nameBytes.length;
      v.setUint16(e, 0x0001, true);
      v.setUint16(e + 2, 16, true);
      v.setBigUint64(e + 4, BigInt(size), true);
      v.setBigUint64(e + 12, BigInt(compressedSize), true);
    }
    const offset = this.offset;
    await this.put(head);
    for (const c of body) await this.put(c);
    this.written.push({ name: nameBytes, method: compress ? 8 : 0, crc, compressedSize, size, offset, zip64 });
  }

  /** Writes the central directory and the end records. */
  async finish(): Promise<void> {
    const cdStart = this.offset;
    for (const w of this.written) {
      const z64 = w.zip64 || w.offset >= MAX32;
      const extra = z64 ? 28 : 0;
      const rec = new Uint8Array(46 + w.name.length + extra);
      const v = new DataView(rec.buffer);
      v.setUint32(0, 0x02014b50, true);
      v.setUint16(4, (3 << 8) | (z64 ? 45 : 20), true);
      v.setUint16(6, z64 ? 45 : 20, true);
      v.setUint16(8, 0, true);
      v.setUint16(10, w.method, true);
      v.setUint16(12, 0, true);
      v.setUint16(14, DOS_DATE, true);
      v.setUint32(16, w.crc, true);
      v.setUint32(20, z64 ? MAX32 : w.compressedSize, true);
      v.setUint32(24, z64 ? MAX32 : w.size, true);
      v.setUint16(28, w.name.length, true);
      v.setUint16(30, extra, true);
      v.setUint32(38, (0o100644 << 16) >>> 0, true);
      v.setUint32(42, z64 ? MAX32 : w.offset, true);
      rec.set(w.name, 46);
      if (z64) {
        const e = 46 + w.name.length;
        v.setUint16(e, 0x0001, true);
        v.setUint16(e + 2, 24, true);
        v.setBigUint64(e + 4, BigInt(w.size), true);
        v.setBigUint64(e + 12, BigInt(w.compressedSize), true);
        v.setBigUint64(e + 20, BigInt(w.offset), true);
      }
      await this.put(rec);
    }
    const cdSize = this.offset - cdStart;
    const count = this.written.length;
    const need64 = this.options.forceZip64 === true || count >= 0xffff || cdStart >= MAX32 || cdSize >= MAX32;
    if (need64) {
      const z64At = this.offset;
      const rec = new Uint8Array(56 + 20);
      const v = new DataView(rec.buffer);
      v.setUint32(0, 0x06064b50, true);
      v.setBigUint64(4, 44n, true);
      v.setUint16(12, 45, true);
      v.setUint16(14, 45, true);
      v.setBigUint64(24, BigInt(count), true);
      v.setBigUint64(32, BigInt(count), true);
      v.setBigUint64(40, BigInt(cdSize), true);
      v.setBigUint64(48, BigInt(cdStart), true);
      v.setUint32(56, 0x07064b50, true);
      v.setBigUint64(64, BigInt(z64At), true);
      v.setUint32(72, 1, true);
      await this.put(rec);
    }
    const end = new Uint8Array(22);
    const v = new DataView(end.buffer);
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, need64 ? 0xffff : count, true);
    v.setUint16(10, need64 ? 0xffff : count, true);
    v.setUint32(12, need64 ? MAX32 : cdSize, true);
    v.setUint32(16, need64 ? MAX32 : cdStart, true);
    await this.put(end);
  }
}
