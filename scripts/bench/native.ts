// Reference CNN training (batch 64; 28x28 and 64x64): tfjs wasm vs wasm + native oneDNN kernels vs PyTorch, in
// one run, each in its own process (native kernels replace wasm kernels process-wide).
//   node --conditions=lorkd-source --import tsx scripts/bench/native.ts [--sizes=28,64] [--batch=64] [--seconds=15]
//        [--modes=wasm,native,native-ops,torch] [--norm=none|group] [--rounds=2] [--threads=2] [--wait=passive|default] [--profile]
// `native-ops` is the native tier with the fused GroupNorm kernel unregistered (GroupNorm as tfjs ops: before it).
// Prints one JSON line per run and a table with samples/s, achieved GFLOP/s (convs + dense, training = 3x
// forward) and the ratio to PyTorch. PyTorch runs /usr/bin/python3 scripts/bench/native-torch.py with
// libtcmalloc preloaded (glibc malloc makes it 3-11x slower on this VM) and 2 threads.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { flagArgs } from './flag-args.ts';

type Mode = 'wasm' | 'native' | 'native-ops' | 'torch';
interface Result {
  mode: Mode;
  size: number;
  batch: number;
  steps: number;
  seconds: number;
  /** Process CPU time (all threads) during the timed steps. */
  cpuSeconds: number;
  samplesPerSec: number;
  gflops: number;
  losses: number[];
  info: string;
  profile?: string;
}

const args = flagArgs();
const sizes = (args.sizes ?? '28,64').split(',').map(Number);
const batch = Number(args.batch ?? 64);
const seconds = Number(args.seconds ?? 15);
const modes = (args.modes ?? 'wasm,native,torch').split(',') as Mode[];
const threads = Number(args.threads ?? 2);
// 'group': GroupNorm (4 groups) after every main-path conv, in tfjs and in PyTorch alike.
const norm = args.norm === 'group' ? 'group' : 'none';
// Rounds alternate the modes; the table reports each mode's best round, which is robust to other load on the box.
const rounds = Number(args.rounds ?? 2);
// On a busy machine, spinning OpenMP threads steal the cores other threads need: let them sleep (all modes alike).
const load = loadavg()[0] ?? 0;
const passive = (args.wait ?? (load > cpus().length ? 'passive' : 'default')) === 'passive';

if (args.child !== undefined) {
  const { runTfjs } = await import('./native-train-child.js');
  const r = await runTfjs(
    args.child as 'wasm' | 'native' | 'native-ops',
    Number(args.size),
    batch,
    seconds,
    args.profile === 'true',
    norm,
  );
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const torchScript = fileURLToPath(new URL('./native-torch.py', import.meta.url));
const tcmalloc = '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4';

function runChild(mode: Mode, size: number): Result | { mode: Mode; size: number; error: string } {
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), ...(passive ? { OMP_WAIT_POLICY: 'passive' } : {}) };
  const res =
    mode === 'torch'
      ? spawnSync(
          '/usr/bin/python3',
          [torchScript, String(size), String(batch), String(seconds), String(threads), norm],
          {
            env: existsSync(tcmalloc) ? { ...env, LD_PRELOAD: tcmalloc } : env,
            encoding: 'utf8',
            timeout: (seconds * 4 + 120) * 1000,
          },
        )
      : spawnSync(
          process.execPath,
          [
            '--conditions=lorkd-source',
            '--import',
            'tsx',
            self,
            `--child=${mode}`,
            `--size=${size}`,
            `--batch=${batch}`,
            `--seconds=${seconds}`,
            `--norm=${norm}`,
            ...(args.profile ? ['--profile'] : []),
          ],
          { env, encoding: 'utf8', timeout: (seconds * 4 + 1200) * 1000 },
        );
  const line = (res.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) {
    return {
      mode,
      size,
      error: `${(res.stderr ?? '').trim().split('\n').slice(-5).join(' | ')} (status ${res.status})`,
    };
  }
  return JSON.parse(line.slice(7)) as Result;
}

const out: string[] = [];
// samples per CPU-second is the load-robust view when other work shares the cores; samples/s and GFLOP/s are
// wall-clock. "CPU use" is CPU-seconds per wall-second (2 = both cores busy).
const rows: string[] = [
  '| size | mode | samples/s | GFLOP/s | vs PyTorch | samples/CPU-s | vs PyTorch (CPU) | CPU use | first losses |',
  '|---|---|---:|---:|---:|---:|---:|---:|---|',
];
for (const size of sizes) {
  const results = new Map<Mode, Result>();
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const r = runChild(mode, size);
      const { profile, ...summary } = r as Result;
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      if ('error' in r) {
        out.push(`${size} ${mode}: failed: ${r.error}`);
        continue;
      }
      if (profile && round === 0) process.stdout.write(`${profile}\n`);
      const best = results.get(mode);
      if (best === undefined || r.samplesPerSec > best.samplesPerSec) results.set(mode, r);
    }
  }
  const torch = results.get('torch');
  for (const [mode, r] of results) {
    const ratio = torch ? (r.samplesPerSec / torch.samplesPerSec).toFixed(2) : 'n/a';
    const perCpu = (r.samplesPerSec * r.seconds) / r.cpuSeconds;
    const torchPerCpu = torch ? (torch.samplesPerSec * torch.seconds) / torch.cpuSeconds : undefined;
    const cpuRatio = torchPerCpu ? (perCpu / torchPerCpu).toFixed(2) : 'n/a';
    rows.push(
      `| ${size}x${size} | ${mode} | ${r.samplesPerSec.toFixed(1)} | ${r.gflops.toFixed(1)} | ${ratio} | ${perCpu.toFixed(1)} | ${cpuRatio} | ${(
        r.cpuSeconds / r.seconds
      ).toFixed(2)} | ${r.losses
        .slice(0, 3)
        .map((l) => l.toFixed(4))
        .join(', ')} |`,
    );
  }
}
process.stdout.write(
  `\nnorm ${norm}, batch ${batch}, ${seconds} s per run, best of ${rounds} rounds, ${threads} threads, load ${load.toFixed(1)} on ${cpus().length} CPUs${passive ? ' (OMP_WAIT_POLICY=passive)' : ''}\n${rows.join('\n')}\n${out.join('\n')}\n`,
);
