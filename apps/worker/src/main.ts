// `lorkd worker`: one worker process. Reads its settings from the environment (see ENV_VARS),
// takes slot jobs until SIGTERM/SIGINT, then finishes the current step, checkpoints and exits 0.
import { parseEnvConfig, ValidationError } from '@lorkd/contracts';
import { s3OptionsFromEnvConfig } from '@lorkd/storage';
import { createWinstonLogger, untilStopped } from '@lorkd/telemetry';
import { createWorker } from './worker.js';

async function main(): Promise<number> {
  const env = parseEnvConfig(process.env);
  const logger = createWinstonLogger({
    level: env.LORKD_LOG_LEVEL,
    ...(env.LORKD_LOG_FORMAT ? { format: env.LORKD_LOG_FORMAT } : {}),
    fields: { app: 'worker', pid: process.pid },
  });
  if (!env.LORKD_REDIS_URL)
    throw new ValidationError('environment', [
      { path: 'LORKD_REDIS_URL', message: 'is required, e.g. redis://127.0.0.1:6379' },
    ]);
  const worker = createWorker({
    redisUrl: env.LORKD_REDIS_URL,
    prefix: env.LORKD_QUEUE_PREFIX,
    ...(env.LORKD_WORKER_ID ? { workerId: env.LORKD_WORKER_ID } : {}),
    backend: env.LORKD_BACKEND,
    ...(env.LORKD_STORAGE_URL ? { storageUrl: env.LORKD_STORAGE_URL } : {}),
    storage: { s3: s3OptionsFromEnvConfig(env), logger },
    http: { port: env.LORKD_WORKER_PORT },
    logger,
  });
  await worker.start();
  return await untilStopped({
    logger,
    message: 'finishing the current step, checkpointing, then exiting',
    stop: (signal) => worker.stop(signal),
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lorkd worker: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
