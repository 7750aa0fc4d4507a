import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, makeTensors, s3OptionsOf, startBackend, uniqueRunId } from '../test/helpers.js';
import { CheckpointStore } from './checkpoint-store.js';
import type { ObjectStore } from './object-store.js';

const child = fileURLToPath(new URL('../test/crash-writer.ts', import.meta.url));
// 10 kills per store, 20 in all: each trial starts a fresh Node process (about 1-2 CPU seconds with
// tsx and the AWS SDK), which dominates the time.
const TRIALS = 10;

interface Writer {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  output(): string;
}

/** Spawns a writer; it loads and opens the store, then waits for its first step on stdin. */
function spawnWriter(args: string[]): Writer {
  const proc = spawn(process.execPath, ['--conditions=lorkd-source', '--import', 'tsx', child, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`writer exited early (${code}): ${err}`)));
  });
  ready.catch(() => {});
  return { proc, ready, output: () => out };
}

/** Starts a warmed-up writer at `step`, lets it save for a random time, then SIGKILLs it. */
async function killAtRandom(writer: Writer, step: number, maxDelayMs: number): Promise<number> {
  await writer.ready;
  const exited = new Promise<void>((resolve) => writer.proc.once('exit', () => resolve()));
  writer.proc.stdin?.write(`${step}\n`);
  await new Promise((r) => setTimeout(r, Math.random() * maxDelayMs));
  writer.proc.kill('SIGKILL');
  await exited;
  return writer
    .output()
    .split('\n')
    .filter((l) => l.startsWith('saved')).length;
}

describe.each(['file', 's3'] as const)('crash safety on %s', (kind) => {
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

  it(`LATEST stays verifiable and later saves proceed after ${TRIALS} random kills`, async () => {
    const runId = uniqueRunId('crash');
    const ckpt = await CheckpointStore.create({ store, runId });
    const s3 = backend.s3
      ? JSON.stringify({ ...s3OptionsOf(backend.s3), multipartThresholdBytes: 5 << 20, partSizeBytes: 5 << 20 })
      : '';
    const args = [backend.url, runId, s3];
    // Writers start ahead of their trial (loading modules takes a while), two at a time.
    const pool = [spawnWriter(args), spawnWriter(args)];
    let next = 1;
    let killedMidSave = 0;
    try {
      for (let trial = 0; trial < TRIALS; trial += 1) {
        const writer = pool.shift() as Writer;
        if (trial + pool.length + 1 < TRIALS) pool.push(spawnWriter(args));
        const saved = await killAtRandom(writer, next, 400);
        if (saved === 0) killedMidSave += 1;
        // Whatever LATEST names is complete and verifies.
        const pointer = await ckpt.latest();
        if (pointer) {
          const loaded = await ckpt.load(pointer.step);
          expect(loaded.manifest.step).toBe(pointer.step);
        }
        // The newest loadable checkpoint is at or after LATEST, and every manifest present is complete.
        const latest = await ckpt.loadLatest();
        expect(latest?.manifest.step ?? -1).toBeGreaterThanOrEqual(pointer?.step ?? -1);
        for (const { step } of await ckpt.list()) await expect(ckpt.load(step)).resolves.toBeDefined();
        // The debris blocks nothing: the next save commits and LATEST moves to it.
        const step = Math.max(next, (latest?.manifest.step ?? 0) + 1) + 1000;
        await ckpt.save({
          step,
          generation: 1,
          tensors: makeTensors(trial, 8),
          sampler: 0,
          rng: 0,
          specHash: 's',
          datasetHash: 'd',
        });
        expect((await ckpt.latest())?.step).toBe(step);
        await ckpt.retain({ keep: 2, blobGraceMs: 0 });
        next = step + 1;
      }
    } finally {
      for (const w of pool) w.proc.kill('SIGKILL');
    }
    // Kills land inside saves (the writer saves back to back); some before the first one completed.
    expect(killedMidSave).toBeGreaterThan(0);
  }, 300_000);
});
