import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError } from '../errors.js';
import type { Command } from './command.js';

/**
 * Runs an app's `main` module in this process (`src/main.ts` from source, `dist/main.js` when
 * built) under the process title `lorkd APP`, so `ps` shows what it is and an operator can kill it.
 */
async function launch(app: 'coordinator' | 'worker'): Promise<number> {
  process.title = `lorkd ${app}`;
  const pkg = `@lorkd/${app}`;
  let index: string;
  try {
    index = import.meta.resolve(pkg);
  } catch (e) {
    throw new CliError(`${pkg} is not installed (run npm ci in the repository)`, { cause: e });
  }
  const main = index.replace(/index\.(ts|js)$/, 'main.$1');
  if (!existsSync(fileURLToPath(main)))
    throw new CliError(`lorkd ${app} is not available in this build: ${fileURLToPath(main)} is missing`);
  await import(main);
  // The app runs until it exits on its own (SIGTERM: finish, checkpoint, exit 0).
  return await new Promise<number>(() => {});
}

const serveOptions = {};

export const coordinatorCommand: Command = {
  def: {
    name: 'coordinator',
    summary: 'Run a coordinator (control plane, HTTP API, dashboard, /metrics) in this process.',
    usage: 'lorkd coordinator',
    positionals: [],
    options: serveOptions,
    examples: [
      'LORKD_REDIS_URL=redis://redis:6379 LORKD_STORAGE_URL=s3://bucket/lorkd LORKD_API_TOKEN=… lorkd coordinator',
    ],
  },
  run: () => launch('coordinator'),
};

export const workerCommand: Command = {
  def: {
    name: 'worker',
    summary: 'Run a worker (takes slot jobs, trains, syncs, checkpoints) in this process.',
    usage: 'lorkd worker',
    positionals: [],
    options: serveOptions,
    examples: ['LORKD_REDIS_URL=redis://redis:6379 LORKD_STORAGE_URL=s3://bucket/lorkd lorkd worker'],
  },
  run: () => launch('worker'),
};
