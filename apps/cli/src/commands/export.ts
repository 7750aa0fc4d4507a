import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { configOptions, readLocalState, resolveConfig, s3OptionsFromEnv } from '../config.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { out } from '../io.js';
import { type Command, connect, flag, stringOpt } from './command.js';

/** The store root and run prefix of a run record's storage URL (`…/runs/RUN` or the root itself). */
export function splitRunUrl(storageUrl: string, runId: string): { root: string; prefix: string } {
  const suffix = `/runs/${runId}`;
  const trimmed = storageUrl.replace(/\/+$/, '');
  return trimmed.endsWith(suffix)
    ? { root: trimmed.slice(0, -suffix.length), prefix: `runs/${runId}/` }
    : { root: trimmed, prefix: `runs/${runId}/` };
}

export const exportCommand: Command = {
  def: {
    name: 'export',
    summary: "Copy a run's exported experts (tfjs LayersModels) and its report to a local directory.",
    usage: 'lorkd export RUN --out DIR [--json]',
    positionals: [{ name: 'RUN', required: true }],
    options: {
      out: { type: 'string', short: 'o', value: 'DIR', description: 'destination directory (created)' },
      ...configOptions('api-url', 'token', 'storage-url'),
    },
    examples: [
      'lorkd export phantom-demo-0001 --out ./experts',
      'node -e "tf.loadLayersModel(\'file://./experts/experts/brain/model.json\')"',
    ],
  },
  async run(args, io) {
    const dest = stringOpt(args, 'out');
    if (!dest) throw new UsageError('--out DIR is required');
    const id = args.positionals[0] as string;
    const { config, env } = resolveConfig(io.env, args);
    // A `lorkd up` of this directory with its embedded store: use that store's settings.
    const local = config.LORKD_API_URL === undefined ? await readLocalState(io.cwd) : undefined;
    const storeEnv = env.AWS_ENDPOINT_URL_S3 === undefined && local?.storageEnv ? { ...env, ...local.storageEnv } : env;
    const client = await connect(io, args);
    const record = await client.getRun(id);
    const { root, prefix } = splitRunUrl(
      config.LORKD_STORAGE_URL && !record.storageUrl ? config.LORKD_STORAGE_URL : record.storageUrl,
      id,
    );
    const { createObjectStore } = await import('@lorkd/storage');
    const store = await createObjectStore(root, { s3: s3OptionsFromEnv(storeEnv) });
    const files: { key: string; bytes: number }[] = [];
    try {
      for (const part of ['experts/', 'report/']) {
        for (const info of await store.list(`${prefix}${part}`)) {
          const got = await store.get(info.key);
          if (!got) continue;
          const target = join(resolve(io.cwd, dest), info.key.slice(prefix.length));
          await mkdir(dirname(target), { recursive: true });
          await writeFile(target, got.body);
          files.push({ key: info.key.slice(prefix.length), bytes: got.body.length });
        }
      }
    } finally {
      await store.close();
    }
    if (files.length === 0)
      throw new CliError(`run ${id} has no exported experts or report in ${root} yet (state: ${record.state.phase})`);
    if (flag(args, 'json')) out(io, JSON.stringify({ runId: id, out: resolve(io.cwd, dest), files }, null, 2));
    else {
      const experts = new Set(files.filter((f) => f.key.startsWith('experts/')).map((f) => f.key.split('/')[1]));
      out(
        io,
        `exported ${files.length} files of run ${id} to ${resolve(io.cwd, dest)}: ${experts.size} experts (${[...experts].join(', ')}) and the report`,
      );
    }
    return EXIT.ok;
  },
};
