import { describe, expect, it } from 'vitest';
import { decodeHalf, encodeHalf, toHalfBits } from './fp16.js';

function roundTrip(values: number[]): number[] {
  const src = Float32Array.from(values);
  const bits = new Uint16Array(src.length);
  encodeHalf(src, bits);
  const out = new Float32Array(src.length);
  decodeHalf(bits, out);
  return [...out];
}

describe('fp16', () => {
  it('encodes known values exactly', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // rounds up to inf
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(2 ** -26)).toBe(0x0000);
    expect(toHalfBits(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(toHalfBits(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
  });

  it('round-trips exactly representable values and keeps relative error ≤ 2^-11 for normal values', () => {
    expect(roundTrip([0, -0, 1, 0.5, -1024, 3.140625, 2 ** -14, 2 ** -20])).toEqual([
      0,
      -0,
      1,
      0.5,
      -1024,
      3.140625,
      2 ** -14,
      2 ** -20,
    ]);
    const values = Array.from({ length: 10_000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 9) - 4));
    const back = roundTrip(values);
    const tooFar = values.filter(
      (v, i) => Math.abs(v) >= 2 ** -14 && Math.abs((back[i] as number) - v) > Math.abs(v) * 2 ** -11,
    );
    expect(tooFar).toEqual([]);
    // fast path and slow path agree
    const src = Float32Array.from(values);
    const fast = new Uint16Array(src.length);
    encodeHalf(src, fast);
    const differ = [...src].filter((v, i) => fast[i] !== toHalfBits(v));
    expect(differ).toEqual([]);
  });
});
