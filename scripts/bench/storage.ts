// Checkpoint save/load throughput on the file store and a local S3-compatible server (s3rver),
// next to `cp` of the same bytes on the same disk. One run, printed side by side.
//   node --conditions=lorkd-source --import tsx scripts/bench/storage.ts [--sizes 100,1000]
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore, type CheckpointTensor, createObjectStore, type ObjectStore } from '@lorkd/storage';
import { startS3Server } from '@lorkd/testing';

const MB = 1e6;
const sizesArg = process.argv.indexOf('--sizes');
const sizesMB = (sizesArg > 0 ? (process.argv[sizesArg + 1] ?? '') : '100,1000').split(',').map(Number);

function makeCheckpoint(bytes: number): Map<string, CheckpointTensor> {
  // Four float32 tensors, like a few big weight matrices plus optimiser moments.
  const tensors = new Map<string, CheckpointTensor>();
  const per = Math.floor(bytes / 4 / 4);
  for (const name of ['params/a', 'params/b', 'adam/m', 'adam/v']) {
    const data = new Float32Array(per);
    for (let off = 0; off < per; off += 1 << 24) randomFillSync(data, off, Math.min(1 << 24, per - off));
    tensors.set(name, { dtype: 'float32', shape: [per], data });
  }
  return tensors;
}

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

const rows: Array<{ what: string; sizeMB: number; ms: number }> = [];
const dir = await mkdtemp(join(tmpdir(), 'lorkd-bench-storage-'));
const s3 = await startS3Server({ dir: join(dir, 's3rver') });
try {
  const stores: Array<[string, ObjectStore]> = [
    ['file store', await createObjectStore(`file://${join(dir, 'store')}`)],
    [
      's3 (s3rver)',
      await createObjectStore(`s3://${s3.bucket}/bench`, {
        s3: {
          endpoint: s3.endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: s3.clientConfig.credentials,
          checksums: 'when_required',
          partSizeBytes: 16 << 20,
          concurrency: 4,
        },
      }),
    ],
  ];
  for (const sizeMB of sizesMB) {
    const tensors = makeCheckpoint(sizeMB * MB);
    const bytes = [...tensors.values()].reduce((n, t) => n + t.data.byteLength, 0);
    // cp baseline: the same bytes as one file, copied and fsynced on the same disk; then read back.
    const src = join(dir, `raw-${sizeMB}.bin`);
    const dst = join(dir, `raw-${sizeMB}.copy`);
    await writeFile(src, Buffer.concat([...tensors.values()].map((t) => Buffer.from(t.data.buffer))));
    const cp = await time(async () => {
      execFileSync('cp', [src, dst]);
      execFileSync('sync', [dst]);
    });
    rows.push({ what: 'cp + sync (write)', sizeMB, ms: cp.ms });
    const cat = await time(async () => execFileSync('sh', ['-c', `cat '${dst}' > /dev/null`]));
    rows.push({ what: 'cat (read)', sizeMB, ms: cat.ms });
    await rm(src);
    await rm(dst);
    for (const [name, store] of stores) {
      const ckpt = await CheckpointStore.create({ store, runId: `bench-${sizeMB}` });
      const save = await time(() =>
        ckpt.save({ step: 1, generation: 0, tensors, sampler: null, rng: null, specHash: 'b', datasetHash: 'b' }),
      );
      rows.push({ what: `${name} save`, sizeMB, ms: save.ms });
      const load = await time(() => ckpt.loadLatest());
      if (load.value?.manifest.step !== 1) throw new Error('bench: load failed');
      rows.push({ what: `${name} load (verified)`, sizeMB, ms: load.ms });
      await ckpt.retain({ keep: 1, blobGraceMs: 0 });
    }
    process.stderr.write(`done ${sizeMB} MB (${bytes} bytes)\n`);
  }
  for (const [, store] of stores) await store.close();
} finally {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
}

console.log(`| operation | ${sizesMB.map((s) => `${s} MB: s, MB/s, vs cp`).join(' | ')} |`);
console.log(`|---|${sizesMB.map(() => '---').join('|')}|`);
for (const what of [...new Set(rows.map((r) => r.what))]) {
  const cells = sizesMB.map((sizeMB) => {
    const row = rows.find((r) => r.what === what && r.sizeMB === sizeMB);
    const base = rows.find(
      (r) => r.sizeMB === sizeMB && r.what === (/load|read/.test(what) ? 'cat (read)' : 'cp + sync (write)'),
    );
    if (!row || !base) return '';
    return `${(row.ms / 1000).toFixed(2)} s, ${((sizeMB * MB) / MB / (row.ms / 1000)).toFixed(0)} MB/s, ${(row.ms / base.ms).toFixed(1)}x`;
  });
  console.log(`| ${what} | ${cells.join(' | ')} |`);
}
