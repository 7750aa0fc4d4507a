import { open } from 'node:fs/promises';
import { type ByteSource, bufferSource, fileSource } from './byte-source.js';
import { DataFormatError } from './errors.js';
import {
  allocateData,
  checkShape,
  dataBytes,
  encodeNpyHeader,
  type NdArray,
  type NpyHeader,
  NpyProblem,
  npyHeaderSize,
  parseNpyHeader,
  swapBytes,
} from './npy.js';
import { readMember, readZipDirectory, type ZipEntry, ZipProblem } from './zip-reader.js';
import { type ByteSink, ZipWriter, type ZipWriterOptions } from './zip-writer.js';

/** Wraps format problems into DataFormatError naming the file and member. */
function wrap(file: string, member: string | undefined, err: unknown): never {
  if (err instanceof DataFormatError) throw err;
  if (err instanceof ZipProblem) throw new DataFormatError(file, err.member ?? member, err.message, { cause: err });
  if (err instanceof NpyProblem) throw new DataFormatError(file, member, err.message, { cause: err });
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT') throw new DataFormatError(file, member, 'no such file', { cause: err });
  if (code === 'EISDIR') throw new DataFormatError(file, member, 'is a directory, not an .npz file', { cause: err });
  throw new DataFormatError(file, member, (err as Error).message ?? String(err), { cause: err });
}

/** Streams a member into a freshly allocated typed array, checking header and size against each other. */
async function decodeStreamed(chunks: AsyncIterable<Uint8Array>, expectedSize: number | undefined): Promise<NdArray> {
  let prefix = new Uint8Array(0);
  let header: NpyHeader | undefined;
  let target: Uint8Array | undefined;
  let data: NdArray['data'] | undefined;
  let pos = 0;
  for await (const chunk of chunks) {
    let rest = chunk;
    if (!header) {
      const joined = new Uint8Array(prefix.length + chunk.length);
      joined.set(prefix, 0);
      joined.set(chunk, prefix.length);
      const need = npyHeaderSize(joined);
      if (need === undefined || joined.length < need) {
        prefix = joined;
        continue;
      }
      header = parseNpyHeader(joined);
      if (expectedSize !== undefined && header.dataOffset + header.dataBytes !== expectedSize) {
        throw new NpyProblem(
          `the header says ${header.dtype} (${header.shape.join(', ')}) = ${header.dataBytes} data bytes, ` +
            `but the member holds ${expectedSize - header.dataOffset}`,
        );
      }
      data = allocateData(header.dtype, header.dataBytes / header.itemSize);
      target = dataBytes(data);
      rest = joined.subarray(header.dataOffset);
    }
    if (!target) continue;
    if (pos + rest.length > target.length) throw new NpyProblem("more data than the header's shape holds");
    target.set(rest, pos);
    pos += rest.length;
  }
  if (!header) throw new NpyProblem(prefix.length === 0 ? 'empty member (no .npy header)' : 'truncated .npy header');
  if (!target || !data) throw new NpyProblem('no data');
  if (pos !== target.length) throw new NpyProblem(`truncated data: ${pos} of ${target.length} bytes present`);
  if (!header.littleEndian) swapBytes(target, header.itemSize);
  return { dtype: header.dtype, shape: header.shape, data };
}

export interface NpzMemberInfo {
  readonly key: string;
  readonly dtype: NdArray['dtype'];
  readonly shape: readonly number[];
  readonly compressed: boolean;
  readonly compressedBytes: number;
  readonly bytes: number;
}

/** An open .npz archive: list members, read headers, stream arrays out one at a time. */
export class NpzReader {
  private constructor(
    private readonly source: ByteSource,
    private readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  static async open(input: string | { name: string; bytes: Uint8Array }): Promise<NpzReader> {
    const name = typeof input === 'string' ? input : input.name;
    let source: ByteSource | undefined;
    try {
      source = typeof input === 'string' ? await fileSource(input) : bufferSource(input.name, input.bytes);
      const entries = new Map<string, ZipEntry>();
      for (const e of await readZipDirectory(source)) {
        if (!e.name.endsWith('.npy')) continue;
        entries.set(e.name.slice(0, -4), e);
      }
      return new NpzReader(source, entries);
    } catch (err) {
      await source?.close();
      return wrap(name, undefined, err);
    }
  }

  get file(): string {
    return this.source.name;
  }

  /** Array keys (member names without `.npy`), in archive order. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  private entry(key: string): ZipEntry {
    const e = this.entries.get(key);
    if (!e) {
      throw new DataFormatError(
        this.file,
        `${key}.npy`,
        `no such member; the archive has: ${this.keys().join(', ') || '(none)'}`,
      );
    }
    return e;
  }

  /** Dtype and shape from the member's header, without reading its data. */
  async info(key: string): Promise<NpzMemberInfo> {
    const e = this.entry(key);
    try {
      let prefix = new Uint8Array(0);
      for await (const chunk of readMember(this.source, e)) {
        const joined = new Uint8Array(prefix.length + chunk.length);
        joined.set(prefix, 0);
        joined.set(chunk, prefix.length);
        prefix = joined;
        const need = npyHeaderSize(prefix);
        if (need !== undefined && prefix.length >= need) break;
      }
      const h = parseNpyHeader(prefix);
      if (h.dataOffset + h.dataBytes !== e.size) {
        throw new NpyProblem(
          `the header says ${h.dtype} (${h.shape.join(', ')}) = ${h.dataBytes} data bytes, but the member holds ${e.size - h.dataOffset}`,
        );
      }
      return {
        key,
        dtype: h.dtype,
        shape: h.shape,
        compressed: e.method === 8,
        compressedBytes: e.compressedSize,
        bytes: e.size,
      };
    } catch (err) {
      return wrap(this.file, e.name, err);
    }
  }

  /** Reads one array, streaming the member (never holding the compressed member and the array at once). */
  async read(key: string): Promise<NdArray> {
    const e = this.entry(key);
    try {
      return await decodeStreamed(readMember(this.source, e), e.size);
    } catch (err) {
      return wrap(this.file, e.name, err);
    }
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

/** Reads every array (or the listed keys) of an .npz file or buffer. */
export async function readNpz(
  input: string | { name: string; bytes: Uint8Array },
  keys?: readonly string[],
): Promise<Map<string, NdArray>> {
  const reader = await NpzReader.open(input);
  try {
    const out = new Map<string, NdArray>();
    for (const k of keys ?? reader.keys()) out.set(k, await reader.read(k));
    return out;
  } finally {
    await reader.close();
  }
}

export type NpzArrays = Readonly<Record<string, NdArray>> | ReadonlyMap<string, NdArray>;

function entriesOf(arrays: NpzArrays): [string, NdArray][] {
  return arrays instanceof Map ? [...arrays.entries()] : Object.entries(arrays as Record<string, NdArray>);
}

async function writeArrays(sink: ByteSink, arrays: NpzArrays, options: ZipWriterOptions, name: string): Promise<void> {
  const zip = new ZipWriter(sink, options);
  for (const [key, array] of entriesOf(arrays)) {
    try {
      checkShape(array);
    } catch (err) {
      wrap(name, `${key}.npy`, err);
    }
    await zip.add(`${key}.npy`, [encodeNpyHeader(array.dtype, array.shape), dataBytes(array.data)]);
  }
  await zip.finish();
}

/** Writes arrays as an .npz NumPy can `np.load` (deflate by default, like `np.savez_compressed`). */
export async function writeNpz(path: string, arrays: NpzArrays, options: ZipWriterOptions = {}): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await writeArrays(
      {
        write: async (b) => {
          let off = 0;
          while (off < b.length) off += (await handle.write(b, off, b.length - off)).bytesWritten;
        },
      },
      arrays,
      options,
      path,
    );
  } finally {
    await handle.close();
  }
}

/** The .npz bytes in memory. */
export async function encodeNpz(arrays: NpzArrays, options: ZipWriterOptions = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await writeArrays({ write: async (b) => void parts.push(b.slice()) }, arrays, options, '(in memory)');
  const total = parts.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
