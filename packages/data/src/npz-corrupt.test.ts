import { describe, expect, it } from 'vitest';
import { DataFormatError } from './errors.js';
import { encodeNpy, encodeNpyHeader } from './npy.js';
import { encodeNpz, readNpz } from './npz.js';
import { ZipWriter } from './zip-writer.js';

const good = { dtype: 'int32', shape: [4, 3], data: Int32Array.from({ length: 12 }, (_, i) => i * 3) } as const;

/** An archive whose members are raw bytes (to plant bad .npy content). */
async function rawZip(members: Record<string, Uint8Array>, compress = false): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const zip = new ZipWriter({ write: async (b) => void parts.push(b) }, { compress });
  for (const [name, bytes] of Object.entries(members)) await zip.add(name, [bytes]);
  await zip.finish();
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function header(dict: string, version = 1): Uint8Array {
  const body = `${dict}\n`;
  const pre = version === 1 ? 10 : 12;
  const out = new Uint8Array(pre + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const v = new DataView(out.buffer);
  if (version === 1) v.setUint16(8, body.length, true);
  else v.setUint32(8, body.length, true);
  for (let i = 0; i < body.length; i++) out[pre + i] = body.charCodeAt(i);
  return out;
}

function withData(h: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(h.length + n);
  out.set(h);
  return out;
}

/** Offsets of every occurrence of a 4-byte little-endian signature. */
function find(bytes: Uint8Array, sig: number): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i++) if (v.getUint32(i, true) === sig) out.push(i);
  return out;
}

async function expectError(bytes: Uint8Array, member: string | undefined, problem: RegExp): Promise<void> {
  const err = await readNpz({ name: 'bad.npz', bytes }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataFormatError);
  const e = err as DataFormatError;
  expect(e.file).toBe('bad.npz');
  expect(e.member).toBe(member);
  expect(e.problem).toMatch(problem);
  expect(e.message).toContain('bad.npz');
  if (member) expect(e.message).toContain(member);
}

describe('corrupt input gives errors naming the file, the member and the problem', () => {
  it('1: not a zip archive at all', async () => {
    await expectError(
      new TextEncoder().encode('hello, this is a text file, not an npz archive'),
      undefined,
      /not a ZIP\/npz archive/,
    );
  });

  it('2: a truncated archive (the end records cut off)', async () => {
    const bytes = await encodeNpz({ a: good });
    await expectError(bytes.subarray(0, bytes.length - 30), undefined, /truncated/);
  });

  it('3: the central directory points past the end of the file', async () => {
    const bytes = (await encodeNpz({ a: good })).slice();
    const eocd = find(bytes, 0x06054b50).at(-1) ?? 0;
    new DataView(bytes.buffer).setUint32(eocd + 16, bytes.length + 100, true);
    await expectError(bytes, undefined, /truncated: the central directory/);
  });

  it('4: corrupt deflate data', async () => {
    const bytes = (await encodeNpz({ a: good })).slice();
    const local = find(bytes, 0x04034b50)[0] ?? 0;
    for (let i = local + 30 + 5; i < local + 30 + 25; i++) bytes[i] = 0xff;
    await expectError(bytes, 'a.npy', /deflate data is corrupt|CRC-32 mismatch|not a \.npy/);
  });

  it('5: a flipped byte in stored data (CRC-32 mismatch)', async () => {
    const bytes = (await encodeNpz({ a: good }, { compress: false })).slice();
    const local = find(bytes, 0x04034b50)[0] ?? 0;
    const dataAt = local + 30 + 'a.npy'.length + 128 + 5;
    bytes[dataAt] = (bytes[dataAt] ?? 0) ^ 0x40;
    await expectError(bytes, 'a.npy', /CRC-32 mismatch/);
  });

  it('6: a member that is not .npy (bad magic)', async () => {
    await expectError(
      await rawZip({ 'x.npy': new TextEncoder().encode('PK not numpy at all, sorry') }),
      'x.npy',
      /magic/,
    );
  });

  it('7: an unsupported dtype', async () => {
    const h = header("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }");
    await expectError(
      await rawZip({ c: new Uint8Array(0), 'c.npy': withData(h, 16) }),
      'c.npy',
      /unsupported dtype '<c8'/,
    );
  });

  it('8: Fortran order', async () => {
    const h = header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }");
    await expectError(await rawZip({ 'f.npy': withData(h, 16) }), 'f.npy', /Fortran-order arrays are not supported/);
  });

  it('9: the header shape does not match the data (truncated member data)', async () => {
    const h = encodeNpyHeader('float64', [10, 10]);
    await expectError(
      await rawZip({ 't.npy': withData(h, 8 * 50) }, true),
      't.npy',
      /header says float64 \(10, 10\) = 800 data bytes, but the member holds 400/,
    );
  });

  it('10: an unsupported compression method', async () => {
    const bytes = (await encodeNpz({ a: good })).slice();
    const v = new DataView(bytes.buffer);
    for (const at of find(bytes, 0x02014b50)) v.setUint16(at + 10, 12, true);
    await expectError(bytes, 'a.npy', /compression method 12 is not supported/);
  });

  it('11: an encrypted member', async () => {
    const bytes = (await encodeNpz({ a: good })).slice();
    const v = new DataView(bytes.buffer);
    for (const at of find(bytes, 0x02014b50)) v.setUint16(at + 8, 1, true);
    await expectError(bytes, 'a.npy', /encrypted/);
  });

  it('12: an unknown .npy version and an unreadable header dict', async () => {
    const v9 = encodeNpy(good).slice();
    v9[6] = 9;
    await expectError(await rawZip({ 'v.npy': v9 }), 'v.npy', /unsupported \.npy format version 9\.0/);
    const h = header("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 'x'), }");
    await expectError(await rawZip({ 'h.npy': withData(h, 8) }), 'h.npy', /no valid 'shape'/);
    const broken = header("{'descr': '<i4' 'fortran_order' False");
    await expectError(await rawZip({ 'b.npy': withData(broken, 8) }), 'b.npy', /unreadable \.npy header/);
  });

  it('13: a damaged local header', async () => {
    const bytes = (await encodeNpz({ a: good })).slice();
    const local = find(bytes, 0x04034b50)[0] ?? 0;
    bytes[local] = 0;
    await expectError(bytes, 'a.npy', /local file header is missing or damaged/);
  });

  it('14: a missing member and a missing file', async () => {
    const bytes = await encodeNpz({ a: good });
    const err = await readNpz({ name: 'ok.npz', bytes }, ['train_images']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    expect((err as Error).message).toMatch(/ok\.npz \[member train_images\.npy\]: no such member; the archive has: a/);
    const missing = await readNpz('/nonexistent/dir/x.npz').catch((e: unknown) => e);
    expect((missing as Error).message).toBe('/nonexistent/dir/x.npz: no such file');
  });
});
