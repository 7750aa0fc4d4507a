/**
 * EKS benchmark: forward+backward (gradients w.r.t. W0, bias, every A_t/B_t and x) of one LoRKD expert
 * conv on a mixed-region batch, side by side in one run: the bare conv (no experts), each EKS strategy
 * (`masked`, `split`), the strategy `auto` picks, and the naive loop (one full-batch pass per region).
 * The variants run interleaved, `--steps` consecutive steps each per round, so load from other processes hits
 * them alike; times are medians over rounds of the per-step mean, ratios medians of the per-round ratios.
 *
 *   node --conditions=lorkd-source --import tsx scripts/bench/eks.ts --regions 8 --rank 4 --batch 64 [--json]
 *        [--cin 64] [--cout 64] [--size 16] [--kernel 3] [--stride 1] [--rounds 10] [--steps 3]
 *        [--shapes 32x28,64x14,16x64]   (channels x size, cin = cout; one result per shape)
 *        [--profile]                     (per-kernel time of one step of each variant)
 *        [--backend auto|native|wasm|cpu]
 */
import { parseArgs } from 'node:util';
import { type BackendPreference, selectBackend } from '@lorkd/compute';
import {
  chooseStrategy,
  type EksStrategy,
  type ExpertConvWeights,
  eksConv2d,
  naiveConv2d,
  sortByRegion,
} from '@lorkd/model';
import * as tf from '@tensorflow/tfjs-core';

const { values } = parseArgs({
  options: {
    regions: { type: 'string', default: '8' },
    rank: { type: 'string', default: '4' },
    batch: { type: 'string', default: '64' },
    cin: { type: 'string', default: '64' },
    cout: { type: 'string', default: '64' },
    size: { type: 'string', default: '16' },
    kernel: { type: 'string', default: '3' },
    stride: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '10' },
    steps: { type: 'string', default: '3' },
    shapes: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    profile: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const fail = (msg: string): never => {
  console.error(msg);
  process.exit(2);
};
const num = (k: keyof typeof values, v: unknown = values[k]) => {
  const x = Number(v);
  if (!(Number.isInteger(x) && x > 0)) fail(`--${k} must be a positive integer, got ${String(v)}`);
  return x;
};
const T = num('regions');
const r = num('rank');
const n = num('batch');
const k = num('kernel');
const stride = num('stride');
const rounds = num('rounds');
const steps = num('steps');
interface Shape {
  cin: number;
  cout: number;
  size: number;
}
const shapes: Shape[] = values.shapes
  ? values.shapes.split(',').map((s) => {
      const m = /^(\d+)x(\d+)$/.exec(s.trim());
      if (!m) return fail(`--shapes takes CHANNELSxSIZE items like 32x28,64x14; got '${s}'`);
      return { cin: num('shapes', m[1]), cout: num('shapes', m[1]), size: num('shapes', m[2]) };
    })
  : [{ cin: num('cin'), cout: num('cout'), size: num('size') }];

const decision = await selectBackend({ preference: values.backend as BackendPreference });

type Fwd = () => tf.Tensor;
interface Variant {
  name: string;
  f: Fwd;
  vars: tf.Variable[];
}

function step(v: Variant): void {
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(v.f())), v.vars);
  for (const g of Object.values(grads)) g.dataSync();
  tf.dispose([value, ...Object.values(grads)]);
}

/** Mean fwd+bwd over `steps` consecutive steps: wall ms and CPU ms of this process (all threads). */
function timeSteps(v: Variant): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step(v);
  const wall = (performance.now() - t0) / steps;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 / steps };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;

async function profile(v: Variant): Promise<void> {
  step(v);
  const p = await tf.profile(() => {
    for (let i = 0; i < 3; i++) step(v);
  });
  const agg = new Map<string, { ms: number; count: number }>();
  let total = 0;
  for (const kernel of p.kernels) {
    const ms = Number(await kernel.kernelTimeMs);
    total += ms;
    const key = `${kernel.name} ${kernel.outputShapes.map((s) => `[${s.join(',')}]`).join('')}`;
    const e = agg.get(key) ?? { ms: 0, count: 0 };
    agg.set(key, { ms: e.ms + ms, count: e.count + 1 });
  }
  console.log(`  profile ${v.name} (3 steps): ${p.kernels.length} kernels, ${total.toFixed(1)} ms in kernels`);
  for (const [key, e] of [...agg].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12))
    console.log(`    ${e.ms.toFixed(2).padStart(8)} ms  x${e.count}  ${key.slice(0, 110)}`);
}

async function bench(shape: Shape, seed: number) {
  const { cin, cout, size } = shape;
  const rand = (s: number[], sd: number) => tf.variable(tf.randomUniform(s, -0.5, 0.5, 'float32', seed + sd));
  const w0 = rand([k, k, cin, cout], 1);
  const bias = rand([cout], 2);
  const as = Array.from({ length: T }, (_, t) => rand([k, k, cin, r], 10 + t));
  const bs = Array.from({ length: T }, (_, t) => rand([r, cout], 100 + t));
  const w: ExpertConvWeights = {
    w0: w0 as unknown as tf.Tensor4D,
    bias: bias as unknown as tf.Tensor1D,
    a: as as unknown as tf.Tensor4D[],
    b: bs as unknown as tf.Tensor2D[],
    scales: as.map(() => 16 / r),
  };
  // a mixed batch, regions interleaved; the model sorts it by region on the host before the first layer
  const regions = Int32Array.from({ length: n }, (_, i) => i % T);
  const { layout } = sortByRegion(regions, T);
  const x = tf.variable(tf.randomUniform([n, size, size, cin], -1, 1, 'float32', seed + 7));
  const xt = x as unknown as tf.Tensor4D;
  const all = [w0, bias, x, ...as, ...bs];
  const eks = (s: EksStrategy) => () => eksConv2d(xt, w, layout, stride, s);
  const variants: Variant[] = [
    { name: 'bare', f: () => tf.add(tf.conv2d(xt, w.w0, stride, 'same'), bias), vars: [w0, bias, x] },
    { name: 'masked', f: eks('masked'), vars: all },
    { name: 'split', f: eks('split'), vars: all },
    { name: 'auto', f: eks('auto'), vars: all },
    { name: 'naive', f: () => naiveConv2d(xt, w, layout, stride), vars: all },
  ];
  for (const v of variants) step(v); // warm-up
  const wall = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let i = 0; i < rounds; i++) {
    for (const v of variants) {
      const t = timeSteps(v);
      wall.get(v.name)?.push(t.wall);
      cpu.get(v.name)?.push(t.cpu);
    }
  }
  if (values.profile) for (const v of variants) await profile(v);
  tf.dispose([w0, bias, x, ...as, ...bs]);
  const ms = (name: string, m = wall) => +median(m.get(name) ?? []).toFixed(2);
  /** Median over rounds of (a / b) measured in the same round. */
  const ratio = (a: string, b: string, m = wall) => {
    const av = m.get(a) ?? [];
    const bv = m.get(b) ?? [];
    return +median(av.map((x, i) => x / (bv[i] as number))).toFixed(3);
  };
  return {
    backend: decision.tier,
    regions: T,
    rank: r,
    batch: n,
    layer: `${k}x${k} conv ${cin}->${cout} stride ${stride} on ${size}x${size}`,
    auto_strategy: chooseStrategy(w, layout),
    eks_ms: ms('auto'),
    bare_ms: ms('bare'),
    naive_ms: ms('naive'),
    masked_ms: ms('masked'),
    split_ms: ms('split'),
    cpu_split_over_bare: ratio('split', 'bare', cpu),
    cpu_masked_over_bare: ratio('masked', 'bare', cpu),
    eks_over_bare: ratio('auto', 'bare'),
    masked_over_bare: ratio('masked', 'bare'),
    split_over_bare: ratio('split', 'bare'),
    naive_over_eks: ratio('naive', 'auto'),
    cpu_ms: { eks: ms('auto', cpu), bare: ms('bare', cpu), naive: ms('naive', cpu) },
    cpu_eks_over_bare: ratio('auto', 'bare', cpu),
    cpu_naive_over_eks: ratio('naive', 'auto', cpu),
  };
}

for (const [i, shape] of shapes.entries()) {
  if (!values.json) console.log(`${shape.cin}->${shape.cout} on ${shape.size}x${shape.size}:`);
  const res = await bench(shape, 1000 * i);
  if (values.json) {
    console.log(JSON.stringify(res));
    continue;
  }
  console.log(
    `backend ${res.backend}; ${res.layer}; batch ${n}, ${T} regions interleaved, rank ${r}; medians of ${rounds} interleaved rounds of ${steps} steps`,
  );
  console.log(`  bare conv          ${res.bare_ms.toFixed(1)} ms wall`);
  console.log(`  EKS masked         ${res.masked_ms.toFixed(1)} ms wall (${res.masked_over_bare}x bare)`);
  console.log(`  EKS split          ${res.split_ms.toFixed(1)} ms wall (${res.split_over_bare}x bare)`);
  console.log(
    `  EKS auto (${res.auto_strategy}) ${res.eks_ms.toFixed(1)} ms wall (${res.eks_over_bare}x bare; CPU ${res.cpu_eks_over_bare}x)`,
  );
  console.log(
    `  naive loop         ${res.naive_ms.toFixed(1)} ms wall (${res.naive_over_eks}x EKS; CPU ${res.cpu_naive_over_eks}x)`,
  );
}
