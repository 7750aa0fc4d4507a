import { type Logger, parseRunSpec, parseStageRunId, type RunSpec, silentLogger } from '@lorkd/contracts';
import { CheckpointStore, checkRunId } from './checkpoint-store.js';
import { StorageError } from './errors.js';
import type { ObjectStore } from './object-store.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const REGION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface ReportFiles {
  /** Written as report/report.json. */
  readonly json: unknown;
  /** Written as report/index.html. */
  readonly html: string;
}

/**
 * The run-level layout of DESIGN §5 under a store's root:
 * `runs/RUN/spec.json`, `runs/RUN/{blobs,checkpoints,LATEST}`, `runs/RUN/experts/REGION/{model.json,weights.bin}`,
 * `runs/RUN/report/{report.json,index.html}`.
 */
export class RunStorage {
  private constructor(
    readonly store: ObjectStore,
    private readonly logger: Logger,
  ) {}

  static async create(options: { store: ObjectStore; logger?: Logger }): Promise<RunStorage> {
    return new RunStorage(options.store, options.logger ?? silentLogger);
  }

  checkpoints(runId: string): Promise<CheckpointStore> {
    return CheckpointStore.create({ store: this.store, runId, logger: this.logger });
  }

  async writeSpec(runId: string, spec: RunSpec): Promise<void> {
    const body = encoder.encode(`${JSON.stringify(spec, null, 2)}\n`);
    await this.store.put(`runs/${checkRunId(runId)}/spec.json`, body, { contentType: 'application/json' });
  }

  /** The run's spec, validated; undefined when the run has none. */
  async readSpec(runId: string): Promise<RunSpec | undefined> {
    const got = await this.store.get(`runs/${checkRunId(runId)}/spec.json`);
    if (!got) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(got.body));
    } catch (error) {
      throw new StorageError(`runs/${runId}/spec.json in ${this.store.url} is not JSON`, {
        fields: { runId },
        cause: error,
      });
    }
    return parseRunSpec(json);
  }

  /**
   * Run ids that have anything stored, sorted. A run's stage directories (`RUN.teacher`) belong to
   * that run and are not runs of their own: they are listed as `RUN`.
   */
  async listRuns(): Promise<string[]> {
    const dirs = await this.store.listDirs('runs/');
    return [...new Set(dirs.map((d) => parseStageRunId(d).runId))].sort();
  }

  async writeReport(runId: string, report: ReportFiles): Promise<{ jsonUrl: string; htmlUrl: string }> {
    const base = `runs/${checkRunId(runId)}/report`;
    await this.store.put(`${base}/report.json`, encoder.encode(`${JSON.stringify(report.json, null, 2)}\n`), {
      contentType: 'application/json',
    });
    await this.store.put(`${base}/index.html`, encoder.encode(report.html), { contentType: 'text/html' });
    return { jsonUrl: `${this.store.url}/${base}/report.json`, htmlUrl: `${this.store.url}/${base}/index.html` };
  }

  /** The URL to `model.save()` / `tf.loadLayersModel()` an exported expert (model.json + weights.bin). */
  expertPath(runId: string, region: string): string {
    if (!REGION.test(region))
      throw new StorageError(`invalid region name ${JSON.stringify(region)}: letters, digits, _ . -`, {
        fields: { region },
      });
    return `${this.store.url}/runs/${checkRunId(runId)}/experts/${region}`;
  }
}
