// LoRKD student training (resnet, 8 regions of rank 4, batch 64 mixed regions; 28x28 and 64x64): lorkd on wasm +
// native oneDNN kernels with GroupNorm as tfjs ops ("before") and as the fused native kernel ("after"), against the
// same student built in PyTorch from lorkd's own graph (scripts/bench/native-student-torch.py), in one run, each in
// its own process. Both sides must agree on parameter count and every conv's output shape, or the run says so.
//   node --conditions=lorkd-source --import tsx scripts/bench/native-student.ts [--sizes=28,64] [--batch=64]
//        [--seconds=10] [--rounds=2] [--modes=native-ops,native,torch] [--strategy=masked|auto|split] [--width=16]
//        [--depth=4] [--regions=8] [--rank=4] [--threads=2] [--wait=passive|default] [--profile]
// Modes: `native-ops` = the native tier with the fused GroupNorm kernel unregistered (groupNorm falls back to its
// tfjs ops: the state before the kernel), `native` = the native tier as shipped, `wasm` = pure wasm (slow, opt-in),
// `torch` = PyTorch with libtcmalloc preloaded when present. A step is lorkd's real one: computeGradients (EKS
// `masked` by default, the path the PyTorch student mirrors) then the AdamW update of @lorkd/model's Optimizer.
// GFLOP/s counts 3 x (conv + head forward FLOPs + the sample's own low-rank expert path) per sample (countFlops).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flagArgs } from './flag-args.ts';

type Mode = 'wasm' | 'native-ops' | 'native' | 'torch';
interface Result {
  mode: Mode;
  size: number;
  steps: number;
  seconds: number;
  cpuSeconds: number;
  samplesPerSec: number;
  losses: number[];
  info: string;
  /** Parameter count and every conv's output HxWxC in execution order: must match between lorkd and PyTorch. */
  signature: string;
  profile?: string;
}

const args = flagArgs();
const sizes = (args.sizes ?? '28,64').split(',').map(Number);
const batch = Number(args.batch ?? 64);
const seconds = Number(args.seconds ?? 10);
const rounds = Number(args.rounds ?? 2);
const modes = (args.modes ?? 'native-ops,native,torch').split(',') as Mode[];
const strategy = (args.strategy ?? 'masked') as 'masked' | 'auto' | 'split';
const width = Number(args.width ?? 16);
const depth = Number(args.depth ?? 4);
const regions = Number(args.regions ?? 8);
const rank = Number(args.rank ?? 4);
const threads = Number(args.threads ?? 2);
const load = () => loadavg()[0] ?? 0;
const load0 = load();
const passive = (args.wait ?? (load0 > cpus().length ? 'passive' : 'default')) === 'passive';

function studentConfig(size: number) {
  return {
    family: 'resnet' as const,
    inputShape: [size, size, 1] as [number, number, number],
    width,
    depth,
    groupNormGroups: 4,
    regions: Array.from({ length: regions }, (_, t) => ({ name: `r${t}`, numClasses: 4, rank })),
    alpha: 16,
    seed: 1,
  };
}

async function runTfjs(mode: Exclude<Mode, 'torch'>, size: number): Promise<Result> {
  const { selectBackend } = await import('@lorkd/compute');
  const tf = await import('@tensorflow/tfjs-core');
  const { buildStudent, computeGradients, createOptimizer } = await import('@lorkd/model');
  const decision = await selectBackend({ preference: mode === 'wasm' ? 'wasm' : 'native', quiet: true });
  const fused = tf.getKernel('LorkdGroupNorm', tf.getBackend()) !== undefined;
  if (mode === 'native-ops' && fused) tf.unregisterKernel('LorkdGroupNorm', tf.getBackend());
  const model = buildStudent(studentConfig(size));
  const convShapes = model.arch.nodes.flatMap((n) => (n.op === 'conv' ? [n.shape.join('x')] : []));
  const signature = `${model.params.reduce((a, p) => a + p.size, 0)} ${convShapes.join(',')}`;
  const optimizer = createOptimizer({
    optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 },
    totalSteps: 1_000_000,
  });
  const x = new Float32Array(batch * size * size);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 32;
  }
  const per = Math.floor(batch / regions);
  const batchData = {
    x,
    labels: Int32Array.from({ length: batch }, (_, i) => (i * 7) % 4),
    regions: Int32Array.from({ length: batch }, (_, i) => Math.min(Math.floor(i / per), regions - 1)),
  };
  const losses: number[] = [];
  let step = 0;
  const trainStep = () => {
    const { loss, grads } = computeGradients(model, batchData, undefined, { strategy });
    optimizer.apply(model, grads, step++);
    losses.push(loss.total);
  };
  for (let i = 0; i < 3; i++) trainStep(); // warm-up: primitive creation, heap growth
  const tensors = tf.memory().numTensors;
  let steps = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (steps < 3 || performance.now() - t0 < seconds * 1000) {
    trainStep();
    steps++;
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (tf.memory().numTensors !== tensors) throw new Error(`tensor leak: ${tensors} -> ${tf.memory().numTensors}`);
  let profile: string | undefined;
  if (args.profile === 'true') {
    const prof = await tf.profile(() => {
      computeGradients(model, batchData, undefined, { strategy });
    });
    const by = new Map<string, { n: number; ms: number }>();
    for (const k of prof.kernels) {
      const e = by.get(k.name) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += k.kernelTimeMs as number;
      by.set(k.name, e);
    }
    profile = [...by.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 12)
      .map(([n, e]) => `${n} x${e.n} ${e.ms.toFixed(0)} ms`)
      .join(', ');
  }
  return {
    mode,
    size,
    steps,
    seconds: secs,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    samplesPerSec: (steps * batch) / secs,
    losses: losses.slice(0, 5),
    signature,
    info: `${decision.tier} (${decision.tfBackend}), GroupNorm ${mode === 'native' && fused ? 'fused kernel' : 'tfjs ops'}, EKS ${strategy}`,
    ...(profile ? { profile } : {}),
  };
}

if (args.child !== undefined) {
  const r = await runTfjs(args.child as Exclude<Mode, 'torch'>, Number(args.size));
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const torchScript = fileURLToPath(new URL('./native-student-torch.py', import.meta.url));
const tcmalloc = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4';

// lorkd's student graph for PyTorch to build the same network from (see native-student-torch.py).
const { buildStudent, countFlops } = await import('@lorkd/model');
await (await import('@lorkd/compute')).selectBackend({ preference: 'cpu', quiet: true }); // only to build graphs
const tmp = mkdtempSync(join(tmpdir(), 'lorkd-student-'));
function archFile(size: number): string {
  const model = buildStudent(studentConfig(size));
  const file = join(tmp, `arch-${size}.json`);
  const arch = { nodes: model.arch.nodes, featureChannels: model.arch.featureChannels, classes: 4, alpha: 16 };
  writeFileSync(file, JSON.stringify(arch));
  model.dispose();
  return file;
}

function runChild(mode: Mode, size: number): Result | { mode: Mode; size: number; error: string } {
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), ...(passive ? { OMP_WAIT_POLICY: 'passive' } : {}) };
  const common = [String(size), String(batch), String(seconds), String(threads)];
  const res =
    mode === 'torch'
      ? spawnSync('/usr/bin/python3', [torchScript, ...common, String(regions), String(rank), archFile(size)], {
          env: existsSync(tcmalloc) ? { ...env, LD_PRELOAD: tcmalloc } : env,
          encoding: 'utf8',
          timeout: (seconds * 4 + 300) * 1000,
        })
      : spawnSync(
          process.execPath,
          [
            '--conditions=lorkd-source',
            '--import',
            'tsx',
            self,
            ...process.argv.slice(2).filter((a) => !/^--(child|size)=/.test(a)),
            `--child=${mode}`,
            `--size=${size}`,
          ],
          { env, encoding: 'utf8', timeout: (seconds * 4 + 1200) * 1000 },
        );
  const line = (res.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) {
    const why = `${res.stderr ?? ''}${res.error ? ` ${res.error.message}` : ''}`
      .trim()
      .split('\n')
      .slice(-5)
      .join(' | ');
    return { mode, size, error: `${why} (status ${res.status})` };
  }
  return JSON.parse(line.slice(7)) as Result;
}

// FLOPs per training sample, from the model's own counter: 3 x (forward convs + head + own-region expert path).
function trainFlops(size: number): number {
  const model = buildStudent(studentConfig(size));
  const f = countFlops(model);
  const fwd = Object.values(f.forwardPerSample)[0] ?? 0;
  const low = Object.values(f.expertPathPerSample)[0] ?? 0;
  model.dispose();
  return 3 * (fwd + low);
}

const rows: string[] = [
  '| size | setup | samples/s | GFLOP/s | vs PyTorch | samples/CPU-s | vs PyTorch (CPU) | CPU use | load (1 min) | first losses |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
];
const failures: string[] = [];
for (const size of sizes) {
  const best = new Map<Mode, Result & { load: number }>();
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const r = runChild(mode, size);
      const l = load();
      const { profile, ...summary } = r as Result;
      process.stdout.write(`${JSON.stringify({ ...summary, load: Number(l.toFixed(2)) })}\n`);
      if ('error' in r) {
        failures.push(`${size} ${mode}: failed: ${r.error}`);
        continue;
      }
      if (profile && round === 0) process.stdout.write(`  profile ${mode} ${size}: ${profile}\n`);
      const b = best.get(mode);
      if (b === undefined || r.samplesPerSec > b.samplesPerSec) best.set(mode, { ...r, load: l });
    }
  }
  const signatures = new Set([...best.values()].map((r) => r.signature));
  if (signatures.size > 1) {
    failures.push(`${size}: the students differ (params, conv output shapes): ${[...signatures].join(' | ')}`);
  }
  const flops = trainFlops(size);
  const torch = best.get('torch');
  const torchPerCpu = torch ? (torch.samplesPerSec * torch.seconds) / torch.cpuSeconds : undefined;
  for (const mode of modes) {
    const r = best.get(mode);
    if (r === undefined) continue;
    const perCpu = (r.samplesPerSec * r.seconds) / r.cpuSeconds;
    rows.push(
      `| ${size}x${size} | ${mode} | ${r.samplesPerSec.toFixed(1)} | ${((r.samplesPerSec * flops) / 1e9).toFixed(1)} | ${
        torch ? (r.samplesPerSec / torch.samplesPerSec).toFixed(2) : 'n/a'
      } | ${perCpu.toFixed(1)} | ${torchPerCpu ? (perCpu / torchPerCpu).toFixed(2) : 'n/a'} | ${(
        r.cpuSeconds / r.seconds
      ).toFixed(2)} | ${r.load.toFixed(1)} | ${r.losses
        .slice(0, 3)
        .map((l) => l.toFixed(4))
        .join(', ')} |`,
    );
  }
}
rmSync(tmp, { recursive: true, force: true });
const sig = (size: number) => {
  const m = buildStudent(studentConfig(size));
  const convs = m.arch.nodes.flatMap((n) => (n.op === 'conv' ? [`${n.shape[0]}x${n.shape[1]}x${n.shape[2]}`] : []));
  const out = `${size}x${size}: ${m.params.reduce((a, p) => a + p.size, 0)} params, conv outputs ${convs.join(' ')}`;
  m.dispose();
  return out;
};
process.stdout.write(
  `\nLoRKD student: resnet width ${width} depth ${depth}, ${regions} regions of rank ${rank} (alpha 16), GroupNorm 4 groups, ` +
    `batch ${batch} (${Math.floor(batch / regions)} per region), EKS ${strategy}; ${seconds} s per run, best of ${rounds} rounds, ` +
    `${threads} threads${passive ? ' (OMP_WAIT_POLICY=passive)' : ''}; load ${load0.toFixed(1)} at start, ${load().toFixed(1)} at end, ` +
    `${cpus().length} CPUs (shared machine)\n${sizes.map(sig).join('\n')}\n${rows.join('\n')}\n${failures.join('\n')}\n`,
);
