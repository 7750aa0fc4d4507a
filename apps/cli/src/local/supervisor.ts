import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | NodeJS.Signals>;
  readonly running: boolean;
}

export interface SupervisorOptions {
  /** How to start `lorkd`: node + its flags + the CLI entry. */
  readonly self: { readonly command: string; readonly args: readonly string[] };
  readonly logDir: string;
  /** Called when a process ends while the supervisor is not stopping. */
  readonly onUnexpectedExit?: (proc: ManagedProcess, code: number | NodeJS.Signals) => void;
}

interface Entry extends ManagedProcess {
  readonly child: ChildProcess;
}

/**
 * Starts `lorkd coordinator` / `lorkd worker` children, each in its own process group writing its
 * output straight to `logDir/NAME.log` (no pipe through this process, so their last lines are kept if
 * it dies), and stops them all (SIGTERM, then SIGKILL after a grace period). Children get
 * LORKD_SUPERVISOR_PID so they exit on their own if the supervisor dies.
 */
export class Supervisor {
  readonly #entries: Entry[] = [];
  #stopping = false;

  constructor(private readonly options: SupervisorOptions) {}

  get processes(): readonly ManagedProcess[] {
    return this.#entries;
  }

  start(name: string, verbArgs: readonly string[], env: Record<string, string | undefined>): ManagedProcess {
    const logFile = join(this.options.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.options.self.command, [...this.options.self.args, ...verbArgs], {
        stdio: ['ignore', fd, fd],
        detached: true,
        env: { ...env, LORKD_SUPERVISOR_PID: String(process.pid), LORKD_LOG_FORMAT: env.LORKD_LOG_FORMAT ?? 'json' },
      });
    } finally {
      closeSync(fd); // the child has its own copy
    }
    let running = true;
    const exited = new Promise<number | NodeJS.Signals>((resolve) => {
      child.once('error', (err) => {
        appendFileSync(logFile, `supervisor: cannot start: ${err.message}\n`);
      });
      child.once('close', (code, signal) => {
        running = false;
        resolve(code ?? signal ?? 1);
      });
    });
    const entry: Entry = {
      name,
      get pid() {
        return child.pid ?? -1;
      },
      logFile,
      exited,
      get running() {
        return running;
      },
      child,
    };
    this.#entries.push(entry);
    exited
      .then((code) => {
        if (!this.#stopping) this.options.onUnexpectedExit?.(entry, code);
      })
      .catch(() => {});
    return entry;
  }

  /** Stops the named processes (all by default) in order: SIGTERM, wait up to `graceMs`, SIGKILL. */
  async stop(names?: readonly string[], graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    const targets = this.#entries.filter((e) => e.running && (!names || names.includes(e.name)));
    for (const e of targets) signalGroup(e.child, 'SIGTERM');
    await Promise.all(
      targets.map(async (e) => {
        const timer = setTimeout(() => signalGroup(e.child, 'SIGKILL'), graceMs);
        await e.exited;
        clearTimeout(timer);
        // Anything left in its process group (threads are not processes; helpers might be) goes too.
        signalGroup(e.child, 'SIGKILL');
      }),
    );
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
