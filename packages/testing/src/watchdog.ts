import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/**
 * The watchdog, a plain Node script run as `node -e SCRIPT -- COMMAND ARGS…`. It starts COMMAND with its
 * output passed through, reports `{"pid":N}` (or `{"error":CODE}`) on fd 3, forwards SIGTERM/SIGINT/SIGHUP,
 * exits with COMMAND's status, and stops COMMAND (SIGTERM, then SIGKILL after GRACE ms) as soon as its own
 * parent is gone: its stdin, a pipe only the parent holds, reaches EOF, or its parent pid changes.
 */
const SCRIPT = `
const { spawn } = require('node:child_process');
const { writeSync } = require('node:fs');
const { signals } = require('node:os').constants;
const [command, ...args] = process.argv.slice(1);
process.title = 'watchdog of ' + command;
const parent = process.ppid;
const report = (message) => { try { writeSync(3, JSON.stringify(message) + '\\n'); } catch {} };
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.once('spawn', () => report({ pid: child.pid }));
child.once('error', (e) => { report({ error: e.code || 'EUNKNOWN', message: e.message }); process.exit(127); });
child.once('exit', (code, signal) => process.exit(code ?? 128 + (signals[signal] || 0)));
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => child.kill(s));
let orphaned = false;
const stop = () => {
  if (orphaned) return;
  orphaned = true;
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), GRACE);
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
setInterval(() => { if (process.ppid !== parent) stop(); }, 250).unref();
`;

export interface WatchedProcess {
  /** The watchdog; its stdout and stderr carry the command's. Signal it to signal the command. */
  readonly watchdog: ChildProcess;
  /** The command's own pid once it runs; rejects with an `ENOENT`-style code error if it cannot start. */
  readonly pid: Promise<number>;
}

/**
 * Starts `command` under a small Node watchdog so that it dies with this process, however this process
 * ends (SIGKILL included): for programs that are not ours and cannot watch their parent (redis-server).
 * Linux's PR_SET_PDEATHSIG is not used: it fires when the spawning *thread* exits (a Vitest or
 * worker_threads worker), and it does not exist on macOS.
 */
export function spawnWatched(
  command: string,
  args: readonly string[],
  options: { detached?: boolean; graceMs?: number; env?: NodeJS.ProcessEnv } = {},
): WatchedProcess {
  const script = SCRIPT.replace('GRACE', String(options.graceMs ?? 3000));
  const watchdog = spawn(process.execPath, ['-e', script, '--', command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    detached: options.detached ?? false,
    env: options.env ?? process.env,
  });
  // Nothing is ever written to the lifeline; a watchdog that is gone must not fail this process.
  watchdog.stdin?.on('error', () => {});
  const control = watchdog.stdio[3] as Readable;
  const pid = new Promise<number>((resolve, reject) => {
    let text = '';
    const done = () => {
      control.destroy();
      watchdog.off('exit', onExit);
      watchdog.off('error', onError);
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`the watchdog of ${command} exited (${code}) before starting it`));
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    control.on('data', (d: Buffer) => {
      text += d.toString();
      const line = text.split('\n')[0];
      if (line === undefined || !text.includes('\n')) return;
      done();
      const message = JSON.parse(line) as { pid?: number; error?: string; message?: string };
      if (message.pid !== undefined) resolve(message.pid);
      else
        reject(
          Object.assign(new Error(`cannot start ${command}: ${message.message ?? message.error}`), {
            code: message.error,
          }),
        );
    });
    control.on('error', () => {});
    watchdog.once('exit', onExit);
    watchdog.once('error', onError);
  });
  pid.catch(() => {});
  return { watchdog, pid };
}
