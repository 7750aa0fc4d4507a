import { resolve } from 'node:path';
import type { NdArray } from '@lorkd/data';
import { EXIT, UsageError } from '../errors.js';
import { bytes, table } from '../format.js';
import { out } from '../io.js';
import { type Command, flag, intOpt, stringOpt } from './command.js';

const u8 = (data: Uint8Array, shape: number[]): NdArray => ({ dtype: 'uint8', shape, data });

export const dataCommand: Command = {
  def: {
    name: 'data',
    summary: 'Data tools: generate phantom multi-region data as .npz, or inspect an .npz file.',
    usage:
      'lorkd data phantoms --out FILE.npz [--regions N] [--size 28|64|128] [--per-region N] [--seed N]\n       lorkd data inspect FILE.npz [--json]',
    positionals: [
      { name: 'phantoms|inspect', required: true },
      { name: 'FILE', required: false },
    ],
    options: {
      out: { type: 'string', short: 'o', value: 'FILE.npz', description: 'phantoms: where to write' },
      regions: { type: 'integer', value: 'N', min: 1, max: 7, description: 'phantoms: number of regions (default 4)' },
      size: { type: 'integer', value: 'PX', description: 'phantoms: image size 28, 64 or 128 (default 28)' },
      'per-region': {
        type: 'integer',
        value: 'N',
        min: 8,
        description: 'phantoms: training images per region (default 600)',
      },
      seed: { type: 'integer', value: 'N', min: 0, description: 'phantoms: seed (default 7)' },
    },
    examples: ['lorkd data phantoms --out /tmp/phantoms.npz --regions 4', 'lorkd data inspect /tmp/phantoms.npz'],
  },
  async run(args, io) {
    const [what, file] = args.positionals;
    const { generatePhantoms, NpzReader, writeNpz } = await import('@lorkd/data');
    const json = flag(args, 'json');
    if (what === 'inspect') {
      if (!file) throw new UsageError('data inspect needs FILE.npz');
      const reader = await NpzReader.open(resolve(io.cwd, file));
      try {
        const members = await Promise.all(reader.keys().map((k) => reader.info(k)));
        if (json) out(io, JSON.stringify({ file: reader.file, members }, null, 2));
        else
          out(
            io,
            `${reader.file}\n${table(
              ['array', 'dtype', 'shape', 'size', 'stored'],
              members.map((m) => [
                m.key,
                m.dtype,
                `[${m.shape.join(', ')}]`,
                bytes(m.bytes),
                m.compressed ? bytes(m.compressedBytes) : 'stored',
              ]),
              [false, false, false, true, true],
            )}`,
          );
      } finally {
        await reader.close();
      }
      return EXIT.ok;
    }
    if (what === 'phantoms') {
      const target = stringOpt(args, 'out') ?? file;
      if (!target) throw new UsageError('data phantoms needs --out FILE.npz');
      const size = intOpt(args, 'size') ?? 28;
      if (size !== 28 && size !== 64 && size !== 128) throw new UsageError(`--size must be 28, 64 or 128, got ${size}`);
      const perRegion = intOpt(args, 'per-region') ?? 600;
      const d = generatePhantoms({
        regions: intOpt(args, 'regions') ?? 4,
        imageSize: size,
        seed: intOpt(args, 'seed') ?? 7,
        trainPerRegion: perRegion,
        valPerRegion: Math.max(8, Math.round(perRegion / 6)),
        testPerRegion: Math.max(8, Math.round(perRegion / 3)),
      });
      const arrays: Record<string, NdArray> = {};
      for (const split of ['train', 'val', 'test'] as const) {
        const s = d[split];
        const px = Uint8Array.from(s.images, (v) => Math.round(v * 255));
        arrays[`${split}_images`] = u8(px, [s.n, ...d.imageShape.slice(0, -1)]);
        arrays[`${split}_labels`] = u8(Uint8Array.from(s.labels), [s.n, 1]);
        arrays[`${split}_regions`] = u8(Uint8Array.from(s.regions), [s.n]);
        if (s.masks) arrays[`${split}_masks`] = u8(s.masks, [s.n, ...d.imageShape.slice(0, -1)]);
      }
      const path = resolve(io.cwd, target);
      await writeNpz(path, arrays);
      const summary = {
        file: path,
        regions: d.regions,
        imageShape: d.imageShape,
        train: d.train.n,
        val: d.val.n,
        test: d.test.n,
        hash: d.hash,
      };
      if (json) out(io, JSON.stringify(summary, null, 2));
      else
        out(
          io,
          `wrote ${path}: ${d.regions.map((r) => r.name).join(', ')}; ${d.train.n}/${d.val.n}/${d.test.n} train/val/test images of ${d.imageShape.join('x')}`,
        );
      return EXIT.ok;
    }
    throw new UsageError(`unknown data tool '${what}': use phantoms or inspect`);
  },
};
