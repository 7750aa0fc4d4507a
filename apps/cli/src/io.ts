/** Everything a verb touches of its process, so verbs run in tests without a real terminal. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Aborted on SIGINT/SIGTERM: long-running verbs stop cleanly. */
  readonly signal: AbortSignal;
  readonly cwd: string;
  /** How to start another `lorkd` process (node + flags + script), for `demo`/`up` children. */
  readonly self: { readonly command: string; readonly args: readonly string[] };
}

export function out(io: CliIo, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function err(io: CliIo, text: string): void {
  io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}
