/** IEEE 754 binary16 conversion for the collectives' fp16 transport (round to nearest, ties to even). */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Encodes one float32 value as binary16 bits. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf / nan (kept quiet)
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000; // implicit bit
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // may carry into exponent: still correct
  return sign | half;
}

let table: Float32Array | undefined;

/** Decoding table: binary16 bits → float32 value (256 KiB, built on first use). */
function halfTable(): Float32Array {
  if (table) return table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  table = t;
  return t;
}

/** Encodes `src` into binary16 bits in `dst` (same length). */
export function encodeHalf(src: Float32Array, dst: Uint16Array): void {
  const n = src.length;
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const x = bits[i] as number;
    const exp = (x >>> 23) & 0xff;
    // Fast path: normal results without overflow (exp 113..142), the common case for gradients.
    if (exp > 112 && exp < 143) {
      let half = ((x >>> 16) & 0x8000) | ((exp - 112) << 10) | ((x >>> 13) & 0x3ff);
      const rem = x & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
      dst[i] = half;
    } else dst[i] = toHalfBits(src[i] as number);
  }
}

/** Decodes binary16 bits into float32 values in `dst` (same length). */
export function decodeHalf(src: Uint16Array, dst: Float32Array): void {
  const t = halfTable();
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = t[src[i] as number] as number;
}

/** Rounds every value to the nearest binary16 value, in place (what the fp16 transport does to a buffer). */
export function roundToHalf(data: Float32Array): void {
  const tmp = new Uint16Array(data.length);
  encodeHalf(data, tmp);
  decodeHalf(tmp, data);
}
