// Generates the multi-region phantom benchmark as MedMNIST-layout npz files plus phantoms.json.
// node --conditions=lorkd-source --import tsx scripts/data/phantoms.ts --out DIR [--regions N|a,b,c] [--seed S]
//   [--size 28|64|128] [--train N] [--val N] [--test N] [--conflict 0..1] [--combined] [--stored]
import { parseArgs } from 'node:util';
import { DEFAULT_PHANTOM_REGIONS, writePhantomDataset } from '@lorkd/data';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    regions: { type: 'string', default: String(DEFAULT_PHANTOM_REGIONS.length) },
    seed: { type: 'string', default: '7' },
    size: { type: 'string', default: '64' },
    train: { type: 'string', default: '2000' },
    val: { type: 'string', default: '300' },
    test: { type: 'string', default: '500' },
    conflict: { type: 'string', default: '0.7' },
    combined: { type: 'boolean', default: false },
    stored: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help || !values.out) {
  process.stdout.write(
    'usage: phantoms.ts --out DIR [--regions N|brain,thorax,...] [--seed S] [--size 28|64|128]\n' +
      '                   [--train N] [--val N] [--test N] [--conflict 0..1] [--combined] [--stored]\n' +
      `anatomies: ${DEFAULT_PHANTOM_REGIONS.join(', ')}\n`,
  );
  process.exit(values.out || values.help ? 0 : 2);
}
const num = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) {
    process.stderr.write(`--${name} must be a number, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const regions = /^\d+$/.test(values.regions) ? Number(values.regions) : values.regions.split(',').map((s) => s.trim());
const t = performance.now();
try {
  const written = await writePhantomDataset(
    values.out,
    {
      regions,
      seed: num('seed', values.seed),
      imageSize: num('size', values.size) as 28 | 64 | 128,
      trainPerRegion: num('train', values.train),
      valPerRegion: num('val', values.val),
      testPerRegion: num('test', values.test),
      conflict: num('conflict', values.conflict),
    },
    { layout: values.combined ? 'combined' : 'per-region', compress: !values.stored },
  );
  process.stdout.write(
    `wrote ${written.files.length} file(s) and ${written.manifest} in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
  );
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
