// Per-layer conv throughput of the reference CNN's layers (batch 64): the native addon (oneDNN, NHWC, called
// directly on a Node buffer) vs PyTorch's own convolution (NCHW, aten.convolution_backward), interleaved.
//   node --conditions=lorkd-source --import tsx scripts/bench/native-ops.ts [--size=64] [--reps=5]
// Reports wall GFLOP/s and GFLOP per CPU-second for forward, input gradient and weight gradient.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../../packages/compute/src/native/load-addon.js';
import { flagArgs } from './flag-args.ts';

const args = flagArgs();
const size = Number(args.size ?? 64);
const reps = Number(args.reps ?? 5);
const batch = 64;

const loaded = loadAddon();
if (!loaded.ok) {
  process.stderr.write(`native addon unavailable: ${loaded.reason}\n${loaded.hint}\n`);
  process.exit(1);
}
const addon = loaded.addon;

interface Layer {
  name: string;
  h: number;
  ci: number;
  co: number;
  k: number;
  s: number;
}
const layers: Layer[] = [];
layers.push({ name: 'stem', h: size, ci: 1, co: 32, k: 3, s: 1 });
layers.push({ name: 'b1 3x3 32', h: size, ci: 32, co: 32, k: 3, s: 1 });
layers.push({ name: 'b3 3x3 32→64 s2', h: size, ci: 32, co: 64, k: 3, s: 2 });
layers.push({ name: 'b3 1x1 32→64 s2', h: size, ci: 32, co: 64, k: 1, s: 2 });
layers.push({ name: 'b3 3x3 64', h: size / 2, ci: 64, co: 64, k: 3, s: 1 });
layers.push({ name: 'b4 3x3 64 s2', h: size / 2, ci: 64, co: 64, k: 3, s: 2 });
layers.push({ name: 'b4 3x3 64 (small)', h: size / 4, ci: 64, co: 64, k: 3, s: 1 });

function geom(l: Layer): { g: Int32Array; xs: number; ys: number; ws: number; flops: number } {
  const ho = Math.ceil(l.h / l.s);
  const padAlong = Math.max(0, (ho - 1) * l.s + l.k - l.h);
  const pt = Math.floor(padAlong / 2);
  const g = Int32Array.from([
    batch,
    l.h,
    l.h,
    l.ci,
    ho,
    ho,
    l.co,
    l.k,
    l.k,
    l.s,
    l.s,
    1,
    1,
    pt,
    pt,
    padAlong - pt,
    padAlong - pt,
  ]);
  return {
    g,
    xs: batch * l.h * l.h * l.ci,
    ys: batch * ho * ho * l.co,
    ws: l.k * l.k * l.ci * l.co,
    flops: 2 * batch * ho * ho * l.co * l.ci * l.k * l.k,
  };
}

function timeIt(f: () => void): { wall: number; cpu: number } {
  f();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000 / reps, cpu: (c.user + c.system) / 1e6 / reps };
}

const torchScript = fileURLToPath(new URL('./native-ops-torch.py', import.meta.url));
const tcmalloc = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4';
const rows = [
  '| layer | pass | native GFLOP/s | native GFLOP/CPU-s | torch GFLOP/s | torch GFLOP/CPU-s |',
  '|---|---|---:|---:|---:|---:|',
];
for (const l of layers) {
  const { g, xs, ys, ws, flops } = geom(l);
  const heap = new Uint8Array((xs + ys + ws + 64) * 4);
  const f32 = new Float32Array(heap.buffer);
  for (let i = 0; i < f32.length; i++) f32[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const xo = 0;
  const yo = xs * 4;
  const wo = (xs + ys) * 4;
  const native = [
    timeIt(() => addon.conv2d(heap, 0, g, xo, wo, -1, yo, 0, 0)),
    timeIt(() => addon.conv2d(heap, 1, g, yo, wo, -1, xo, 0, 0)),
    timeIt(() => addon.conv2d(heap, 2, g, xo, yo, -1, wo, 0, 0)),
  ];
  const res = spawnSync(
    '/usr/bin/python3',
    [torchScript, String(batch), String(l.h), String(l.ci), String(l.co), String(l.k), String(l.s), String(reps)],
    { env: existsSync(tcmalloc) ? { ...process.env, LD_PRELOAD: tcmalloc } : process.env, encoding: 'utf8' },
  );
  const line = (res.stdout ?? '').split('\n').find((x) => x.startsWith('RESULT '));
  const torch = line ? (JSON.parse(line.slice(7)) as { wall: number; cpu: number }[]) : undefined;
  ['fwd', 'dx', 'dW'].forEach((pass, i) => {
    const n = native[i] as { wall: number; cpu: number };
    const t = torch?.[i];
    rows.push(
      `| ${l.name} [${batch},${l.h},${l.h},${l.ci}] | ${pass} | ${(flops / n.wall / 1e9).toFixed(1)} | ${(flops / n.cpu / 1e9).toFixed(1)} | ${
        t ? (flops / t.wall / 1e9).toFixed(1) : 'n/a'
      } | ${t ? (flops / t.cpu / 1e9).toFixed(1) : 'n/a'} |`,
    );
  });
}
process.stdout.write(`${addon.version()}, ${reps} reps per pass\n${rows.join('\n')}\n`);
