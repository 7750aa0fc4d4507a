// `lorkd coordinator`: the control plane process. Reads its settings from the environment (see
// ENV_VARS), serves the HTTP API + dashboard when LORKD_API_TOKEN is set, stops on SIGTERM/SIGINT.
import { DEFAULT_PORTS, parseEnvConfig, ValidationError } from '@lorkd/contracts';
import { s3OptionsFromEnvConfig } from '@lorkd/storage';
import { createWinstonLogger, untilStopped } from '@lorkd/telemetry';
import { createCoordinator } from './coordinator.js';
import { createHttpServer, type LorkdHttpServer } from './http/index.js';
import { storageReports } from './report-source.js';

async function main(): Promise<number> {
  const env = parseEnvConfig(process.env);
  const logger = createWinstonLogger({
    level: env.LORKD_LOG_LEVEL,
    ...(env.LORKD_LOG_FORMAT ? { format: env.LORKD_LOG_FORMAT } : {}),
    fields: { app: 'coordinator', pid: process.pid },
  });
  if (!env.LORKD_REDIS_URL)
    throw new ValidationError('environment', [
      { path: 'LORKD_REDIS_URL', message: 'is required, e.g. redis://127.0.0.1:6379' },
    ]);
  const storage = { s3: s3OptionsFromEnvConfig(env), logger };
  const coordinator = createCoordinator({
    redisUrl: env.LORKD_REDIS_URL,
    prefix: env.LORKD_QUEUE_PREFIX,
    ...(env.LORKD_STORAGE_URL ? { storageUrl: env.LORKD_STORAGE_URL } : {}),
    storage,
    backend: env.LORKD_BACKEND,
    logger,
  });
  await coordinator.start();
  let http: LorkdHttpServer | undefined;
  if (env.LORKD_API_TOKEN) {
    http = createHttpServer({
      runs: coordinator,
      token: env.LORKD_API_TOKEN,
      logger,
      reports: storageReports(coordinator, storage),
    });
    const url = await http.listen(env.LORKD_API_PORT ?? DEFAULT_PORTS.coordinator);
    logger.info(`API listening on ${url}`);
  } else logger.warn('LORKD_API_TOKEN is not set: the HTTP API and dashboard are off');
  return await untilStopped({
    logger,
    message: 'stopping',
    stop: async () => {
      await http?.close();
      await coordinator.close();
    },
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lorkd coordinator: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
