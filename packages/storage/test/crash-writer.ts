// Child process for the crash-safety test. It opens the store, prints "ready", waits for the first
// step on stdin, then saves checkpoints back to back until it is killed.
// argv: STORAGE_URL RUN_ID [S3_OPTIONS_JSON]
import { randomFillSync } from 'node:crypto';
import { createInterface } from 'node:readline';
import { CheckpointStore } from '../src/checkpoint-store.js';
import { createObjectStore } from '../src/create-object-store.js';

const [url, runId, s3Json] = process.argv.slice(2);
if (!url || !runId) {
  process.stderr.write('usage: crash-writer STORAGE_URL RUN_ID [S3_OPTIONS_JSON]\n');
  process.exit(2);
}
const s3 = s3Json ? JSON.parse(s3Json) : undefined;
const store = await createObjectStore(url, { ...(s3 ? { s3 } : {}), lockStaleMs: 5_000 });
const ckpt = await CheckpointStore.create({ store, runId });
if (s3) await store.conditionalWrites(); // probe before "ready" so kills land in saves
const big = url.startsWith('s3://') ? (6 << 20) / 4 : (4 << 20) / 4; // multipart on S3 (5 MiB parts)
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
const first = await new Promise<string>((resolve) => lines.once('line', resolve));
for (let step = Number(first); ; step += 1) {
  const tensors = new Map([
    ['big', { dtype: 'float32' as const, shape: [big], data: randomFillSync(new Float32Array(big)) }],
    ['a', { dtype: 'float32' as const, shape: [256, 64], data: randomFillSync(new Float32Array(256 * 64)) }],
    ['b', { dtype: 'int32' as const, shape: [1024], data: randomFillSync(new Int32Array(1024)) }],
  ]);
  await ckpt.save({ step, generation: 0, tensors, sampler: { step }, rng: { step }, specHash: 's', datasetHash: 'd' });
  process.stdout.write(`saved ${step}\n`);
}
