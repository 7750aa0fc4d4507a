import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerStartError } from './errors.js';
import { freePort } from './free-port.js';
import { spawnWatched } from './watchdog.js';

export interface RedisServerHandle {
  readonly port: number;
  readonly url: string;
  /** The redis-server process itself (not its watchdog). */
  readonly pid: number;
  readonly dir: string;
  /** Kills the server (SIGKILL) without cleanup, as a crash would. */
  kill(): void;
  /** Starts it again on the same port and dir (after `kill`/`stop`), e.g. to test reconnects. */
  restart(): Promise<void>;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its directory unless it was given. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  port?: number;
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  binary?: string;
  /** Its working directory (default: a fresh temp dir, removed on stop). */
  dir?: string;
  /** Its own process group, so a terminal's Ctrl-C reaches only this process, which stops it when it wants. */
  detached?: boolean;
  readyTimeoutMs?: number;
}

async function ping(port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
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
}

interface Running {
  readonly watchdog: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<void>;
}

/**
 * Starts a private `redis-server` on a free loopback port, configured as lorkd needs (noeviction,
 * nothing persisted). It runs under a watchdog (see `spawnWatched`), so it never outlives this process.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'lorkd-redis-')));
  if (!ownDir) await mkdir(dir, { recursive: true });
  const binary = options.binary ?? 'redis-server';
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  let current: Running | undefined;

  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
    args.push('--maxmemory-policy', 'noeviction', ...(options.args ?? []));
    const { watchdog, pid } = spawnWatched(binary, args, { detached: options.detached ?? false });
    let output = '';
    const collect = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    watchdog.stdout?.on('data', collect);
    watchdog.stderr?.on('data', collect);
    const lastLines = () => output.trim().split('\n').slice(-3).join(' | ');
    const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
    const fail = (reason: ServerStartError['fields']['reason'], message: string, cause?: unknown) =>
      new ServerStartError(message, { command: binary, reason, output }, { cause });
    const realPid = await pid.catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT'
        ? fail('not-found', `${binary} is not on PATH (install it: apt-get install redis-server)`, e)
        : fail('spawn-failed', `cannot start ${binary}: ${e.message}`, e);
    });
    current = { watchdog, pid: realPid, exited };
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (watchdog.exitCode !== null || watchdog.signalCode !== null)
        throw fail('exited', `${binary} exited with code ${watchdog.exitCode ?? watchdog.signalCode}: ${lastLines()}`);
      if (await ping(port)) return;
      if (Date.now() > deadline) {
        await stopCurrent('SIGKILL');
        throw fail(
          'timeout',
          `${binary} on port ${port} did not answer PING within ${readyTimeoutMs} ms: ${lastLines()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stopCurrent = async (signal: 'SIGTERM' | 'SIGKILL') => {
    const running = current;
    current = undefined;
    if (!running || running.watchdog.exitCode !== null || running.watchdog.signalCode !== null) return;
    const kill = () => {
      try {
        process.kill(running.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    // The watchdog exits with redis-server; SIGTERM goes through it, SIGKILL straight to redis-server.
    if (signal === 'SIGKILL') kill();
    else running.watchdog.kill('SIGTERM');
    const timer = setTimeout(kill, 5000);
    await running.exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return current?.pid ?? -1;
    },
    dir,
    kill() {
      try {
        if (current) process.kill(current.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
    async restart() {
      await stopCurrent('SIGKILL');
      await launch();
    },
    async stop() {
      await stopCurrent('SIGTERM');
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
