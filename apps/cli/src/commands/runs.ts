import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseRunSpecYaml, type RunRecord, type RunSpec, TERMINAL_PHASES, ValidationError } from '@lorkd/contracts';
import type { ApiClient } from '../api-client.js';
import { configOptions } from '../config.js';
import { EXIT, UsageError } from '../errors.js';
import { followRun } from '../follow.js';
import { phaseLine, table } from '../format.js';
import { type CliIo, out } from '../io.js';
import { printReport } from '../report-table.js';
import { RunView } from '../run-view.js';
import { type Command, connect, flag, stringOpt } from './command.js';

const API = configOptions('api-url', 'token');

/** Reads and validates a spec file; relative npz paths become file:// URLs next to the spec. */
export async function loadSpec(path: string, cwd: string): Promise<RunSpec> {
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  let spec: RunSpec;
  try {
    spec = parseRunSpecYaml(text, path);
  } catch (e) {
    if (e instanceof ValidationError)
      throw new UsageError([`invalid ${path}:`, ...e.issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`)]);
    throw e;
  }
  return {
    ...spec,
    regions: spec.regions.map((r) =>
      r.source.kind === 'npz' && !/^[a-z0-9]+:\/\//.test(r.source.uri)
        ? {
            ...r,
            source: {
              ...r.source,
              uri: pathToFileURL(isAbsolute(r.source.uri) ? r.source.uri : resolve(dirname(file), r.source.uri)).href,
            },
          }
        : r,
    ),
  };
}

/** Follows to the end and prints the report table when done; exit code 0 done, 1 failed/cancelled. */
export async function followToEnd(client: ApiClient, id: string, io: CliIo, json: boolean): Promise<number> {
  const view = await followRun(client, id, io, { json });
  if (io.signal.aborted && !view.terminal) return EXIT.failed;
  if (view.state.phase === 'done' && !json) await printReport(client, id, io, false);
  if (!json) out(io, `run ${id}: ${phaseLine(view.state)}`);
  return view.state.phase === 'done' ? EXIT.ok : EXIT.failed;
}

export const runCommand: Command = {
  def: {
    name: 'run',
    summary: 'Submit a decomposition run from a spec file.',
    usage: 'lorkd run SPEC.yaml [--follow] [--dry-run] [--json]',
    positionals: [{ name: 'SPEC.yaml', required: true }],
    options: {
      follow: { type: 'boolean', short: 'f', description: 'show live progress until the run ends' },
      'dry-run': { type: 'boolean', description: 'validate the spec and print the plan; submit nothing' },
      ...API,
    },
    examples: ['lorkd run docs/examples/demo-spec.yaml --follow', 'lorkd run spec.yaml --dry-run'],
  },
  async run(args, io) {
    const spec = await loadSpec(args.positionals[0] as string, io.cwd);
    const json = flag(args, 'json');
    if (flag(args, 'dry-run')) {
      if (json) out(io, JSON.stringify(spec, null, 2));
      else {
        out(
          io,
          `spec ${spec.name} is valid: ${spec.regions.length} regions, ${spec.training.steps} steps, ${spec.cluster.workers} workers`,
        );
        out(
          io,
          table(
            ['region', 'labels', 'source', 'rank'],
            spec.regions.map((r) => [
              r.name,
              String(r.labels.length),
              r.source.kind === 'npz' ? r.source.uri : 'phantom',
              String(r.rank ?? spec.model.expert.rank),
            ]),
            [false, true, false, true],
          ),
        );
      }
      return EXIT.ok;
    }
    const client = await connect(io, args);
    const record = await client.createRun(spec);
    if (json && !flag(args, 'follow')) out(io, JSON.stringify(record, null, 2));
    else if (!json)
      out(io, `run ${record.id} submitted (${record.name}); follow it with: lorkd status ${record.id} --follow`);
    if (!flag(args, 'follow')) return EXIT.ok;
    return await followToEnd(client, record.id, io, json);
  },
};

function runRow(r: RunRecord): string[] {
  const regions = Object.values(r.progress);
  const done = regions.reduce((a, p) => a + p.step, 0);
  const total = regions.reduce((a, p) => a + p.totalSteps, 0);
  return [
    r.id,
    r.name,
    r.state.phase,
    total > 0 ? `${Math.round((100 * done) / total)}%` : '–',
    String(r.generation),
    String(r.restarts.length),
    r.createdAt.replace('T', ' ').slice(0, 19),
  ];
}

export const statusCommand: Command = {
  def: {
    name: 'status',
    summary: 'List runs, or show one run (live with --follow: a progress bar per region).',
    usage: 'lorkd status [RUN] [--follow] [--json]',
    positionals: [{ name: 'RUN', required: false }],
    options: { follow: { type: 'boolean', short: 'f', description: 'keep updating until the run ends' }, ...API },
    examples: ['lorkd status', 'lorkd status phantom-demo-0001 --follow', 'lorkd status RUN --json | jq .state'],
  },
  async run(args, io) {
    const client = await connect(io, args);
    const id = args.positionals[0];
    const json = flag(args, 'json');
    if (id === undefined) {
      if (flag(args, 'follow')) throw new UsageError('--follow needs a RUN');
      const runs = await client.listRuns();
      if (json) out(io, JSON.stringify(runs, null, 2));
      else if (runs.length === 0) out(io, 'no runs yet (lorkd run SPEC.yaml)');
      else
        out(
          io,
          table(['run', 'name', 'state', 'progress', 'generation', 'restarts', 'created'], runs.map(runRow), [
            false,
            false,
            false,
            true,
            true,
            true,
            false,
          ]),
        );
      return EXIT.ok;
    }
    if (flag(args, 'follow')) {
      const view = await followRun(client, id, io, { json });
      if (!json) out(io, `run ${id}: ${phaseLine(view.state)}`);
      return view.state.phase === 'failed' || view.state.phase === 'cancelled' ? EXIT.failed : EXIT.ok;
    }
    const record = await client.getRun(id);
    if (json) out(io, JSON.stringify(record, null, 2));
    else out(io, new RunView(record).render(io.stdout.columns ?? 100).join('\n'));
    return record.state.phase === 'failed' ? EXIT.failed : EXIT.ok;
  },
};

export const resumeCommand: Command = {
  def: {
    name: 'resume',
    summary: 'Resume a failed or cancelled run from its last committed checkpoint.',
    usage: 'lorkd resume RUN [--follow] [--json]',
    positionals: [{ name: 'RUN', required: true }],
    options: { follow: { type: 'boolean', short: 'f', description: 'show live progress until the run ends' }, ...API },
    examples: ['lorkd resume phantom-demo-0001 --follow'],
  },
  async run(args, io) {
    const client = await connect(io, args);
    const id = args.positionals[0] as string;
    const record = await client.resumeRun(id);
    const json = flag(args, 'json');
    if (json && !flag(args, 'follow')) out(io, JSON.stringify(record, null, 2));
    else if (!json) out(io, `run ${id}: ${phaseLine(record.state)}`);
    return flag(args, 'follow') ? await followToEnd(client, id, io, json) : EXIT.ok;
  },
};

export const cancelCommand: Command = {
  def: {
    name: 'cancel',
    summary: 'Cancel a run (its checkpoints stay; `lorkd resume` continues it).',
    usage: 'lorkd cancel RUN [--reason TEXT] [--json]',
    positionals: [{ name: 'RUN', required: true }],
    options: { reason: { type: 'string', value: 'TEXT', description: 'why (kept in the run record)' }, ...API },
    examples: ['lorkd cancel phantom-demo-0001 --reason "wrong learning rate"'],
  },
  async run(args, io) {
    const client = await connect(io, args);
    const id = args.positionals[0] as string;
    const before = await client.getRun(id);
    if (TERMINAL_PHASES.includes(before.state.phase)) {
      out(io, `run ${id} already ended: ${phaseLine(before.state)}`);
      return EXIT.failed;
    }
    const record = await client.cancelRun(id, stringOpt(args, 'reason'));
    out(io, flag(args, 'json') ? JSON.stringify(record, null, 2) : `run ${id}: ${phaseLine(record.state)}`);
    return EXIT.ok;
  },
};

export const queuesCommand: Command = {
  def: {
    name: 'queues',
    summary: 'Show the BullMQ queues: waiting, active, delayed, completed and failed jobs.',
    usage: 'lorkd queues [--json]',
    positionals: [],
    options: API,
    examples: ['lorkd queues', 'lorkd queues --json'],
  },
  async run(args, io) {
    const client = await connect(io, args);
    const queues = await client.queues();
    if (flag(args, 'json')) out(io, JSON.stringify(queues, null, 2));
    else
      out(
        io,
        table(
          ['queue', 'waiting', 'active', 'delayed', 'completed', 'failed', 'paused'],
          queues.map((q) => [
            q.name,
            String(q.waiting),
            String(q.active),
            String(q.delayed),
            String(q.completed),
            String(q.failed),
            q.paused ? 'yes' : 'no',
          ]),
          [false, true, true, true, true, true, false],
        ),
      );
    return EXIT.ok;
  },
};
