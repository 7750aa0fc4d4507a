import { z } from 'zod';
import { ValidationError } from './errors.js';
import { toValidationIssues } from './zod-issues.js';

/** Default ports of lorkd's own HTTP endpoints (deployment manifests use these). */
export const DEFAULT_PORTS = {
  /** Coordinator: REST API, dashboard, /healthz, /readyz, /metrics. */
  coordinator: 8420,
  /** Worker: /healthz, /readyz, /metrics. */
  worker: 8421,
} as const;

/** Health endpoints served by the coordinator and the workers. */
export const HEALTH_PATHS = { live: '/healthz', ready: '/readyz', metrics: '/metrics' } as const;

/**
 * Every environment variable lorkd reads, with what it means. Only an app's `main.ts` reads
 * `process.env`, and it does so through `parseEnvConfig`.
 */
export const ENV_VARS = {
  LORKD_REDIS_URL: 'Redis connection URL, e.g. redis://127.0.0.1:6379/0',
  LORKD_STORAGE_URL: 'checkpoint store: s3://bucket/prefix or file:///abs/dir',
  LORKD_API_URL: 'coordinator API base URL used by the CLI, e.g. http://127.0.0.1:8420',
  LORKD_API_TOKEN: 'bearer token protecting the coordinator API (all but /healthz)',
  LORKD_API_PORT: 'port the coordinator listens on',
  LORKD_WORKER_PORT: 'port a worker serves /healthz, /readyz and /metrics on',
  LORKD_QUEUE_PREFIX: 'BullMQ key prefix (several lorkd deployments can share one Redis)',
  LORKD_BACKEND: 'compute backend: auto, tensorflow-gpu, tensorflow, native, wasm, cpu',
  LORKD_LOG_LEVEL: 'debug, info, warn or error',
  LORKD_LOG_FORMAT: 'json (production) or pretty (terminal)',
  LORKD_WORKER_ID: 'stable name of a worker (defaults to host name + pid)',
  AWS_ENDPOINT_URL_S3: 'S3 endpoint for S3-compatible servers (MinIO, …)',
  AWS_REGION: 'S3 region',
  AWS_ACCESS_KEY_ID: 'S3 credentials (standard AWS chain)',
  AWS_SECRET_ACCESS_KEY: 'S3 credentials (standard AWS chain)',
  LORKD_S3_FORCE_PATH_STYLE: 'true to use path-style S3 addressing (MinIO, s3rver)',
  LORKD_S3_CHECKSUMS: 'when_supported (default) or when_required, for S3-compatible servers that reject checksums',
} as const;
export type EnvVarName = keyof typeof ENV_VARS;

const port = z.coerce.number().int().min(1).max(65535);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const EnvConfigSchema = z.object({
  LORKD_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL')
    .optional(),
  LORKD_STORAGE_URL: z
    .string()
    .regex(/^(s3:\/\/[^/]+(\/.*)?|file:\/\/\/.*)$/, 'must be s3://BUCKET[/PREFIX] or file:///ABSOLUTE/PATH')
    .optional(),
  LORKD_API_URL: z.url({ error: 'must be an http(s) URL' }).optional(),
  LORKD_API_TOKEN: z.string().min(8, 'must be at least 8 characters').optional(),
  LORKD_API_PORT: port.default(DEFAULT_PORTS.coordinator),
  LORKD_WORKER_PORT: port.default(DEFAULT_PORTS.worker),
  LORKD_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only')
    .default('lorkd'),
  LORKD_BACKEND: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu']).default('auto'),
  LORKD_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  LORKD_LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  LORKD_WORKER_ID: z.string().min(1).optional(),
  LORKD_S3_FORCE_PATH_STYLE: bool.optional(),
  LORKD_S3_CHECKSUMS: z.enum(['when_supported', 'when_required']).default('when_supported'),
});
export type EnvConfig = z.infer<typeof EnvConfigSchema>;

/** Reads lorkd's settings from an environment map; empty strings count as unset. */
export function parseEnvConfig(env: Readonly<Record<string, string | undefined>>): EnvConfig {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(EnvConfigSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const result = EnvConfigSchema.safeParse(picked);
  if (!result.success)
    throw new ValidationError('environment', toValidationIssues(result.error), { cause: result.error });
  return result.data;
}
