import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { EXIT, UsageError } from '../errors.js';
import { out } from '../io.js';
import { type Command, flag } from './command.js';

/** scripts/bench of the repository this CLI runs from. */
export const BENCH_DIR = fileURLToPath(new URL('../../../../scripts/bench/', import.meta.url));

async function listBenches(): Promise<string[]> {
  try {
    return (await readdir(BENCH_DIR))
      .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
      .map((f) => f.slice(0, -3))
      .sort();
  } catch {
    return [];
  }
}

export const benchCommand: Command = {
  def: {
    name: 'bench',
    summary: 'List or run the benchmarks in scripts/bench (each prints its ratios, measured side by side).',
    usage: 'lorkd bench [NAME [ARGS…]] [--json]',
    positionals: [{ name: 'NAME', required: false }],
    rest: true,
    options: {},
    examples: ['lorkd bench', 'lorkd bench eks-conv', 'lorkd bench collectives -- --size 4194304'],
  },
  async run(args, io) {
    const names = await listBenches();
    const [name, ...rest] = args.positionals;
    if (name === undefined) {
      if (flag(args, 'json')) out(io, JSON.stringify({ dir: BENCH_DIR, benchmarks: names }));
      else
        out(
          io,
          names.length === 0
            ? `no benchmarks in ${BENCH_DIR} yet`
            : `benchmarks (lorkd bench NAME):\n${names.map((n) => `  ${n}`).join('\n')}`,
        );
      return EXIT.ok;
    }
    if (!names.includes(name)) throw new UsageError(`no benchmark '${name}'; available: ${names.join(', ') || 'none'}`);
    const child = spawn(
      process.execPath,
      ['--conditions=lorkd-source', '--import', import.meta.resolve('tsx'), `${BENCH_DIR}${name}.ts`, ...rest],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: fileURLToPath(new URL('../../../../', import.meta.url)),
        env: { ...io.env },
      },
    );
    child.stdout.on('data', (d: Buffer) => io.stdout.write(d));
    child.stderr.on('data', (d: Buffer) => io.stderr.write(d));
    const onAbort = () => child.kill('SIGINT');
    io.signal.addEventListener('abort', onAbort, { once: true });
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    io.signal.removeEventListener('abort', onAbort);
    return code === 0 ? EXIT.ok : EXIT.failed;
  },
};
