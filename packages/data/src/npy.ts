/**
 * The `.npy` format (NumPy's array file): magic `\x93NUMPY`, version, a little-endian header
 * length (uint16 for v1, uint32 for v2/v3), a Python-literal dict header, then the raw C-order data.
 */

export type NpyDtype =
  | 'bool'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64';

export type NpyData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** A dense C-order array: `data.length` equals the product of `shape`. `bool` is stored as 0/1 bytes. */
export interface NdArray<D extends NpyData = NpyData> {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly data: D;
}

export interface NpyHeader {
  readonly version: readonly [number, number];
  readonly dtype: NpyDtype;
  readonly littleEndian: boolean;
  readonly shape: readonly number[];
  /** Bytes before the data (magic + version + length field + dict + padding). */
  readonly dataOffset: number;
  readonly itemSize: number;
  /** Byte length of the data that follows the header. */
  readonly dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DTYPES: Record<string, { dtype: NpyDtype; size: number }> = {
  b1: { dtype: 'bool', size: 1 },
  u1: { dtype: 'uint8', size: 1 },
  i1: { dtype: 'int8', size: 1 },
  u2: { dtype: 'uint16', size: 2 },
  i2: { dtype: 'int16', size: 2 },
  u4: { dtype: 'uint32', size: 4 },
  i4: { dtype: 'int32', size: 4 },
  i8: { dtype: 'int64', size: 8 },
  u8: { dtype: 'uint64', size: 8 },
  f4: { dtype: 'float32', size: 4 },
  f8: { dtype: 'float64', size: 8 },
};

const DESCR: Record<NpyDtype, string> = {
  bool: '|b1',
  uint8: '|u1',
  int8: '|i1',
  uint16: '<u2',
  int16: '<i2',
  uint32: '<u4',
  int32: '<i4',
  int64: '<i8',
  uint64: '<u8',
  float32: '<f4',
  float64: '<f8',
};

export function dtypeItemSize(dtype: NpyDtype): number {
  return DTYPES[DESCR[dtype].slice(1)]?.size ?? 1;
}

/** Fresh zeroed storage for `count` elements of `dtype`. */
export function allocateData(dtype: NpyDtype, count: number): NpyData {
  switch (dtype) {
    case 'bool':
    case 'uint8':
      return new Uint8Array(count);
    case 'int8':
      return new Int8Array(count);
    case 'uint16':
      return new Uint16Array(count);
    case 'int16':
      return new Int16Array(count);
    case 'uint32':
      return new Uint32Array(count);
    case 'int32':
      return new Int32Array(count);
    case 'int64':
      return new BigInt64Array(count);
    case 'uint64':
      return new BigUint64Array(count);
    case 'float32':
      return new Float32Array(count);
    case 'float64':
      return new Float64Array(count);
  }
}

/** The dtype a typed array maps to (Uint8Array → uint8; pass `bool` explicitly for boolean data). */
export function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (data instanceof Float32Array) return 'float32';
  return 'float64';
}

/** Raised by the header parser; the caller wraps it with the file and member names. */
export class NpyProblem extends Error {}

/** How many leading bytes are needed before `parseNpyHeader` can succeed, or undefined if `prefix` is too short to tell. */
export function npyHeaderSize(prefix: Uint8Array): number | undefined {
  if (prefix.length < 8) return undefined;
  checkMagic(prefix);
  const major = prefix[6] ?? 0;
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  if (major === 1) return prefix.length < 10 ? undefined : 10 + view.getUint16(8, true);
  if (major === 2 || major === 3) return prefix.length < 12 ? undefined : 12 + view.getUint32(8, true);
  throw new NpyProblem(`unsupported .npy format version ${major}.${prefix[7]} (supported: 1.0, 2.0, 3.0)`);
}

function checkMagic(bytes: Uint8Array): void {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new NpyProblem('not a .npy array (the magic bytes \\x93NUMPY are missing)');
  }
}

/** Parses the header at the start of `bytes` (which must hold at least `npyHeaderSize` bytes). */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  const size = npyHeaderSize(bytes);
  if (size === undefined || bytes.length < size) throw new NpyProblem('truncated .npy header');
  const major = bytes[6] ?? 0;
  const minor = bytes[7] ?? 0;
  const start = major === 1 ? 10 : 12;
  const raw = bytes.subarray(start, size);
  const text = major === 3 ? new TextDecoder('utf-8').decode(raw) : latin1(raw);
  let dict: unknown;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    throw new NpyProblem(
      `unreadable .npy header ${JSON.stringify(text.trim().slice(0, 120))}: ${(err as Error).message}`,
    );
  }
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
    throw new NpyProblem(`the .npy header is not a dict: ${JSON.stringify(text.trim().slice(0, 120))}`);
  }
  const d = dict as Record<string, unknown>;
  const descr = d.descr;
  if (typeof descr !== 'string') throw new NpyProblem("the .npy header has no 'descr' string");
  const order = descr[0];
  const code = descr.slice(1);
  const known = DTYPES[code];
  if (!known || !['<', '>', '|', '='].includes(order ?? '')) {
    throw new NpyProblem(
      `unsupported dtype '${descr}' (supported: bool, uint8/16/32/64, int8/16/32/64, float32, float64)`,
    );
  }
  if (d.fortran_order === true) {
    throw new NpyProblem('Fortran-order arrays are not supported; save it with np.ascontiguousarray(a) first');
  }
  if (d.fortran_order !== false) throw new NpyProblem("the .npy header has no boolean 'fortran_order'");
  const shape = d.shape;
  if (!Array.isArray(shape) || !shape.every((s) => typeof s === 'number' && Number.isSafeInteger(s) && s >= 0)) {
    throw new NpyProblem("the .npy header has no valid 'shape' tuple of non-negative integers");
  }
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Number.isSafeInteger(count * known.size)) throw new NpyProblem(`shape (${shape.join(', ')}) is too large`);
  return {
    version: [major, minor],
    dtype: known.dtype,
    littleEndian: order !== '>',
    shape: shape as number[],
    dataOffset: size,
    itemSize: known.size,
    dataBytes: count * known.size,
  };
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}

/** A tiny parser for the Python literals NumPy writes: dicts, tuples, strings, ints, True/False/None. */
function parsePyLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return out;
        }
        const key = value();
        if (typeof key !== 'string') throw new Error('dict keys must be strings');
        ws();
        if (text[i] !== ':') throw new Error(`expected ':' at ${i}`);
        i++;
        out[key] = value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') throw new Error(`expected ',' or '}' at ${i}`);
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const out: unknown[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return out;
        }
        out.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) throw new Error(`expected ',' or '${close}' at ${i}`);
      }
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new Error('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(-?\d+)L?|^(True|False|None)/.exec(text.slice(i));
    if (!m) throw new Error(`unexpected ${JSON.stringify(text.slice(i, i + 10))} at ${i}`);
    i += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    return m[2] === 'True' ? true : m[2] === 'False' ? false : null;
  };
  const v = value();
  ws();
  if (i !== text.length) throw new Error(`unexpected trailing text at ${i}`);
  return v;
}

/** The header bytes NumPy would write for this array (v1.0 when it fits, else v2.0), padded to 64 bytes. */
export function encodeNpyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let version = 1;
  let prefix = 10;
  let total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) {
    version = 2;
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  }
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, total - prefix, true);
  else view.setUint32(8, total - prefix, true);
  const padded = dict.padEnd(total - prefix - 1, ' ');
  for (let k = 0; k < padded.length; k++) out[prefix + k] = padded.charCodeAt(k);
  out[total - 1] = 0x0a;
  return out;
}

/** Little-endian bytes of the array data (a view, no copy, on little-endian hosts). */
export function dataBytes(data: NpyData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A whole `.npy` file in memory. */
export function encodeNpy(array: NdArray): Uint8Array {
  checkShape(array);
  const header = encodeNpyHeader(array.dtype, array.shape);
  const body = dataBytes(array.data);
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

export function checkShape(array: NdArray): void {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new NpyProblem(
      `shape (${array.shape.join(', ')}) holds ${count} elements but the data has ${array.data.length}`,
    );
  }
  if (array.dtype !== dtypeOf(array.data) && !(array.dtype === 'bool' && array.data instanceof Uint8Array)) {
    throw new NpyProblem(`dtype ${array.dtype} does not match the data (${array.data.constructor.name})`);
  }
}

/** Swaps the bytes of each element in place (for big-endian files). */
export function swapBytes(bytes: Uint8Array, itemSize: number): void {
  if (itemSize === 1) return;
  for (let i = 0; i + itemSize <= bytes.length; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = bytes[a] ?? 0;
      bytes[a] = bytes[b] ?? 0;
      bytes[b] = t;
    }
  }
}

/** Decodes a complete in-memory `.npy` file. Throws NpyProblem on bad input. */
export function decodeNpy(bytes: Uint8Array): NdArray {
  const header = parseNpyHeader(bytes);
  const available = bytes.length - header.dataOffset;
  if (available < header.dataBytes) {
    throw new NpyProblem(`truncated data: ${available} of ${header.dataBytes} bytes present`);
  }
  if (available > header.dataBytes) {
    throw new NpyProblem(`${available - header.dataBytes} unexpected bytes after the data`);
  }
  const count = header.dataBytes / header.itemSize;
  const data = allocateData(header.dtype, count);
  const target = dataBytes(data);
  target.set(bytes.subarray(header.dataOffset, header.dataOffset + header.dataBytes));
  if (!header.littleEndian) swapBytes(target, header.itemSize);
  return { dtype: header.dtype, shape: header.shape, data };
}
