import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, type NdArray } from './npy.js';
import { encodeNpz, NpzReader, readNpz, writeNpz } from './npz.js';

/** `shared/` sits beside the repository root (CI has it beside the clone). */
const SHARED_DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared/data');

function nums(a: NdArray | undefined): number[] {
  const out: number[] = [];
  for (let i = 0; a && i < a.data.length; i++) out.push(Number(a.data[i]));
  return out;
}

function counts(a: NdArray): Record<number, number> {
  const out: Record<number, number> = {};
  for (const v of a.data) out[Number(v)] = (out[Number(v)] ?? 0) + 1;
  return out;
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lorkd-npz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('npz reader on the real MedMNIST files', () => {
  it('reads PneumoniaMNIST (28², deflate) with the README shapes', async () => {
    const m = await readNpz(join(SHARED_DATA, 'pneumoniamnist_subsampled.npz'));
    expect([...m.keys()].sort()).toEqual(
      ['test_images', 'test_labels', 'train_images', 'train_labels', 'val_images', 'val_labels'].sort(),
    );
    expect(m.get('train_images')?.shape).toEqual([3882, 28, 28]);
    expect(m.get('train_images')?.dtype).toBe('uint8');
    expect(m.get('train_labels')?.shape).toEqual([3882, 1]);
    expect(m.get('val_images')?.shape).toEqual([524, 28, 28]);
    expect(m.get('test_images')?.shape).toEqual([624, 28, 28]);
    // The README: only 388 normal (label 0) training images were kept.
    const train = m.get('train_labels');
    expect(train && counts(train)[0]).toBe(388);
    expect(train && counts(train)[1]).toBe(3882 - 388);
  });

  it('streams AdrenalMNIST3D (64³, ZIP64 extra fields) member by member', async () => {
    const r = await NpzReader.open(join(SHARED_DATA, 'adrenalmnist3d_64.npz'));
    try {
      expect((await r.info('train_images')).shape).toEqual([1188, 64, 64, 64]);
      const val = await r.read('val_images');
      expect(val.shape).toEqual([98, 64, 64, 64]);
      expect(val.dtype).toBe('uint8');
      const labels = await r.read('test_labels');
      expect(labels.shape).toEqual([298, 1]);
      const c = counts(labels);
      expect(Object.keys(c).sort()).toEqual(['0', '1']);
      expect((c[0] ?? 0) + (c[1] ?? 0)).toBe(298);
    } finally {
      await r.close();
    }
  });
});

describe('npy/npz writer', () => {
  const arrays: Record<string, NdArray> = {
    u8: { dtype: 'uint8', shape: [2, 3, 4], data: Uint8Array.from({ length: 24 }, (_, i) => i * 7) },
    i16: { dtype: 'int16', shape: [5], data: Int16Array.from([-3, 0, 3, 32767, -32768]) },
    i32: { dtype: 'int32', shape: [2, 2], data: Int32Array.from([1, -2, 3, -4]) },
    i64: { dtype: 'int64', shape: [3], data: BigInt64Array.from([1n, -2n, 4611686018427387904n]) },
    f32: { dtype: 'float32', shape: [2, 1], data: Float32Array.from([0.5, -1.25]) },
    f64: { dtype: 'float64', shape: [3], data: Float64Array.from([Math.PI, -0, 1e300]) },
    b: { dtype: 'bool', shape: [4], data: Uint8Array.from([1, 0, 0, 1]) },
    scalar: { dtype: 'float64', shape: [], data: Float64Array.from([2.5]) },
    empty: { dtype: 'uint8', shape: [0, 28, 28], data: new Uint8Array(0) },
  };

  it('round-trips every dtype through npy and npz (stored, deflate, ZIP64)', async () => {
    for (const a of Object.values(arrays)) expect(decodeNpy(encodeNpy(a))).toEqual(a);
    for (const opts of [{}, { compress: false }, { forceZip64: true }, { compress: false, forceZip64: true }]) {
      const bytes = await encodeNpz(arrays, opts);
      const back = await readNpz({ name: 'mem.npz', bytes });
      for (const [k, a] of Object.entries(arrays)) expect(back.get(k)).toEqual(a);
    }
  });

  it.skipIf(!hasNumpy())('writes npz that numpy reads, and reads what numpy writes', async () => {
    const path = join(dir, 'ours.npz');
    await writeNpz(path, arrays);
    const zpath = join(dir, 'ours64.npz');
    await writeNpz(zpath, arrays, { forceZip64: true, compress: false });
    const theirs = join(dir, 'theirs.npz');
    const py = `
import numpy as np, sys, json
out = {}
for p in sys.argv[1:3]:
    z = np.load(p)
    out[p] = {k: [str(z[k].dtype), list(z[k].shape), z[k].ravel().tolist()[:30]] for k in z.files}
np.savez(sys.argv[3], a=np.arange(12, dtype='>i4').reshape(3, 4), f=np.linspace(0, 1, 5, dtype=np.float32))
for v in (1, 2, 3):
    with open(sys.argv[3] + '.v%d.npy' % v, 'wb') as fh:
        np.lib.format.write_array(fh, np.arange(6, dtype=np.int16).reshape(2, 3), version=(v, 0))
with open(sys.argv[3] + '.fortran.npy', 'wb') as fh:
    np.lib.format.write_array(fh, np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
print(json.dumps(out))
`;
    const res = JSON.parse(execFileSync('python3', ['-c', py, path, zpath, theirs], { encoding: 'utf8' }));
    for (const p of [path, zpath]) {
      const got = res[p];
      expect(got.u8).toEqual(['uint8', [2, 3, 4], nums(arrays.u8)]);
      expect(got.i64).toEqual(['int64', [3], [1, -2, 2 ** 62]]);
      expect(got.b[0]).toBe('bool');
      expect(got.scalar).toEqual(['float64', [], [2.5]]);
      expect(got.f32).toEqual(['float32', [2, 1], [0.5, -1.25]]);
    }
    const back = await readNpz(theirs);
    expect(back.get('a')?.shape).toEqual([3, 4]);
    expect(nums(back.get('a'))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(nums(back.get('f'))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    for (const v of [1, 2, 3]) {
      const a = decodeNpy(new Uint8Array(await readFile(`${theirs}.v${v}.npy`)));
      expect(a.shape).toEqual([2, 3]);
      expect(nums(a)).toEqual([0, 1, 2, 3, 4, 5]);
    }
    expect(() => decodeNpy(readFileSync(`${theirs}.fortran.npy`))).toThrow(/Fortran-order/);
  });
});
