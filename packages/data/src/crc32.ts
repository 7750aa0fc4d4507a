import * as zlib from 'node:zlib';

let table: Uint32Array | undefined;

function slowCrc32(bytes: Uint8Array, prev: number): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~prev;
  for (let i = 0; i < bytes.length; i++) c = (table[(c ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (the ZIP polynomial), continuing from `prev`. Uses zlib's native version where Node has it. */
export function crc32(bytes: Uint8Array, prev = 0): number {
  // Node's zlib.crc32 returns 0 for empty input when `prev` is above 2^31; an empty chunk changes nothing anyway.
  if (bytes.length === 0) return prev >>> 0;
  return native ? native(bytes, prev) >>> 0 : slowCrc32(bytes, prev);
}
