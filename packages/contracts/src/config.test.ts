import { describe, expect, it } from 'vitest';
import { ENV_VARS, EnvConfigSchema, parseEnvConfig } from './config.js';

describe('parseEnvConfig', () => {
  it('applies defaults and ignores unrelated or empty variables', () => {
    const cfg = parseEnvConfig({ PATH: '/bin', LORKD_REDIS_URL: 'redis://127.0.0.1:6379', LORKD_API_TOKEN: '' });
    expect(cfg.LORKD_REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(cfg.LORKD_API_TOKEN).toBeUndefined();
    expect(cfg.LORKD_API_PORT).toBe(8420);
    expect(cfg.LORKD_BACKEND).toBe('auto');
  });

  it('names each bad variable', () => {
    expect(() =>
      parseEnvConfig({ LORKD_REDIS_URL: 'localhost:6379', LORKD_API_PORT: '99999', LORKD_BACKEND: 'tpu' }),
    ).toThrow(/LORKD_REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL[\s\S]*LORKD_API_PORT[\s\S]*LORKD_BACKEND/);
  });

  it('documents every variable it parses', () => {
    for (const key of Object.keys(EnvConfigSchema.shape)) expect(ENV_VARS).toHaveProperty(key);
  });
});
