import { type ChildProcess, spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CliIo } from './io.js';

/** A CliIo over in-memory streams, for running verbs inside a test. */
export function memoryIo(env: Record<string, string | undefined> = {}, cwd = process.cwd()) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let outText = '';
  let errText = '';
  stdout.on('data', (d: Buffer) => {
    outText += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    errText += d.toString();
  });
  const controller = new AbortController();
  const io: CliIo = {
    env,
    stdout,
    stderr,
    signal: controller.signal,
    cwd,
    self: { command: process.execPath, args: [] },
  };
  return {
    io,
    abort: () => controller.abort(),
    get stdout() {
      return outText;
    },
    get stderr() {
      return errText;
    },
  };
}

const BIN = fileURLToPath(new URL('../bin/lorkd.js', import.meta.url));

/**
 * Runs `lorkd ARGS…` from the sources as a separate process (bin/lorkd.js, as a user would), collecting
 * its output. `waitFor` polls stderr (or stdout) for a pattern and fails if the process ends first.
 */
export function spawnLorkd(args: readonly string[], env: Record<string, string | undefined>, cwd?: string) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LORKD_FROM_SOURCE: '1', LORKD_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd === undefined ? {} : { cwd }),
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => {
    output.stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output.stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : null))),
  );
  const waitFor = async (re: RegExp, ms: number, stream: 'stdout' | 'stderr' = 'stderr') => {
    const deadline = Date.now() + ms;
    while (!re.test(output[stream])) {
      if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null)
        throw new Error(`lorkd ${args[0]} never printed ${re}:\n${output.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return { child, output, exited, waitFor };
}
