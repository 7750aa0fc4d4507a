// Renders a PNG grid of phantom samples: one row per region, one column per finding class (image, then mask overlay).
// node --conditions=lorkd-source --import tsx scripts/data/phantom-grid.ts [--out docs/data-phantoms.png] [--size 64] [--conflict 0.7] [--seed 7]
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { encodePng, generatePhantoms } from '@lorkd/data';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/data-phantoms.png' },
    size: { type: 'string', default: '64' },
    conflict: { type: 'string', default: '0.7' },
    seed: { type: 'string', default: '7' },
    perClass: { type: 'string', default: '2' },
  },
});
const size = Number(values.size) as 28 | 64 | 128;
const perClass = Number(values.perClass);
const d = generatePhantoms({
  imageSize: size,
  seed: Number(values.seed),
  conflict: Number(values.conflict),
  trainPerRegion: 0,
  valPerRegion: 0,
  testPerRegion: 200,
});
const maxClasses = Math.max(...d.regions.map((r) => r.labels.length));
const cols = maxClasses * perClass;
const pad = 2;
const W = cols * (size + pad) + pad;
const H = d.regions.length * 2 * (size + pad) + pad;
const rgb = new Uint8Array(W * H * 3).fill(255);
const s = d.test;
const px = size * size;
d.regions.forEach((region, r) => {
  region.labels.forEach((_, c) => {
    const picks: number[] = [];
    for (let i = 0; i < s.n && picks.length < perClass; i++) if (s.regions[i] === r && s.labels[i] === c) picks.push(i);
    picks.forEach((idx, k) => {
      const col = c * perClass + k;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const v = Math.round((s.images[idx * px + y * size + x] ?? 0) * 255);
          const m = s.masks?.[idx * px + y * size + x] ?? 0;
          const ox = pad + col * (size + pad) + x;
          const o1 = ((pad + 2 * r * (size + pad) + y) * W + ox) * 3;
          const o2 = ((pad + (2 * r + 1) * (size + pad) + y) * W + ox) * 3;
          rgb[o1] = rgb[o1 + 1] = rgb[o1 + 2] = v;
          rgb[o2] = m ? 255 : v;
          rgb[o2 + 1] = m ? Math.round(v * 0.4) : v;
          rgb[o2 + 2] = m ? Math.round(v * 0.4) : v;
        }
      }
    });
  });
});
await writeFile(values.out, encodePng(rgb, W, H, 3));
process.stdout.write(
  `wrote ${values.out}: ${d.regions.map((r) => `${r.name} (${r.labels.join(', ')})`).join('; ')}\n` +
    'rows: per region, images then the same images with the exact lesion mask in red; columns: finding classes in order\n',
);
