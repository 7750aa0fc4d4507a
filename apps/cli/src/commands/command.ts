import { ApiClient } from '../api-client.js';
import type { CommandDef, ParsedArgs } from '../args.js';
import { readLocalState, resolveConfig } from '../config.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

/** One `lorkd` verb. `run` returns the exit code. */
export interface Command {
  readonly def: CommandDef;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** The API client for verbs that talk to a coordinator: flags, then env, then a local `lorkd up`. */
export async function connect(io: CliIo, args: ParsedArgs): Promise<ApiClient> {
  const { config } = resolveConfig(io.env, args);
  const local = await readLocalState(io.cwd);
  const baseUrl = config.LORKD_API_URL ?? local?.apiUrl ?? `http://127.0.0.1:${config.LORKD_API_PORT}`;
  const token = config.LORKD_API_TOKEN ?? (config.LORKD_API_URL === undefined ? local?.token : undefined);
  if (!token) {
    throw new UsageError(
      'no API token: set LORKD_API_TOKEN (or pass --token), or start a local cluster with `lorkd up` in this directory',
    );
  }
  return new ApiClient({ baseUrl, token });
}

export function stringOpt(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

export function intOpt(args: ParsedArgs, name: string): number | undefined {
  const v = args.options[name];
  return typeof v === 'number' ? v : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}
