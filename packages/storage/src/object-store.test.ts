import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@lorkd/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, startBackend } from '../test/helpers.js';
import { parseStorageUrl } from './create-object-store.js';
import { FileObjectStore } from './file-store.js';
import type { ObjectStore } from './object-store.js';

describe('parseStorageUrl', () => {
  it('accepts s3 and file URLs', () => {
    expect(parseStorageUrl('s3://my-bucket/some/prefix/')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'some/prefix',
    });
    expect(parseStorageUrl('s3://my-bucket')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: '' });
    expect(parseStorageUrl('file:///var/lib/lorkd/')).toEqual({ kind: 'file', path: '/var/lib/lorkd' });
  });
  it('explains what is wrong', () => {
    expect(() => parseStorageUrl('/tmp/x')).toThrow(/use s3:\/\/BUCKET\/PREFIX or file:\/\/\/ABSOLUTE\/PATH/);
    expect(() => parseStorageUrl('s3://My_Bucket/x')).toThrow(/not an S3 bucket name/);
    expect(() => parseStorageUrl('file://relative/x')).toThrow(/file:\/\/\/ABSOLUTE\/PATH/);
    expect(() => parseStorageUrl('s3://bucket/a/../b')).toThrow(/may not contain/);
  });
});

describe.each(['file', 's3', 's3-cas'] as const)('ObjectStore on %s', (kind) => {
  let backend: Backend;
  let store: ObjectStore;
  beforeAll(async () => {
    backend = await startBackend(kind);
    store = await backend.open();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.stop();
  });

  it('puts, gets, heads, lists, deletes; a large body goes up in parts and reads back in ranges', async () => {
    const big = new Uint8Array(17 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    await store.put('d/big.bin', big);
    await store.put('d/small.txt', new TextEncoder().encode('hi'));
    expect((await store.head('d/big.bin'))?.size).toBe(big.length);
    expect(await store.head('d/none')).toBeUndefined();
    expect(await store.get('d/none')).toBeUndefined();
    const back = new Uint8Array(big.length);
    expect(await store.getInto('d/big.bin', back)).toBe(true);
    expect(Buffer.compare(back, big)).toBe(0);
    await expect(store.getInto('d/big.bin', new Uint8Array(3))).rejects.toThrow(/expected 3/);
    // a small object is read in one request; its size is still checked both ways
    const small = new Uint8Array(2);
    expect(await store.getInto('d/small.txt', small)).toBe(true);
    expect(new TextDecoder().decode(small)).toBe('hi');
    await expect(store.getInto('d/small.txt', new Uint8Array(1))).rejects.toMatchObject({ fields: { size: 2 } });
    await expect(store.getInto('d/small.txt', new Uint8Array(5))).rejects.toMatchObject({ fields: { size: 2 } });
    expect(await store.getInto('d/none', new Uint8Array(2))).toBe(false);
    expect((await store.list('d/')).map((o) => o.key)).toEqual(['d/big.bin', 'd/small.txt']);
    expect(await store.listDirs('')).toContain('d');
    await store.delete('d/big.bin');
    await store.delete('d/big.bin');
    expect((await store.list('d/')).map((o) => o.key)).toEqual(['d/small.txt']);
    await expect(store.get('../escape')).rejects.toThrow(/invalid object key/);
  });

  it('conditional writes: honoured on file and behind the enforcing proxy, detected as ignored on bare s3rver', async () => {
    const supported = await store.conditionalWrites();
    expect(supported).toBe(kind !== 's3');
    const body = new TextEncoder().encode('v1');
    if (!supported) {
      await expect(store.putIfAbsent('c/k', body)).rejects.toThrow(/does not honour If-None-Match/);
      return;
    }
    const first = await store.putIfAbsent('c/k', body);
    expect(first.ok).toBe(true);
    expect((await store.putIfAbsent('c/k', body)).ok).toBe(false);
    const etag = first.ok ? first.etag : '';
    const second = await store.putIfMatch('c/k', new TextEncoder().encode('v2'), etag);
    expect(second.ok).toBe(true);
    expect((await store.putIfMatch('c/k', new TextEncoder().encode('v3'), etag)).ok).toBe(false);
    expect(new TextDecoder().decode((await store.get('c/k'))?.body)).toBe('v2');
    // Many concurrent compare-and-sets from the same etag: exactly one wins.
    const current = (await store.get('c/k'))?.etag ?? '';
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.putIfMatch('c/k', new TextEncoder().encode(`w${i}`), current)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});

describe('FileObjectStore locks', () => {
  it('breaks a lock left by a dead process instead of blocking', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lorkd-lock-'));
    try {
      const store = await FileObjectStore.create(dir, { logger: silentLogger });
      const created = await store.putIfAbsent('k', new Uint8Array([1]));
      if (!created.ok) throw new Error('setup');
      const dead = spawnSync(process.execPath, ['-e', '0']).pid ?? 0; // a pid that has exited
      await writeFile(join(dir, 'k.lorkd-lock'), JSON.stringify({ host: hostname(), pid: dead, token: 'x' }));
      const started = Date.now();
      const result = await store.putIfMatch('k', new Uint8Array([2]), created.etag);
      expect(result.ok).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(Array.from((await store.get('k'))?.body ?? [])).toEqual([2]);
      expect(await store.list('')).toHaveLength(1); // no lock or temp debris visible
      // Debris of a killed writer (a temp file) is swept once old enough, only under the prefix given.
      await writeFile(join(dir, '.lorkd-tmp-dead'), 'partial');
      await store.put('sub/x', new Uint8Array([1]));
      await writeFile(join(dir, 'sub', '.lorkd-tmp-dead'), 'partial');
      expect(await store.sweep('sub/', 60_000)).toBe(0);
      expect(await store.sweep('sub/', 0)).toBe(1);
      expect(await store.sweep('', 0)).toBe(1);
      expect((await store.list('')).map((o) => o.key)).toEqual(['k', 'sub/x']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
