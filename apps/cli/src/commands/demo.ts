import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseRunSpec, type RunSpec } from '@lorkd/contracts';
import type { AnatomyDef } from '@lorkd/data';
import { ApiClient } from '../api-client.js';
import { configOptions, resolveConfig, s3OptionsFromEnv } from '../config.js';
import { CliError, EXIT } from '../errors.js';
import { followRun } from '../follow.js';
import { phaseLine } from '../format.js';
import { err, out } from '../io.js';
import { type ReportRow, renderReportTable, reportRows } from '../report-table.js';
import { type Command, flag, intOpt, stringOpt } from './command.js';
import { splitRunUrl } from './export.js';
import { localCluster } from './up.js';

export interface DemoSettings {
  readonly regions: number;
  readonly workers: number;
  readonly steps: number;
}

/**
 * Regions in the order the demo takes them: the ones a small model learns fastest from a few thousand
 * samples first (measured with scripts/data/calibrate.ts, see docs/data.md), abdomen (texture under
 * speckle) last.
 */
export const DEMO_REGION_ORDER = ['limbs', 'pelvis', 'thorax', 'spine', 'brain', 'head-neck', 'abdomen'] as const;

function demoAnatomies<A extends { name: string }>(anatomies: readonly A[], n: number): A[] {
  const rank = (a: A) => {
    const i = (DEMO_REGION_ORDER as readonly string[]).indexOf(a.name);
    return i < 0 ? DEMO_REGION_ORDER.length : i;
  };
  return [...anatomies].sort((a, b) => rank(a) - rank(b)).slice(0, n);
}

/** The demo's run: phantom regions, a small ResNet student, a wider teacher, sized to finish in minutes on 2 cores. */
export function demoSpec(s: DemoSettings, anatomies: readonly Pick<AnatomyDef, 'name' | 'classes'>[]): RunSpec {
  const small = s.steps < 50;
  return parseRunSpec({
    apiVersion: 'lorkd/v1',
    name: 'phantom-demo',
    task: 'classification',
    regions: demoAnatomies(anatomies, s.regions).map((a) => ({
      name: a.name,
      labels: [...a.classes],
      source: { kind: 'phantom' },
    })),
    data: {
      imageSize: 28,
      phantom: {
        seed: 7,
        trainPerRegion: small ? 64 : 1000,
        valPerRegion: small ? 16 : 100,
        testPerRegion: small ? 32 : 200,
        conflict: 0.5,
      },
    },
    model: {
      family: 'resnet',
      width: small ? 8 : 16,
      depth: small ? 2 : 4,
      groupNormGroups: 4,
      expert: { rank: 4, alpha: 16 },
    },
    teacher: { kind: 'train', width: small ? 8 : 32, depth: small ? 2 : 4, steps: s.steps },
    training: {
      steps: s.steps,
      batchPerRegion: small ? 8 : 16,
      optimizer: { kind: 'adamw', lr: 0.003, weightDecay: 0.0001 },
      schedule: { kind: 'cosine', warmupSteps: Math.min(10, Math.floor(s.steps / 10)), minLrRatio: 0.05 },
      kd: { beta: 1, temperature: 4 },
      gradClipNorm: 5,
      seed: 1,
    },
    cluster: { workers: s.workers, checkpointEvery: Math.max(1, Math.floor(s.steps / 4)), keepCheckpoints: 3 },
  });
}

async function exportArtifacts(
  storageUrl: string,
  runId: string,
  dest: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ files: number; report?: unknown }> {
  const { createObjectStore } = await import('@lorkd/storage');
  const { root, prefix } = splitRunUrl(storageUrl, runId);
  const store = await createObjectStore(root, { s3: s3OptionsFromEnv(env) });
  let files = 0;
  let report: unknown;
  try {
    for (const part of ['experts/', 'report/']) {
      for (const info of await store.list(`${prefix}${part}`)) {
        const got = await store.get(info.key);
        if (!got) continue;
        const rel = info.key.slice(prefix.length);
        const target = join(dest, rel);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, got.body);
        files += 1;
        if (rel === 'report/report.json') report = JSON.parse(new TextDecoder().decode(got.body));
      }
    }
  } finally {
    await store.close();
  }
  return { files, report };
}

export const demoCommand: Command = {
  def: {
    name: 'demo',
    summary:
      'Run a small LoRKD decomposition end to end on this machine: embedded Redis and S3 store, a coordinator and workers as child processes, phantom data, teacher, experts, report.',
    usage: 'lorkd demo [--regions N] [--workers N] [--steps N] [--out DIR] [--json]',
    positionals: [],
    options: {
      regions: {
        type: 'integer',
        short: 'r',
        value: 'N',
        min: 1,
        max: 7,
        description: 'phantom regions (default 4)',
      },
      workers: {
        type: 'integer',
        short: 'w',
        value: 'N',
        min: 1,
        max: 16,
        description: 'worker processes (default 2)',
      },
      steps: {
        type: 'integer',
        short: 's',
        value: 'N',
        min: 1,
        max: 100_000,
        description: 'teacher and decomposition steps (default 200)',
      },
      out: {
        type: 'string',
        short: 'o',
        value: 'DIR',
        description: 'where experts, report and logs go (default .lorkd/demo)',
      },
      ...configOptions('redis-url', 'storage-url', 'backend'),
    },
    examples: ['lorkd demo', 'lorkd demo --regions 3 --steps 50 --out /tmp/demo', 'lorkd demo --json > demo.json'],
  },
  async run(args, io) {
    const settings: DemoSettings = {
      regions: intOpt(args, 'regions') ?? 4,
      workers: intOpt(args, 'workers') ?? 2,
      steps: intOpt(args, 'steps') ?? 200,
    };
    const json = flag(args, 'json');
    const outDir = resolve(io.cwd, stringOpt(args, 'out') ?? join('.lorkd', 'demo'));
    const started = Date.now();
    const { ANATOMIES } = await import('@lorkd/data');
    const spec = demoSpec(settings, ANATOMIES);
    await mkdir(outDir, { recursive: true });
    const { cluster, dispose } = await localCluster(io, {
      workers: settings.workers,
      dir: join(outDir, 'cluster'),
      args,
    });
    let code: number = EXIT.failed;
    try {
      const client = new ApiClient({ baseUrl: cluster.apiUrl, token: cluster.token });
      const record = await client.createRun(spec);
      // A token the user configured is theirs to know; only a generated one is shown (in the URL fragment).
      const login = resolveConfig(io.env, args).config.LORKD_API_TOKEN ? '' : `#token=${cluster.token}`;
      err(
        io,
        `lorkd: run ${record.id}: ${settings.regions} regions, ${settings.workers} workers, ${settings.steps} steps; dashboard ${cluster.apiUrl}/runs/${record.id}${login}`,
      );
      const view = await followRun(client, record.id, io, { stream: io.stderr });
      if (io.signal.aborted) {
        err(io, 'lorkd: interrupted; stopping everything the demo started …');
        return 130;
      }
      if (view.state.phase !== 'done')
        throw new CliError(`the demo run ended ${phaseLine(view.state)}; logs in ${cluster.logDir}`);
      const exported = await exportArtifacts(record.storageUrl, record.id, outDir, cluster.env);
      let report = exported.report;
      if (report === undefined) {
        const body = await client.reportFile(record.id, 'report.json');
        report = body ? (JSON.parse(new TextDecoder().decode(body)) as unknown) : undefined;
      }
      const rows: ReportRow[] = reportRows(report);
      const result = {
        runId: record.id,
        seconds: Math.round((Date.now() - started) / 1000),
        regions: rows,
        report: {
          json: join(outDir, 'report', 'report.json'),
          html: join(outDir, 'report', 'index.html'),
          storage: view.state.reportUrl,
        },
        experts: join(outDir, 'experts'),
        logs: cluster.logDir,
      };
      if (json) out(io, JSON.stringify(result, null, 2));
      else {
        out(io, renderReportTable(rows));
        out(
          io,
          `\nreport: ${result.report.html}\nexperts (tfjs LayersModels): ${result.experts}\nlogs: ${result.logs}\ndone in ${result.seconds}s`,
        );
      }
      code = EXIT.ok;
    } finally {
      await dispose();
    }
    return code;
  },
};
