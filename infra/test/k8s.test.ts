import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DEFAULT_PORTS, HEALTH_PATHS } from '@lorkd/contracts';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { containersOf, INFRA_DIR, k8sObjects, must, parseYamlFile, yamlFiles } from './manifests.js';

type Validatable = { validate(): void };
const MODELS: Record<string, new (data: never) => Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

describe('Kubernetes manifests', () => {
  it('every YAML file under infra/ parses', () => {
    const files = yamlFiles();
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const file of files) expect(() => parseYamlFile(file)).not.toThrow();
  });

  it('every object validates against its Kubernetes (or CRD) schema', () => {
    const objects = k8sObjects();
    expect(objects.length).toBeGreaterThanOrEqual(12);
    for (const { file, index, value } of objects) {
      const key = `${String(value.apiVersion)}/${String(value.kind)}`;
      const Model = MODELS[key];
      expect(Model, `${file}#${index}: no schema for ${key}`).toBeDefined();
      if (!Model) continue;
      try {
        new Model(value as never).validate();
      } catch (err) {
        throw new Error(`${file}#${index} (${key}) is invalid: ${(err as Error).message}`);
      }
    }
  });

  it('kustomizations reference files that exist (secrets from an uncommitted env file with an example)', () => {
    const kustomizations = yamlFiles().filter((f) => f.endsWith('kustomization.yaml'));
    expect(kustomizations).toHaveLength(3);
    for (const file of kustomizations) {
      const [k] = parseYamlFile(file);
      const dir = dirname(file);
      const doc = k?.value as {
        resources?: string[];
        patches?: Array<{ path: string }>;
        secretGenerator?: Array<{ envs: string[] }>;
      };
      for (const r of doc.resources ?? []) expect(existsSync(join(dir, r)), `${file}: ${r}`).toBe(true);
      for (const p of doc.patches ?? []) expect(existsSync(join(dir, p.path)), `${file}: ${p.path}`).toBe(true);
      for (const g of doc.secretGenerator ?? [])
        for (const env of g.envs) expect(existsSync(join(dir, `${env}.example`)), `${file}: ${env}.example`).toBe(true);
    }
  });

  it('the GPU overlay asks for nvidia.com/gpu and the workers get time to checkpoint on SIGTERM', () => {
    const [patch] = parseYamlFile(join(INFRA_DIR, 'k8s/overlays/gpu/worker-gpu.yaml'));
    const [container] = containersOf(patch?.value ?? {});
    expect(
      (must(container, 'gpu worker container').resources as { limits: Record<string, string> }).limits[
        'nvidia.com/gpu'
      ],
    ).toBe('1');
    const worker = k8sObjects().find(
      (o) => o.value.kind === 'Deployment' && (o.value.metadata as { name: string }).name === 'worker',
    );
    const grace = (
      must(worker, 'worker Deployment').value.spec as { template: { spec: { terminationGracePeriodSeconds: number } } }
    ).template.spec.terminationGracePeriodSeconds;
    expect(grace).toBeGreaterThanOrEqual(120);
  });

  it('probes and ports match the ports and health paths lorkd serves', () => {
    const expected: Record<string, number> = { coordinator: DEFAULT_PORTS.coordinator, worker: DEFAULT_PORTS.worker };
    for (const obj of k8sObjects().filter((o) => o.value.kind === 'Deployment')) {
      const name = (obj.value.metadata as { name: string }).name;
      for (const c of containersOf(obj.value)) {
        const ports = c.ports as Array<{ name: string; containerPort: number }>;
        expect(ports.find((p) => p.name === 'http')?.containerPort, `${name} port`).toBe(expected[name]);
        expect((c.livenessProbe as { httpGet: { path: string } }).httpGet.path).toBe(HEALTH_PATHS.live);
        expect((c.readinessProbe as { httpGet: { path: string } }).httpGet.path).toBe(HEALTH_PATHS.ready);
        const annotations = (obj.value.spec as { template: { metadata: { annotations: Record<string, string> } } })
          .template.metadata.annotations;
        expect(annotations['prometheus.io/port']).toBe(String(expected[name]));
        expect(annotations['prometheus.io/path']).toBe(HEALTH_PATHS.metrics);
      }
    }
  });

  it('KEDA scales workers on the BullMQ train queue lists', () => {
    const scaled = k8sObjects().find((o) => o.value.kind === 'ScaledObject');
    const triggers = (
      must(scaled, 'ScaledObject').value.spec as { triggers: Array<{ metadata: { listName: string } }> }
    ).triggers;
    expect(triggers.map((t) => t.metadata.listName).sort()).toEqual([
      'lorkd:lorkd-train:active',
      'lorkd:lorkd-train:wait',
    ]);
  });
});
