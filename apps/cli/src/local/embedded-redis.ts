import { type ChildProcess, spawn } from 'node:child_process';
import { CliError } from '../errors.js';
import { freePort } from './free-port.js';

export interface EmbeddedRedis {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a private `redis-server` child from PATH on a free loopback port, configured as lorkd
 * needs (noeviction, nothing persisted). Its own process group: a terminal's Ctrl-C reaches the
 * demo, which stops it last, after the workers and the coordinator.
 */
export async function startEmbeddedRedis(options: { dir: string; binary?: string }): Promise<EmbeddedRedis> {
  const port = await freePort();
  const binary = options.binary ?? 'redis-server';
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    options.dir,
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  args.push('--maxmemory-policy', 'noeviction', '--protected-mode', 'yes');
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  child.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          err.code === 'ENOENT'
            ? `${binary} is not on PATH: install Redis (bash scripts/setup.sh, or apt-get install redis-server), or point LORKD_REDIS_URL at a running Redis`
            : `cannot start ${binary}: ${err.message}`,
          { cause: err },
        ),
      );
    child.once('error', onError);
    child.once('exit', (code) =>
      reject(new CliError(`${binary} exited with code ${code}: ${output.trim().split('\n').slice(-3).join(' | ')}`)),
    );
    const poll = setInterval(() => {
      if (/Ready to accept connections/i.test(output)) {
        clearInterval(poll);
        child.off('error', onError);
        child.removeAllListeners('exit');
        resolve();
      }
    }, 50);
    setTimeout(() => {
      clearInterval(poll);
      reject(new CliError(`${binary} did not become ready within 10 s: ${output.trim().slice(-300)}`));
    }, 10_000).unref();
  }).catch((e: unknown) => {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw e;
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
