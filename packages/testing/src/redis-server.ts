import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface RedisServerHandle {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  /** Kills the server (SIGKILL) without cleanup, as a crash would. */
  kill(): void;
  /** Starts it again on the same port and dir (after `kill`/`stop`), e.g. to test reconnects. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  port?: number;
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  binary?: string;
}

async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(500);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a private `redis-server` on a free loopback port, in a temp dir, configured as lorkd needs. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'lorkd-redis-'));
  const binary = options.binary ?? 'redis-server';
  let child: ChildProcess | undefined;

  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
    args.push('--maxmemory-policy', 'noeviction', ...(options.args ?? []));
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err) =>
        reject(
          new Error(`cannot start ${binary}: ${err.message} (install it: apt-get install redis-server)`, {
            cause: err,
          }),
        ),
      );
      proc.once('exit', (code) => reject(new Error(`${binary} exited with code ${code}: ${stderr.trim()}`)));
    });
    exited.catch(() => {});
    await Promise.race([waitForPing(port, 10_000), exited]);
  };

  const stopChild = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid ?? -1;
    },
    dir,
    kill() {
      child?.kill('SIGKILL');
    },
    async restart() {
      await stopChild('SIGKILL');
      await launch();
    },
    async stop() {
      await stopChild('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
