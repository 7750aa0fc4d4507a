import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const INFRA_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Every YAML file under infra/ (not node_modules). */
export function yamlFiles(dir = INFRA_DIR): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(name)) out.push(path);
  }
  return out.sort();
}

export interface ParsedDoc {
  readonly file: string;
  readonly index: number;
  readonly value: Record<string, unknown>;
}

/** Parses all documents of a YAML file; throws with the file and error on any syntax problem. */
export function parseYamlFile(path: string): ParsedDoc[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const file = relative(INFRA_DIR, path);
  return docs.flatMap((doc, index) => {
    if (doc.errors.length > 0)
      throw new Error(`${file} document ${index}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return [];
    return [{ file, index, value: value as Record<string, unknown> }];
  });
}

/** Whole Kubernetes objects (base and extras; overlay patches are partial and excluded). */
export function k8sObjects(): ParsedDoc[] {
  return yamlFiles(join(INFRA_DIR, 'k8s'))
    .filter((f) => !f.includes('/overlays/'))
    .flatMap((f) => parseYamlFile(f))
    .filter((d) => typeof d.value.kind === 'string' && d.value.kind !== 'Kustomization');
}

/** Walks any object and calls `visit` on every container spec (Deployment, StatefulSet, Job templates). */
export function containersOf(obj: Record<string, unknown>): Array<Record<string, unknown>> {
  const spec = obj.spec as Record<string, unknown> | undefined;
  const template = spec?.template as Record<string, unknown> | undefined;
  const podSpec = template?.spec as Record<string, unknown> | undefined;
  return (podSpec?.containers as Array<Record<string, unknown>> | undefined) ?? [];
}

/** Returns `value`, or fails the test naming what was missing. */
export function must<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`missing: ${what}`);
  return value;
}
