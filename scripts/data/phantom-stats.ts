// Per region and finding class: what the rendered lesions look like in the pixels (from the exact masks):
// mean intensity inside the lesion, its contrast to a ring around it, lesion area in pixels, intensity spread inside,
// and the fraction of saturated lesion pixels (0 or 255). A quick check that the decisive property really separates
// the classes in the rendered images and is not lost to clipping, noise or a nuisance.
// node --conditions=lorkd-source --import tsx scripts/data/phantom-stats.ts [--size 28] [--conflict 0.5] [--n 400]
import { parseArgs } from 'node:util';
import { generatePhantoms } from '@lorkd/data';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '28' },
    conflict: { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '7' },
    n: { type: 'string', default: '400' },
    regions: { type: 'string' },
  },
});
const size = Number(values.size) as 28 | 64 | 128;
const d = generatePhantoms({
  imageSize: size,
  seed: Number(values.seed),
  conflict: Number(values.conflict),
  trainPerRegion: 0,
  valPerRegion: 0,
  testPerRegion: Number(values.n),
  ...(values.regions ? { regions: values.regions.split(',') } : {}),
});
const t = d.test;
const px = size * size;
const masks = t.masks as Uint8Array;
const stat = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const s = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, v.length));
  return `${m.toFixed(3)}±${s.toFixed(3)}`;
};
for (let r = 0; r < d.regions.length; r++) {
  const reg = d.regions[r];
  if (!reg) continue;
  process.stdout.write(
    `${reg.name}\n  class          n  lesion-mean    contrast     area         inner-sd     saturated\n`,
  );
  for (let k = 0; k < reg.labels.length; k++) {
    const mean: number[] = [];
    const con: number[] = [];
    const area: number[] = [];
    const sd: number[] = [];
    const sat: number[] = [];
    for (let i = 0; i < t.n; i++) {
      if (t.regions[i] !== r || t.labels[i] !== k) continue;
      const img = t.images.subarray(i * px, (i + 1) * px);
      const m = masks.subarray(i * px, (i + 1) * px);
      let s = 0;
      let s2 = 0;
      let c = 0;
      let nsat = 0;
      let ring = 0;
      let nr = 0;
      for (let p = 0; p < px; p++) {
        const v = img[p] as number;
        if (m[p]) {
          s += v;
          s2 += v * v;
          c++;
          if (v <= 0 || v >= 1) nsat++;
        } else {
          // ring: within 2 px of a lesion pixel
          const x = p % size;
          const y = Math.floor(p / size);
          let near = false;
          for (let dy = -2; dy <= 2 && !near; dy++)
            for (let dx = -2; dx <= 2 && !near; dx++) {
              const xx = x + dx;
              const yy = y + dy;
              if (xx >= 0 && yy >= 0 && xx < size && yy < size && m[yy * size + xx]) near = true;
            }
          if (near) {
            ring += v;
            nr++;
          }
        }
      }
      if (c === 0) continue;
      mean.push(s / c);
      con.push(s / c - ring / Math.max(1, nr));
      area.push(c);
      sd.push(Math.sqrt(Math.max(0, s2 / c - (s / c) ** 2)));
      sat.push(nsat / c);
    }
    process.stdout.write(
      `  ${(reg.labels[k] ?? '').padEnd(14)} ${String(mean.length).padStart(3)} ${stat(mean)} ${stat(con)} ${stat(area).padEnd(12)} ${stat(sd)} ${stat(sat)}\n`,
    );
  }
}
