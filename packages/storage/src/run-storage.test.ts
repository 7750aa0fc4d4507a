import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parseRunSpec } from '@lorkd/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, makeTensors, startBackend } from '../test/helpers.js';
import { RunStorage } from './run-storage.js';

const spec = parseRunSpec({
  apiVersion: 'lorkd/v1',
  name: 'layout-demo',
  regions: [
    { name: 'brain', labels: ['normal', 'tumour'], source: { kind: 'phantom' } },
    { name: 'thorax', labels: ['normal', 'nodule'], source: { kind: 'phantom' } },
  ],
  training: { steps: 10 },
});

describe.each(['file', 's3'] as const)('RunStorage on %s', (kind) => {
  let backend: Backend;
  let runs: RunStorage;
  beforeAll(async () => {
    backend = await startBackend(kind);
    runs = await RunStorage.create({ store: await backend.open() });
  });
  afterAll(async () => {
    await runs?.store.close();
    await backend?.stop();
  });

  it('writes and reads specs, lists runs, writes reports, names expert URLs', async () => {
    expect(await runs.listRuns()).toEqual([]);
    expect(await runs.readSpec('run-a')).toBeUndefined();
    await runs.writeSpec('run-a', spec);
    await runs.writeSpec('run-b', spec);
    expect(await runs.readSpec('run-a')).toEqual(spec);
    expect(await runs.listRuns()).toEqual(['run-a', 'run-b']);
    // a run's teacher stage (runs/RUN.teacher/) is part of that run, not a run of its own
    const teacher = await runs.checkpoints('run-a.teacher');
    const tensors = makeTensors(1);
    await teacher.save({ step: 1, generation: 1, tensors, sampler: null, rng: null, specHash: 's', datasetHash: 'd' });
    const onlyTeacher = await runs.checkpoints('run-c.teacher');
    await onlyTeacher.save({
      step: 1,
      generation: 1,
      tensors,
      sampler: null,
      rng: null,
      specHash: 's',
      datasetHash: 'd',
    });
    expect(await runs.listRuns()).toEqual(['run-a', 'run-b', 'run-c']);
    const report = await runs.writeReport('run-a', { json: { accuracy: 0.9 }, html: '<h1>ok</h1>' });
    expect(report.htmlUrl).toBe(`${backend.url}/runs/run-a/report/index.html`);
    expect(runs.expertPath('run-a', 'brain')).toBe(`${backend.url}/runs/run-a/experts/brain`);
    expect(() => runs.expertPath('run-a', '../x')).toThrow(/invalid region name/);
    expect(() => runs.expertPath('../x', 'brain')).toThrow(/invalid run id/);
    await expect(runs.writeSpec('a/b', spec)).rejects.toThrow(/invalid run id/);
  });

  it.runIf(kind === 's3')('lays out DESIGN §5 as a plain S3 client (and awscli) sees it', async () => {
    const s3 = backend.s3;
    if (!s3) throw new Error('s3 backend');
    const ckpt = await runs.checkpoints('run-layout');
    await runs.writeSpec('run-layout', spec);
    await ckpt.save({
      step: 7,
      generation: 1,
      tensors: makeTensors(3),
      sampler: null,
      rng: null,
      specHash: 's',
      datasetHash: 'd',
    });
    const client = new S3Client(s3.clientConfig);
    try {
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'lorkd-test/runs/run-layout/' }),
      );
      const keys = (listed.Contents ?? []).map((o) => o.Key?.replace('lorkd-test/runs/run-layout/', ''));
      const manifest = await ckpt.load(7);
      expect(keys.sort()).toEqual(
        [
          'LATEST',
          'checkpoints/000000000007/manifest.json',
          'spec.json',
          ...manifest.manifest.tensors.map((t) => `blobs/sha256/${t.sha256}`),
        ].sort(),
      );
    } finally {
      client.destroy();
    }
    // Debian's awscli, when installed (apt-get install awscli), lists the same keys.
    const aws = '/usr/bin/aws';
    if (existsSync(aws)) {
      const { stdout } = await promisify(execFile)(
        aws,
        ['s3', 'ls', '--recursive', '--endpoint-url', s3.endpoint, `s3://${s3.bucket}/lorkd-test/runs/run-layout/`],
        { env: { ...s3.env, PATH: process.env.PATH ?? '', HOME: '/tmp' } },
      );
      expect(stdout).toMatch(/runs\/run-layout\/checkpoints\/000000000007\/manifest\.json/);
      expect(stdout).toMatch(/runs\/run-layout\/LATEST/);
    }
  });
});
