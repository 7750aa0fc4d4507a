// The `lorkd` process entry: the only place that reads process.env/argv and installs signal handlers.
import { fileURLToPath } from 'node:url';
import { runCli, SERVE_VERBS } from './cli.js';
import { supervisorPid, watchParent } from './parent-watch.js';

// The AWS SDK warns on every start that its 2027 releases will need Node 22: noise on a terminal.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : `${warning.name}: ${warning.message}`;
  if (text.startsWith('NodeVersionSupportWarning')) return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const argv = process.argv.slice(2);
const controller = new AbortController();
const verb = argv[0] ?? '';
process.title = `lorkd ${verb}`.trim();

if (!SERVE_VERBS.includes(verb)) {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    // The first Ctrl-C stops cleanly (children included); a third one in a row forces the exit.
    if (signals >= 3) process.exit(signal === 'SIGINT' ? 130 : 143);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
}
// Started by `lorkd demo`/`lorkd up` (or by bin/lorkd.js running the sources): when that process is
// gone, however it ended, stop as on SIGTERM (a server verb checkpoints, demo/up stop their children),
// and leave for sure after a grace period, so nothing is left running.
const supervisor = supervisorPid(process.env);
delete process.env.LORKD_SUPERVISOR_PID;
if (supervisor !== undefined)
  watchParent(supervisor, () => {
    setTimeout(() => process.exit(1), SERVE_VERBS.includes(verb) ? 5000 : 30_000).unref();
    process.kill(process.pid, 'SIGTERM');
  });
// A closed pipe (`lorkd status | head`, or a parent that went away) stops the verb like Ctrl-C, so
// `demo`/`up` still stop what they started; later writes to that pipe are dropped.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') controller.abort();
  });
}

const self = {
  command: process.execPath,
  args: [...process.execArgv, fileURLToPath(import.meta.url)],
};

const code = await runCli(argv, {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
  cwd: process.cwd(),
  self,
});
if (!SERVE_VERBS.includes(verb)) {
  process.exitCode = code;
  // Leave once output is flushed, even if a library left a handle open.
  process.stdout.write('', () => process.exit(code));
}
