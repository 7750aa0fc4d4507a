/**
 * EKS benchmark: forward+backward (gradients w.r.t. W0, bias, every A_t/B_t and x) of one LoRKD expert
 * conv on a mixed-region batch, side by side in one run: the bare conv (no experts), each EKS strategy
 * (`masked`, `split`), the strategy `auto` picks, and the naive loop (one full-batch pass per region).
 *
 *   node --conditions=lorkd-source --import tsx scripts/bench/eks.ts --regions 8 --rank 4 --batch 64 [--json]
 *        [--cin 64] [--cout 64] [--size 16] [--kernel 3] [--iters 10] [--backend auto|native|wasm|cpu]
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
    iters: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
  },
});
const num = (k: keyof typeof values) => {
  const v = Number(values[k]);
  if (!(Number.isInteger(v) && v > 0)) {
    console.error(`--${k} must be a positive integer, got ${values[k]}`);
    process.exit(2);
  }
  return v;
};
const T = num('regions');
const r = num('rank');
const n = num('batch');
const cin = num('cin');
const cout = num('cout');
const size = num('size');
const k = num('kernel');
const iters = num('iters');

const decision = await selectBackend({ preference: values.backend as BackendPreference });
const rand = (shape: number[], seed: number) => tf.variable(tf.randomUniform(shape, -0.5, 0.5, 'float32', seed));
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
const x = tf.variable(tf.randomUniform([n, size, size, cin], -1, 1, 'float32', 7));
const expertVars = [...as, ...bs];

type Fwd = () => tf.Tensor;
/** Median wall ms and median CPU ms (this process, all threads: less sensitive to other load) per fwd+bwd. */
function time(f: Fwd, vars: tf.Variable[]): { wall: number; cpu: number } {
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(f())), vars);
    for (const g of Object.values(grads)) g.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  step();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < iters; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    step();
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  return { wall: median(walls), cpu: median(cpus) };
}

const bareVars = [w0, bias, x];
const allVars = [w0, bias, x, ...expertVars];
const bare = time(
  () => tf.add(tf.conv2d(x as unknown as tf.Tensor4D, w.w0, 1, 'same'), w.bias as tf.Tensor1D),
  bareVars,
);
const eks = (s: EksStrategy) => () => eksConv2d(x as unknown as tf.Tensor4D, w, layout, 1, s);
const masked = time(eks('masked'), allVars);
const split = time(eks('split'), allVars);
const auto = time(eks('auto'), allVars);
const naive = time(() => naiveConv2d(x as unknown as tf.Tensor4D, w, layout, 1), allVars);
const ms = (v: number) => +v.toFixed(2);
const result = {
  backend: decision.tier,
  regions: T,
  rank: r,
  batch: n,
  layer: `${k}x${k} conv ${cin}->${cout} on ${size}x${size}`,
  auto_strategy: chooseStrategy(w, layout),
  eks_ms: ms(auto.wall),
  bare_ms: ms(bare.wall),
  naive_ms: ms(naive.wall),
  masked_ms: ms(masked.wall),
  split_ms: ms(split.wall),
  eks_over_bare: +(auto.wall / bare.wall).toFixed(3),
  naive_over_eks: +(naive.wall / auto.wall).toFixed(3),
  cpu_ms: { eks: ms(auto.cpu), bare: ms(bare.cpu), naive: ms(naive.cpu), masked: ms(masked.cpu), split: ms(split.cpu) },
  cpu_eks_over_bare: +(auto.cpu / bare.cpu).toFixed(3),
  cpu_naive_over_eks: +(naive.cpu / auto.cpu).toFixed(3),
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `backend ${result.backend}; ${result.layer}; batch ${n}, ${T} regions interleaved, rank ${r}; median of ${iters} fwd+bwd`,
  );
  const line = (label: string, v: { wall: number; cpu: number }, ref: { wall: number; cpu: number }, what: string) =>
    console.log(
      `  ${label.padEnd(18)} ${v.wall.toFixed(1)} ms wall (${(v.wall / ref.wall).toFixed(2)}x ${what}), ${v.cpu.toFixed(1)} ms CPU (${(v.cpu / ref.cpu).toFixed(2)}x)`,
    );
  console.log(`  bare conv          ${bare.wall.toFixed(1)} ms wall, ${bare.cpu.toFixed(1)} ms CPU`);
  line('EKS masked', masked, bare, 'bare');
  line('EKS split', split, bare, 'bare');
  line(`EKS auto (${result.auto_strategy})`, auto, bare, 'bare');
  line('naive loop', naive, auto, 'EKS');
}
