/**
 * Training-throughput benchmark of the reference CNN (packages/compute/src/reference-cnn.ts) on every available
 * tfjs setup, side by side with the same architecture in PyTorch (scripts/bench/torch_train.py) when
 * /usr/bin/python3 can import torch; plus a loss-curve comparison from the same initialisation and data.
 *
 *   node --conditions=lorkd-source --import tsx scripts/bench/train.ts [--backend all|auto|native|wasm|cpu]
 *        [--size 28|64 (repeatable; default both)] [--batch 64] [--threads 2] [--seconds 10] [--curve-steps 20]
 *        [--no-torch] [--json]      (--curve-steps 0 skips the loss-curve comparison)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type BackendPreference,
  type Batch,
  createFlatOptimizer,
  DataParallelTrainer,
  initReferenceCnnParams,
  mulberry32,
  paramCount,
  REFERENCE_CNN_GRADIENT_MODULE,
  type ReferenceCnnConfig,
  referenceCnnConfig,
  referenceCnnFlops,
  referenceCnnGradientFunction,
  referenceCnnLayout,
  selectBackend,
} from '@lorkd/compute';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'all' },
    size: { type: 'string', multiple: true },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    'curve-steps': { type: 'string', default: '20' },
    'no-torch': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const sizes = (values.size ?? ['28', '64']).map(Number);
const batch = Number(values.batch);
const threads = Number(values.threads);
const seconds = Number(values.seconds);
const curveSteps = Number(values['curve-steps']);
const backendArg = values.backend as string;
for (const s of sizes) if (s !== 28 && s !== 64) fail(`--size must be 28 or 64, got ${s}`);
if (!['all', 'auto', 'tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'].includes(backendArg)) {
  fail(`--backend must be all, auto, tensorflow-gpu, tensorflow, native, wasm or cpu; got ${backendArg}`);
}
if (!(batch > 0 && threads > 0 && seconds > 0)) fail('--batch, --threads and --seconds must be positive');
if (!(curveSteps >= 0)) fail('--curve-steps must be 0 (skip) or more');

const PYTHON = '/usr/bin/python3';
const TCMALLOC = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4';
const TORCH_SCRIPT = new URL('./torch_train.py', import.meta.url).pathname;
const log = (msg: string) => {
  if (!values.json) console.log(msg);
  else console.error(msg);
};

interface SetupResult {
  name: string;
  backend: string;
  threads: number;
  size: number;
  batch: number;
  samples_per_s: number;
  steps: number;
  seconds: number;
  gflops: number;
  /** Samples per CPU-second of this process (all threads): less sensitive to other load on the machine. */
  samples_per_cpu_s?: number;
  ratio_to_pytorch?: number;
  cpu_ratio_to_pytorch?: number;
  detail?: string;
}

function fail(msg: string): never {
  console.error(`train bench: ${msg}`);
  process.exit(2);
}

function timingBatch(config: ReferenceCnnConfig, n: number): Batch {
  const rand = mulberry32(11);
  const px = config.imageSize * config.imageSize;
  return {
    x: {
      data: Float32Array.from({ length: n * px }, () => rand() * 2 - 1),
      shape: [n, config.imageSize, config.imageSize, 1],
    },
    y: { data: Int32Array.from({ length: n }, () => Math.floor(rand() * 10)), shape: [n] },
  };
}

/** Runs `step` for about `seconds` after 2 warm-up steps; wall time and this process's CPU time (all threads). */
async function timeSteps(
  step: () => Promise<unknown>,
): Promise<{ steps: number; seconds: number; cpuSeconds: number }> {
  for (let i = 0; i < 2; i++) await step();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let steps = 0;
  let elapsed = 0;
  do {
    await step();
    steps++;
    elapsed = (performance.now() - t0) / 1000;
  } while (elapsed < seconds || steps < 3);
  const cpu = process.cpuUsage(cpu0);
  return { steps, seconds: elapsed, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function inProcess(tier: BackendPreference, config: ReferenceCnnConfig): Promise<SetupResult | string> {
  let detail: string;
  let name: string = tier;
  try {
    const decision = await selectBackend({ preference: tier });
    const sel = decision.attempts.find((a) => a.outcome === 'selected');
    detail = sel?.outcome === 'selected' ? sel.detail : decision.tier;
    if (tier === 'auto') name = `auto (${decision.tier})`;
    tier = decision.tier;
  } catch (err) {
    return (err as Error).message.split('\n')[0] as string;
  }
  const params = initReferenceCnnParams(config, 1);
  const gradient = new Float32Array(paramCount(referenceCnnLayout(config)));
  const grad = referenceCnnGradientFunction(config);
  const adam = createFlatOptimizer({ kind: 'adam' }, params.length);
  const b = timingBatch(config, batch);
  const t = await timeSteps(async () => {
    await grad(params, b, batch, gradient);
    adam.apply(params, gradient);
  });
  return result(name, tier, 1, config, t, detail);
}

async function dataParallel(config: ReferenceCnnConfig): Promise<SetupResult | string> {
  const trainer = await DataParallelTrainer.create({
    threads,
    gradientModule: REFERENCE_CNN_GRADIENT_MODULE,
    init: { config, backend: 'wasm' },
    params: initReferenceCnnParams(config, 1),
    optimizer: { kind: 'adam' },
  });
  try {
    const b = timingBatch(config, batch);
    const t = await timeSteps(() => trainer.step(b));
    return result(
      `wasm x${threads} threads (data-parallel)`,
      'wasm',
      threads,
      config,
      t,
      `${threads} worker_threads, batch ${batch} split`,
    );
  } finally {
    await trainer.close();
  }
}

function result(
  name: string,
  backend: string,
  nThreads: number,
  config: ReferenceCnnConfig,
  t: { steps: number; seconds: number; cpuSeconds: number },
  detail: string,
): SetupResult {
  const sps = (t.steps * batch) / t.seconds;
  return {
    name,
    backend,
    threads: nThreads,
    size: config.imageSize,
    batch,
    samples_per_s: round(sps),
    steps: t.steps,
    seconds: round(t.seconds),
    gflops: round((sps * 3 * referenceCnnFlops(config)) / 1e9),
    samples_per_cpu_s: round((t.steps * batch) / t.cpuSeconds),
    detail,
  };
}

const round = (v: number) => Math.round(v * 100) / 100;

function torchAvailable(): boolean {
  if (values['no-torch'] || !existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

function runTorch(args: string[], torchThreads = cpus().length): Record<string, unknown> {
  const tcmalloc = existsSync(TCMALLOC);
  const env = { ...process.env, ...(tcmalloc ? { LD_PRELOAD: TCMALLOC } : {}) };
  const out = spawnSync(PYTHON, [TORCH_SCRIPT, '--threads', String(torchThreads), ...args], { env, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`torch_train.py failed: ${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
}

/** A learnable synthetic task: class k is a 2-D sinusoid with its own frequency, plus noise. */
function curveData(config: ReferenceCnnConfig, steps: number): { x: Float32Array; y: Int32Array } {
  const rand = mulberry32(5);
  const s = config.imageSize;
  const x = new Float32Array(steps * batch * s * s);
  const y = new Int32Array(steps * batch);
  for (let i = 0; i < steps * batch; i++) {
    const k = Math.floor(rand() * 10);
    y[i] = k;
    const fx = 1 + (k % 5);
    const fy = 1 + Math.floor(k / 5) * 2;
    for (let r = 0; r < s; r++)
      for (let c = 0; c < s; c++) {
        x[i * s * s + r * s + c] = 0.5 * Math.sin((2 * Math.PI * (fx * c + fy * r)) / s) + 0.5 * (rand() * 2 - 1);
      }
  }
  return { x, y };
}

async function lossCurve(config: ReferenceCnnConfig, withTorch: boolean) {
  await selectBackend({ preference: 'wasm' });
  const layout = referenceCnnLayout(config);
  const init = initReferenceCnnParams(config, 3);
  const data = curveData(config, curveSteps);
  const params = init.slice();
  const gradient = new Float32Array(paramCount(layout));
  const grad = referenceCnnGradientFunction(config);
  const adam = createFlatOptimizer({ kind: 'adam', learningRate: 1e-3 }, params.length);
  const px = config.imageSize * config.imageSize;
  const tfjs: number[] = [];
  for (let i = 0; i < curveSteps; i++) {
    const b: Batch = {
      x: {
        data: data.x.subarray(i * batch * px, (i + 1) * batch * px),
        shape: [batch, config.imageSize, config.imageSize, 1],
      },
      y: { data: data.y.subarray(i * batch, (i + 1) * batch), shape: [batch] },
    };
    tfjs.push((await grad(params, b, batch, gradient)).loss);
    adam.apply(params, gradient);
  }
  let torch: number[] | undefined;
  if (withTorch) {
    const dir = mkdtempSync(join(tmpdir(), 'lorkd-curve-'));
    try {
      writeFileSync(join(dir, 'params.bin'), Buffer.from(init.buffer));
      writeFileSync(join(dir, 'x.bin'), Buffer.from(data.x.buffer));
      writeFileSync(join(dir, 'y.bin'), Buffer.from(data.y.buffer));
      writeFileSync(
        join(dir, 'meta.json'),
        JSON.stringify({ config, layout, batch, steps: curveSteps, learningRate: 1e-3 }),
      );
      torch = runTorch(['--curve', dir]).losses as number[];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const maxDiff = torch ? Math.max(...tfjs.map((v, i) => Math.abs(v - (torch?.[i] as number)))) : undefined;
  return {
    size: config.imageSize,
    steps: curveSteps,
    batch,
    tfjs_wasm: tfjs.map(round4),
    pytorch: torch?.map(round4),
    max_abs_diff: maxDiff,
  };
}
const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

const withTorch = torchAvailable();
const setups: SetupResult[] = [];
const skipped: { setup: string; reason: string }[] = [];
const pytorch: Record<string, unknown>[] = [];
const start = { loadavg: loadavg().map(round) };

for (const size of sizes) {
  const config = referenceCnnConfig({ imageSize: size });
  log(`== ${size}x${size}, batch ${batch}`);
  const plan: (() => Promise<SetupResult | string>)[] = [];
  const tiers: BackendPreference[] =
    backendArg === 'all' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'native'] : [backendArg as BackendPreference];
  const names: string[] = [];
  for (const tier of tiers) {
    // Pure wasm runs before native: native kernels, once registered on the wasm backend, stay for this process.
    if (tier === 'wasm' || tier === 'auto') {
      names.push(`${tier} (1 thread)`);
      plan.push(() => inProcess(tier, config));
      if (tier === 'wasm' && threads > 1) {
        names.push(`wasm x${threads} threads`);
        plan.push(() => dataParallel(config));
      }
    } else {
      names.push(tier);
      plan.push(() => inProcess(tier, config));
    }
  }
  for (let i = 0; i < plan.length; i++) {
    const r = await (plan[i] as () => Promise<SetupResult | string>)();
    if (typeof r === 'string') {
      skipped.push({ setup: `${names[i]} @${size}`, reason: r });
      log(`  ${names[i]}: skipped (${r})`);
    } else {
      setups.push(r);
      log(
        `  ${r.name}: ${r.samples_per_s} samples/s (${r.gflops} GFLOP/s, ${r.samples_per_cpu_s} samples/CPU-s, ${r.steps} steps)`,
      );
    }
  }
  if (withTorch) {
    // All cores (the reference), and 1 thread: its samples per CPU-second are the contention-robust yardstick
    // (PyTorch's OpenMP threads lose far more than tfjs when other processes load the machine).
    const runs = [cpus().length, 1].map((n) => ({
      n,
      t: runTorch(['--size', String(size), '--batch', String(batch), '--seconds', String(seconds)], n),
    }));
    const main = runs[0]?.t as Record<string, unknown>;
    const sps = main.samples_per_s as number;
    for (const { n, t } of runs) {
      pytorch.push({ size, ...t });
      const tsps = t.samples_per_s as number;
      const perCpu = round(((t.steps as number) * batch) / (t.cpu_seconds as number));
      setups.push({
        name: `pytorch ${t.torch} (${n} thread${n > 1 ? 's' : ''}${t.tcmalloc ? ', tcmalloc' : ', glibc malloc'})`,
        backend: 'pytorch',
        threads: n,
        size,
        batch,
        samples_per_s: round(tsps),
        steps: t.steps as number,
        seconds: round(t.seconds as number),
        gflops: round((tsps * 3 * referenceCnnFlops(config)) / 1e9),
        samples_per_cpu_s: perCpu,
      });
      log(`  pytorch ${n} thread(s): ${round(tsps)} samples/s, ${perCpu} samples/CPU-s (tcmalloc: ${t.tcmalloc})`);
    }
    const one = runs[1]?.t as Record<string, unknown>;
    const torchCpu = ((one.steps as number) * batch) / (one.cpu_seconds as number);
    for (const s of setups) {
      if (s.size !== size) continue;
      s.ratio_to_pytorch = Number((s.samples_per_s / sps).toFixed(3));
      if (s.samples_per_cpu_s !== undefined)
        s.cpu_ratio_to_pytorch = Number((s.samples_per_cpu_s / torchCpu).toFixed(3));
    }
    for (const s of setups.filter((q) => q.size === size && q.backend !== 'pytorch')) {
      log(
        `    ${s.name}: ${s.ratio_to_pytorch}x pytorch (per CPU-second vs pytorch 1 thread: ${s.cpu_ratio_to_pytorch}x)`,
      );
    }
  } else {
    log(
      '  pytorch: not available (/usr/bin/python3 cannot import torch); apt-get install -y python3-torch libtcmalloc-minimal4',
    );
  }
}

let curve: Awaited<ReturnType<typeof lossCurve>> | undefined;
if (curveSteps > 0) {
  log(`== loss curve (wasm vs pytorch, same init and data), ${sizes[0]}x${sizes[0]}`);
  curve = await lossCurve(referenceCnnConfig({ imageSize: sizes[0] as number }), withTorch);
  log(`  tfjs    first ${curve.tfjs_wasm[0]} last ${curve.tfjs_wasm.at(-1)}`);
  if (curve.pytorch) {
    const diff = curve.max_abs_diff?.toExponential(2);
    log(`  pytorch first ${curve.pytorch[0]} last ${curve.pytorch.at(-1)} (max |diff| ${diff})`);
  }
}

const report = {
  command:
    `node --conditions=lorkd-source --import tsx scripts/bench/train.ts ${process.argv.slice(2).join(' ')}`.trim(),
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    loadavg_start: start.loadavg,
    loadavg_end: loadavg().map(round),
  },
  setups,
  skipped,
  pytorch,
  loss_curve: curve,
};
if (values.json) console.log(JSON.stringify(report));
process.exit(0);
