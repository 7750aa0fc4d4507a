import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { configOptions, localStatePath, resolveConfig } from '../config.js';
import { EXIT } from '../errors.js';
import { type CliIo, err, out } from '../io.js';
import { type LocalCluster, startLocalCluster } from '../local/local-cluster.js';
import { type Command, flag, intOpt } from './command.js';

/** Waits until the verb's signal aborts (Ctrl-C / SIGTERM) or `until` settles. */
export function untilAborted(signal: AbortSignal, until?: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    until?.then(
      () => resolve(),
      () => resolve(),
    );
  });
}

/** Starts a local cluster for a verb, with a temp dir removed on stop unless `keepDir`. */
export async function localCluster(
  io: CliIo,
  options: { workers: number; dir?: string; port?: number; quiet?: boolean; args: Parameters<typeof resolveConfig>[1] },
): Promise<{ cluster: LocalCluster; dispose: () => Promise<void>; dir: string }> {
  const { config, env } = resolveConfig(io.env, options.args);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'lorkd-local-')));
  await mkdir(dir, { recursive: true });
  const cluster = await startLocalCluster({
    workers: options.workers,
    dir,
    env,
    config,
    self: io.self,
    ...(options.port === undefined ? {} : { port: options.port }),
    signal: io.signal,
    note: (line) => {
      if (!options.quiet) err(io, `lorkd: ${line}`);
    },
    onUnexpectedExit: (proc, code) => {
      err(io, `lorkd: ${proc.name} (pid ${proc.pid}) exited with ${code}; log: ${proc.logFile}`);
    },
  }).catch(async (e: unknown) => {
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    throw e;
  });
  const dispose = async () => {
    await cluster.stop();
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
  };
  return { cluster, dispose, dir };
}

function embeddedS3Env(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const keys = [
    'AWS_ENDPOINT_URL_S3',
    'AWS_REGION',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'LORKD_S3_FORCE_PATH_STYLE',
    'LORKD_S3_CHECKSUMS',
  ];
  return Object.fromEntries(keys.flatMap((k) => (env[k] ? [[k, env[k] as string]] : [])));
}

export const upCommand: Command = {
  def: {
    name: 'up',
    summary:
      'Start a local cluster (Redis, S3-compatible store, coordinator, workers) and keep it running until Ctrl-C.',
    usage: 'lorkd up [--workers N] [--port PORT] [--dir DIR] [--json]',
    positionals: [],
    options: {
      workers: {
        type: 'integer',
        short: 'w',
        value: 'N',
        min: 0,
        max: 64,
        description: 'worker processes (default 2)',
      },
      port: { type: 'integer', value: 'PORT', min: 1, max: 65535, description: 'coordinator port (default 8420)' },
      dir: { type: 'string', value: 'DIR', description: 'keep Redis/S3 data and logs here (default: a temp dir)' },
      ...configOptions('redis-url', 'storage-url', 'token'),
    },
    examples: [
      'lorkd up --workers 2',
      '# then, in another terminal of the same directory:',
      'lorkd run docs/examples/demo-spec.yaml --follow',
    ],
  },
  async run(args, io) {
    const workers = intOpt(args, 'workers') ?? 2;
    const dirOpt = args.options.dir;
    const { cluster, dispose } = await localCluster(io, {
      workers,
      port: intOpt(args, 'port') ?? 8420,
      ...(typeof dirOpt === 'string' ? { dir: dirOpt } : {}),
      args,
    });
    const statePath = localStatePath(io.cwd);
    try {
      await mkdir(dirname(statePath), { recursive: true });
      await writeFile(
        statePath,
        JSON.stringify({
          apiUrl: cluster.apiUrl,
          token: cluster.token,
          pid: process.pid,
          ...(cluster.embedded.s3 ? { storageEnv: embeddedS3Env(cluster.env) } : {}),
        }),
        {
          mode: 0o600,
        },
      );
      const info = {
        apiUrl: cluster.apiUrl,
        dashboard: `${cluster.apiUrl}/#token=${cluster.token}`,
        redisUrl: cluster.redisUrl,
        storageUrl: cluster.storageUrl,
        logs: cluster.logDir,
        workers,
      };
      if (flag(args, 'json')) out(io, JSON.stringify(info));
      else {
        out(io, `lorkd is up: coordinator ${cluster.apiUrl}, ${workers} workers, storage ${cluster.storageUrl}`);
        out(io, `dashboard: ${info.dashboard}`);
        out(io, `logs: ${cluster.logDir}`);
        out(io, 'lorkd run/status/queues in this directory use this cluster; elsewhere:');
        out(io, `  export LORKD_API_URL=${cluster.apiUrl} LORKD_API_TOKEN=${cluster.token}`);
        out(io, 'Ctrl-C stops everything.');
      }
      const coordinator = cluster.supervisor.processes.find((p) => p.name === 'coordinator');
      await untilAborted(io.signal, coordinator?.exited);
      if (!flag(args, 'json')) err(io, 'lorkd: stopping the local cluster …');
    } finally {
      await rm(statePath, { force: true });
      await dispose();
    }
    return EXIT.ok;
  },
};
