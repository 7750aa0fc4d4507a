import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvConfig } from '@lorkd/contracts';
import {
  freePort,
  type RedisServerHandle,
  type S3ServerHandle,
  ServerStartError,
  startRedisServer,
  startS3Server,
} from '@lorkd/testing';
import { sleep } from '../api-client.js';
import { CliError } from '../errors.js';
import { type ManagedProcess, Supervisor } from './supervisor.js';

export interface LocalClusterOptions {
  readonly workers: number;
  /** Holds redis/, s3/ and logs/ of this cluster. */
  readonly dir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly config: EnvConfig;
  readonly self: { readonly command: string; readonly args: readonly string[] };
  /** Coordinator port; default: a free one. */
  readonly port?: number;
  /** Progress notes ("starting redis-server …") for the terminal. */
  readonly note?: (line: string) => void;
  readonly onUnexpectedExit?: (proc: ManagedProcess, code: number | NodeJS.Signals) => void;
  readonly signal?: AbortSignal;
}

export interface LocalCluster {
  readonly apiUrl: string;
  readonly token: string;
  readonly storageUrl: string;
  readonly redisUrl: string;
  /** The environment the cluster's processes run with (also what `lorkd export` needs for the store). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logDir: string;
  readonly supervisor: Supervisor;
  readonly embedded: { readonly redis: boolean; readonly s3: boolean };
  /** Stops workers, then the coordinator, then the embedded S3 store and Redis. Idempotent. */
  stop(): Promise<void>;
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * A private redis-server from PATH (under a watchdog: it dies with this process, however it ends). Its
 * own process group: a terminal's Ctrl-C reaches the demo, which stops it last, after the other processes.
 */
async function startEmbeddedRedis(dir: string): Promise<RedisServerHandle> {
  return await startRedisServer({ dir, detached: true, args: ['--protected-mode', 'yes'] }).catch((e: unknown) => {
    if (e instanceof ServerStartError && e.fields.reason === 'not-found')
      throw new CliError(
        `${e.fields.command} is not on PATH: install Redis (bash scripts/setup.sh, or apt-get install redis-server), or point LORKD_REDIS_URL at a running Redis`,
        { cause: e },
      );
    throw new CliError(e instanceof Error ? e.message : String(e), { cause: e });
  });
}

/**
 * Starts what a run needs on this machine: Redis and an S3-compatible store unless configured
 * (LORKD_REDIS_URL / LORKD_STORAGE_URL), a coordinator and N workers as `lorkd` child processes.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const note = options.note ?? (() => {});
  const logDir = join(options.dir, 'logs');
  await mkdir(logDir, { recursive: true });
  let redis: RedisServerHandle | undefined;
  let s3: S3ServerHandle | undefined;
  let stopped: Promise<void> | undefined;
  const supervisor = new Supervisor({ self: options.self, logDir, onUnexpectedExit: options.onUnexpectedExit });

  const stop = () => {
    stopped ??= (async () => {
      await supervisor.stop(supervisor.processes.filter((p) => p.name !== 'coordinator').map((p) => p.name));
      await supervisor.stop(['coordinator']);
      await s3?.stop();
      await redis?.stop();
    })();
    return stopped;
  };

  try {
    let redisUrl = options.config.LORKD_REDIS_URL;
    if (!redisUrl) {
      const dir = join(options.dir, 'redis');
      await mkdir(dir, { recursive: true });
      redis = await startEmbeddedRedis(dir);
      redisUrl = redis.url;
      note(`started redis-server (pid ${redis.pid}) at ${redisUrl}`);
    }
    let storageUrl = options.config.LORKD_STORAGE_URL;
    if (!storageUrl) {
      const dir = join(options.dir, 's3');
      await mkdir(dir, { recursive: true });
      s3 = await startS3Server({ dir, bucket: 'lorkd' });
      storageUrl = `s3://${s3.bucket}/lorkd`;
      note(`started an embedded S3-compatible store at ${s3.endpoint} (objects in ${dir})`);
    }
    const token = options.config.LORKD_API_TOKEN ?? randomBytes(24).toString('base64url');
    const port = options.port ?? (await freePort());
    const apiUrl = `http://127.0.0.1:${port}`;
    const env: Record<string, string | undefined> = {
      ...options.env,
      ...(s3?.env ?? {}),
      LORKD_REDIS_URL: redisUrl,
      LORKD_STORAGE_URL: storageUrl,
      LORKD_API_TOKEN: token,
      LORKD_API_PORT: String(port),
      LORKD_API_URL: apiUrl,
    };
    const coordinator = supervisor.start('coordinator', ['coordinator'], env);
    note(`started lorkd coordinator (pid ${coordinator.pid}), log ${coordinator.logFile}`);
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (options.signal?.aborted) throw new CliError('interrupted while starting the coordinator');
      if (!coordinator.running)
        throw new CliError(
          `lorkd coordinator exited while starting; last lines of ${coordinator.logFile}:\n${await tail(coordinator.logFile, 15)}`,
        );
      const ready = await fetch(`${apiUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline)
        throw new CliError(
          `lorkd coordinator was not ready after 90 s; last lines of ${coordinator.logFile}:\n${await tail(coordinator.logFile, 15)}`,
        );
      await sleep(250, options.signal);
    }
    for (let i = 1; i <= options.workers; i++) {
      const worker = supervisor.start(`worker-${i}`, ['worker'], {
        ...env,
        LORKD_WORKER_ID: `local-worker-${i}`,
        LORKD_WORKER_PORT: String(await freePort()),
      });
      note(`started lorkd worker ${i}/${options.workers} (pid ${worker.pid})`);
    }
    return {
      apiUrl,
      token,
      storageUrl,
      redisUrl,
      env,
      logDir,
      supervisor,
      embedded: { redis: !!redis, s3: !!s3 },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
