import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type EnvConfig, parseEnvConfig, ValidationError } from '@lorkd/contracts';
import type { OptionDef, ParsedArgs } from './args.js';
import { UsageError } from './errors.js';

/** Flags that override an environment variable, by flag name. */
export const CONFIG_FLAGS: Readonly<Record<string, { env: string; def: OptionDef }>> = {
  'api-url': {
    env: 'LORKD_API_URL',
    def: { type: 'string', value: 'URL', description: 'coordinator API (LORKD_API_URL)' },
  },
  token: {
    env: 'LORKD_API_TOKEN',
    def: { type: 'string', value: 'TOKEN', description: 'API token (LORKD_API_TOKEN)' },
  },
  'redis-url': {
    env: 'LORKD_REDIS_URL',
    def: { type: 'string', value: 'URL', description: 'Redis (LORKD_REDIS_URL)' },
  },
  'storage-url': {
    env: 'LORKD_STORAGE_URL',
    def: { type: 'string', value: 'URL', description: 's3://BUCKET/PREFIX or file:///DIR (LORKD_STORAGE_URL)' },
  },
  backend: {
    env: 'LORKD_BACKEND',
    def: { type: 'string', value: 'NAME', description: 'compute backend (LORKD_BACKEND)' },
  },
  'log-level': {
    env: 'LORKD_LOG_LEVEL',
    def: { type: 'string', value: 'LEVEL', description: 'debug|info|warn|error' },
  },
};

export type ConfigFlag = keyof typeof CONFIG_FLAGS;

/** Picks the named config flags' option definitions for a command. */
export function configOptions(...names: string[]): Record<string, OptionDef> {
  return Object.fromEntries(names.map((n) => [n, (CONFIG_FLAGS[n] as { def: OptionDef }).def]));
}

/** The merged environment (flags override env) and the validated config; one line per invalid value. */
export function resolveConfig(
  env: Readonly<Record<string, string | undefined>>,
  args: ParsedArgs,
): { config: EnvConfig; env: Record<string, string | undefined> } {
  const merged: Record<string, string | undefined> = { ...env };
  const fromFlag = new Map<string, string>();
  for (const [flag, { env: name }] of Object.entries(CONFIG_FLAGS)) {
    const value = args.options[flag];
    if (typeof value === 'string') {
      merged[name] = value;
      fromFlag.set(name, `--${flag}`);
    }
  }
  try {
    return { config: parseEnvConfig(merged), env: merged };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    throw new UsageError(
      e.issues.map((i) => {
        const where = fromFlag.get(i.path) ?? i.path;
        return `invalid ${where}: ${i.message}`;
      }),
    );
  }
}

/** Where `lorkd up`/`lorkd demo` leave the local cluster's address for the other verbs. */
export function localStatePath(cwd: string): string {
  return join(cwd, '.lorkd', 'local.json');
}

export interface LocalState {
  readonly apiUrl: string;
  readonly token: string;
  readonly pid: number;
  /** S3 settings of the embedded store (development keys only), for `lorkd export`. */
  readonly storageEnv?: Record<string, string>;
}

export async function readLocalState(cwd: string): Promise<LocalState | undefined> {
  try {
    const state = JSON.parse(await readFile(localStatePath(cwd), 'utf8')) as LocalState;
    try {
      process.kill(state.pid, 0);
    } catch {
      return undefined;
    }
    return state;
  } catch {
    return undefined;
  }
}

/**
 * S3 settings from an environment map (the standard AWS variables plus lorkd's own), for stores the
 * CLI opens itself: `export`, and the demo reading its embedded store.
 */
export function s3OptionsFromEnv(env: Readonly<Record<string, string | undefined>>): {
  endpoint?: string;
  region?: string;
  forcePathStyle: boolean;
  checksums: 'when_supported' | 'when_required';
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
} {
  const config = parseEnvConfig(env);
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    forcePathStyle: config.LORKD_S3_FORCE_PATH_STYLE ?? false,
    checksums: config.LORKD_S3_CHECKSUMS,
    ...(id && secret
      ? {
          credentials: {
            accessKeyId: id,
            secretAccessKey: secret,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  };
}
