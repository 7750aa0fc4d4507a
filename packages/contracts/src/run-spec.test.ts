import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { parseRunSpec, parseRunSpecYaml } from './run-spec.js';

const example = readFileSync(new URL('../../../docs/examples/demo-spec.yaml', import.meta.url), 'utf8');

const minimal = () => ({
  apiVersion: 'lorkd/v1',
  name: 'r',
  regions: [
    { name: 'brain', labels: ['a', 'b'], source: { kind: 'phantom' } },
    { name: 'thorax', labels: ['a', 'b', 'c'], source: { kind: 'npz', uri: 'file:///data/thorax.npz' } },
  ],
  training: { steps: 10 },
});

function issuesOf(mutate: (spec: Record<string, unknown>) => void): string[] {
  const spec = minimal() as Record<string, unknown>;
  mutate(spec);
  try {
    parseRunSpec(spec);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('spec was accepted');
}

describe('RunSpec', () => {
  it('parses the documented example and fills defaults', () => {
    const spec = parseRunSpecYaml(example);
    expect(spec.name).toBe('phantom-demo');
    expect(spec.regions.map((r) => r.name)).toEqual(['brain', 'thorax', 'abdomen', 'limbs']);
    expect(spec.regions[3]?.rank).toBe(2);
    expect(spec.training.optimizer).toMatchObject({ kind: 'adamw', lr: 0.003, beta1: 0.9 });
    expect(spec.cluster.budgets.crashes).toBe(5);
  });

  it('fills every default on a minimal spec', () => {
    const spec = parseRunSpec(minimal());
    expect(spec.task).toBe('classification');
    expect(spec.model).toMatchObject({ family: 'resnet', width: 16, expert: { rank: 4, alpha: 16 } });
    expect(spec.training).toMatchObject({ batchPerRegion: 8, seed: 0, kd: { beta: 1, temperature: 4 } });
    expect(spec.teacher).toMatchObject({ kind: 'train' });
    expect(spec.data.imageSize).toBe(64);
  });

  const bad: Array<[string, (s: Record<string, unknown>) => void, RegExp]> = [
    ['wrong apiVersion', (s) => (s.apiVersion = 'v2'), /^apiVersion: must be 'lorkd\/v1'/],
    ['upper-case name', (s) => (s.name = 'My Run'), /^name: must be 1-63 lower-case/],
    ['no regions', (s) => (s.regions = []), /^regions: a run needs at least one region/],
    [
      'one label',
      (s) => ((s.regions as Array<Record<string, unknown>>)[0]!.labels = ['x']),
      /^regions\[0\]\.labels: a region needs at least 2 labels/,
    ],
    [
      'duplicate labels',
      (s) => ((s.regions as Array<Record<string, unknown>>)[0]!.labels = ['x', 'x']),
      /^regions\[0\]\.labels: label names must be unique/,
    ],
    [
      'duplicate region',
      (s) => ((s.regions as Array<Record<string, unknown>>)[1]!.name = 'brain'),
      /^regions\[1\]\.name: duplicate region name 'brain'/,
    ],
    [
      'unknown source kind',
      (s) => ((s.regions as Array<Record<string, unknown>>)[0]!.source = { kind: 'dicom' }),
      /^regions\[0\]\.source\.kind: /,
    ],
    [
      'npz without uri',
      (s) => ((s.regions as Array<Record<string, unknown>>)[1]!.source = { kind: 'npz' }),
      /^regions\[1\]\.source\.uri: /,
    ],
    ['zero steps', (s) => (s.training = { steps: 0 }), /^training\.steps: /],
    ['missing training', (s) => delete s.training, /^training: /],
    [
      'negative lr',
      (s) => (s.training = { steps: 5, optimizer: { kind: 'adamw', lr: -1 } }),
      /^training\.optimizer\.lr: /,
    ],
    [
      'unknown optimizer',
      (s) => (s.training = { steps: 5, optimizer: { kind: 'lion' } }),
      /^training\.optimizer\.kind: /,
    ],
    ['bad image size', (s) => (s.data = { imageSize: 32 }), /^data\.imageSize: /],
    ['bad storage url', (s) => (s.storage = { url: 'http://x/y' }), /^storage\.url: must be s3:\/\/BUCKET/],
    ['typo in a field', (s) => (s.trainng = {}), /unrecognized key.*trainng/i],
    [
      'warmup longer than run',
      (s) => (s.training = { steps: 5, schedule: { warmupSteps: 50 } }),
      /^training\.schedule\.warmupSteps: warmup \(50\) is longer/,
    ],
    [
      'unet for classification',
      (s) => (s.model = { family: 'unet' }),
      /^model\.family: classification needs family 'resnet'/,
    ],
    ['zero workers', (s) => (s.cluster = { workers: 0 }), /^cluster\.workers: /],
    ['fractional rank', (s) => (s.model = { expert: { rank: 2.5 } }), /^model\.expert\.rank: /],
  ];

  it.each(bad)('rejects %s with a message naming the field', (_, mutate, expected) => {
    const issues = issuesOf(mutate);
    expect(
      issues.some((line) => expected.test(line)),
      issues.join('\n'),
    ).toBe(true);
  });

  it('reports every problem at once, not just the first', () => {
    const issues = issuesOf((s) => {
      s.name = '';
      s.training = { steps: -1 };
    });
    expect(issues.length).toBeGreaterThanOrEqual(2);
  });

  it('explains YAML syntax errors with a line number', () => {
    expect(() => parseRunSpecYaml('name: [unclosed\nregions: 1', 'spec.yaml')).toThrow(
      /invalid spec\.yaml:\n.*not valid YAML at line/,
    );
    expect(() => parseRunSpecYaml('- a\n- b')).toThrow(/must be a YAML mapping/);
  });
});
