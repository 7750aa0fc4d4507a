import { LorkdError, ValidationError } from '@lorkd/contracts';
import { helpText, parseArgs } from './args.js';
import { benchCommand } from './commands/bench.js';
import type { Command } from './commands/command.js';
import { dataCommand } from './commands/data.js';
import { demoCommand } from './commands/demo.js';
import { exportCommand } from './commands/export.js';
import { cancelCommand, queuesCommand, resumeCommand, runCommand, statusCommand } from './commands/runs.js';
import { coordinatorCommand, workerCommand } from './commands/serve.js';
import { upCommand } from './commands/up.js';
import { EXIT, UsageError } from './errors.js';
import { type CliIo, err, out } from './io.js';

export const COMMANDS: readonly Command[] = [
  demoCommand,
  upCommand,
  coordinatorCommand,
  workerCommand,
  runCommand,
  statusCommand,
  resumeCommand,
  cancelCommand,
  queuesCommand,
  exportCommand,
  benchCommand,
  dataCommand,
];

/** Verbs that hand the process over to an app (they install their own signal handling). */
export const SERVE_VERBS: readonly string[] = ['coordinator', 'worker'];

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.def.name.length));
  const rows = COMMANDS.map(
    (c) => `  ${c.def.name.padEnd(width)}  ${c.def.summary.split('. ')[0]?.replace(/\.$/, '')}`,
  );
  return `lorkd: distributed LoRKD (low-rank knowledge decomposition of a foundation model into per-region experts)

Usage: lorkd <command> [options]        lorkd <command> --help

Commands:
${rows.join('\n')}

Configuration comes from the environment (LORKD_REDIS_URL, LORKD_STORAGE_URL, LORKD_API_URL,
LORKD_API_TOKEN, AWS_* for S3, …); flags override it. Exit codes: 0 ok, 1 failed, 2 usage.
Start here: lorkd demo
`;
}

/** Runs one `lorkd` command line; returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    (verb === undefined ? err : out)(io, mainHelp());
    return verb === undefined ? EXIT.usage : EXIT.ok;
  }
  if (verb === '--version' || verb === 'version') {
    out(io, '0.1.0');
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.def.name === verb);
  if (!command) {
    err(io, `lorkd: unknown command '${verb}'. Commands: ${COMMANDS.map((c) => c.def.name).join(', ')} (lorkd --help)`);
    return EXIT.usage;
  }
  try {
    const args = parseArgs(command.def, rest);
    if (args.options.help) {
      out(io, helpText(command.def));
      return EXIT.ok;
    }
    return await command.run(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      for (const line of e.lines) err(io, `lorkd ${verb}: ${line}`);
      err(io, `usage: ${command.def.usage}  (lorkd ${verb} --help)`);
      return EXIT.usage;
    }
    if (e instanceof ValidationError) {
      err(io, `lorkd ${verb}: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof LorkdError) {
      err(io, `lorkd ${verb}: ${e.message}`);
      return EXIT.failed;
    }
    const message = e instanceof Error ? e.message : String(e);
    err(io, `lorkd ${verb}: ${message}`);
    if (io.env.LORKD_DEBUG === '1' && e instanceof Error && e.stack) err(io, e.stack);
    return EXIT.failed;
  }
}
