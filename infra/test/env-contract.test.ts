import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_VARS } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { containersOf, INFRA_DIR, k8sObjects, parseYamlFile } from './manifests.js';

/** Variables set for third-party containers (MinIO), not read by lorkd. */
const THIRD_PARTY = new Set(['MINIO_ROOT_USER', 'MINIO_ROOT_PASSWORD']);
const READ_BY_LORKD = new Set(Object.keys(ENV_VARS));
const REQUIRED = ['LORKD_REDIS_URL', 'LORKD_STORAGE_URL'];

function envFileKeys(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('=')[0] ?? '');
}

/** The env a lorkd container gets in Kubernetes: its env list + the ConfigMap + the Secret example. */
function k8sEnv(container: Record<string, unknown>): Set<string> {
  const keys = new Set<string>();
  for (const e of (container.env as Array<{ name: string }> | undefined) ?? []) keys.add(e.name);
  const from = (container.envFrom as Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>) ?? [];
  const configMap = k8sObjects().find((o) => o.value.kind === 'ConfigMap');
  for (const f of from) {
    if (f.configMapRef) for (const k of Object.keys((configMap?.value.data as object) ?? {})) keys.add(k);
    if (f.secretRef) for (const k of envFileKeys(join(INFRA_DIR, 'k8s/base/secrets.env.example'))) keys.add(k);
  }
  return keys;
}

describe('environment contract between manifests and apps', () => {
  it('every variable the k8s manifests give lorkd containers is one lorkd reads, and the required ones are set', () => {
    const lorkd = k8sObjects().filter((o) => o.value.kind === 'Deployment');
    expect(lorkd.map((o) => (o.value.metadata as { name: string }).name).sort()).toEqual(['coordinator', 'worker']);
    for (const obj of lorkd) {
      for (const c of containersOf(obj.value)) {
        const keys = k8sEnv(c);
        for (const k of keys)
          expect(READ_BY_LORKD.has(k), `${String(c.name)} sets ${k}, which lorkd never reads`).toBe(true);
        for (const k of REQUIRED) expect(keys.has(k), `${String(c.name)} lacks ${k}`).toBe(true);
      }
    }
    const gpu = parseYamlFile(join(INFRA_DIR, 'k8s/overlays/gpu/worker-gpu.yaml'))[0]?.value ?? {};
    for (const c of containersOf(gpu))
      for (const e of c.env as Array<{ name: string }>) expect(READ_BY_LORKD.has(e.name)).toBe(true);
  });

  it('every variable compose and the env examples set is read by lorkd or by the third-party service it is for', () => {
    const [doc] = parseYamlFile(join(INFRA_DIR, 'compose/compose.yaml'));
    if (!doc) throw new Error('compose.yaml is empty');
    const services = (doc.value as { services: Record<string, { environment?: Record<string, string> }> }).services;
    for (const name of ['coordinator', 'worker']) {
      const keys = new Set([
        ...Object.keys(services[name]?.environment ?? {}),
        ...envFileKeys(join(INFRA_DIR, 'compose/lorkd.env.example')),
      ]);
      for (const k of keys) expect(READ_BY_LORKD.has(k) || THIRD_PARTY.has(k), `compose ${name}: ${k}`).toBe(true);
      for (const k of REQUIRED) expect(keys.has(k), `compose ${name} lacks ${k}`).toBe(true);
    }
  });
});
