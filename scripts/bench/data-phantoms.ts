// Phantom generation and npz IO speed at the sizes.
// node --conditions=lorkd-source --import tsx scripts/bench/data-phantoms.ts [--size 64] [--train 2000] [--val 300] [--test 500]
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generatePhantoms, readNpz, writePhantomDataset } from '@lorkd/data';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    train: { type: 'string', default: '2000' },
    val: { type: 'string', default: '300' },
    test: { type: 'string', default: '500' },
  },
});
const opts = {
  imageSize: Number(values.size) as 28 | 64 | 128,
  trainPerRegion: Number(values.train),
  valPerRegion: Number(values.val),
  testPerRegion: Number(values.test),
  seed: 7,
};
const say = (s: string) => process.stdout.write(`${s}\n`);
let t = performance.now();
const cpu0 = process.cpuUsage();
const d = generatePhantoms(opts);
const genMs = performance.now() - t;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
const images = d.train.n + d.val.n + d.test.n;
say(
  `generatePhantoms 7 regions x ${opts.trainPerRegion}/${opts.valPerRegion}/${opts.testPerRegion} at ${opts.imageSize}²: ${(genMs / 1000).toFixed(2)} s (${Math.round(images / (genMs / 1000))} images/s, hash included); CPU time ${(cpuMs / 1000).toFixed(2)} s`,
);
say(
  `load average while running: ${(await import('node:os')).loadavg()[0]?.toFixed(1)} on ${(await import('node:os')).availableParallelism()} cores`,
);
t = performance.now();
const again = generatePhantoms(opts);
say(`second run: ${((performance.now() - t) / 1000).toFixed(2)} s, same hash: ${again.hash === d.hash}`);
const dir = await mkdtemp(join(tmpdir(), 'lorkd-bench-'));
try {
  t = performance.now();
  const written = await writePhantomDataset(dir, opts);
  const wMs = performance.now() - t;
  let bytes = 0;
  for (const f of written.files) bytes += (await stat(f)).size;
  say(
    `writePhantomDataset (generate + deflate npz per region): ${(wMs / 1000).toFixed(2)} s, ${(bytes / 1e6).toFixed(1)} MB on disk`,
  );
  t = performance.now();
  let raw = 0;
  for (const f of written.files) for (const a of (await readNpz(f)).values()) raw += a.data.byteLength;
  const rMs = performance.now() - t;
  say(
    `readNpz of those files: ${(rMs / 1000).toFixed(2)} s, ${(raw / 1e6 / (rMs / 1000)).toFixed(0)} MB/s uncompressed`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
