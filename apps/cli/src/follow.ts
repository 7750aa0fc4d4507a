import { type RunEvent, TERMINAL_PHASES } from '@lorkd/contracts';
import type { ApiClient } from './api-client.js';
import type { CliIo } from './io.js';
import { eventLine, RunView } from './run-view.js';

export interface FollowOptions {
  readonly json?: boolean;
  /** Redraw in place (default: when stdout is a TTY and TERM is not `dumb`). */
  readonly tty?: boolean;
  /** Where the live view goes; default stdout. */
  readonly stream?: CliIo['stdout'];
}

/** Redraws a block of lines in place on a terminal (cursor up + clear line), hiding the cursor meanwhile. */
export class TtyBlock {
  #height = 0;
  #started = false;

  constructor(private readonly stream: CliIo['stdout']) {}

  draw(lines: readonly string[]): void {
    let text = this.#started ? '' : '\x1b[?25l';
    this.#started = true;
    if (this.#height > 0) text += `\x1b[${this.#height}F`;
    for (const line of lines) text += `\x1b[2K${line}\n`;
    text += '\x1b[J';
    this.#height = lines.length;
    this.stream.write(text);
  }

  end(): void {
    if (this.#started) this.stream.write('\x1b[?25h');
    this.#started = false;
  }
}

/**
 * Follows a run's events until it ends (or `io.signal` aborts): a live block of progress bars on a
 * terminal, one line per event otherwise (progress at most every 2 s or 10 % per region), NDJSON with `json`.
 */
export async function followRun(
  client: ApiClient,
  runId: string,
  io: CliIo,
  options: FollowOptions = {},
): Promise<RunView> {
  const stream = options.stream ?? io.stdout;
  const view = new RunView(await client.getRun(runId));
  const tty = options.tty ?? (stream.isTTY === true && io.env.TERM !== 'dumb');
  const block = tty && !options.json ? new TtyBlock(stream) : undefined;
  const lastPrinted = new Map<string, { at: number; step: number }>();
  let lastDraw = 0;
  let pending: NodeJS.Timeout | undefined;
  const width = () => (stream.columns && stream.columns > 0 ? stream.columns : 100);
  const redraw = () => {
    pending = undefined;
    lastDraw = Date.now();
    block?.draw(view.render(width()));
  };

  const linesFor = (event: RunEvent): string[] => {
    if (event.type !== 'progress') return eventLine(event);
    const now = Date.now();
    const due = event.progress.filter((p) => {
      const key = event.phase === 'teacher' ? 'teacher' : p.region;
      const last = lastPrinted.get(key);
      const ok =
        !last ||
        now - last.at >= 2000 ||
        p.step - last.step >= p.totalSteps / 10 ||
        (p.step === p.totalSteps && last.step !== p.step);
      if (ok) lastPrinted.set(key, { at: now, step: p.step });
      return ok;
    });
    return due.length === 0 ? [] : eventLine({ ...event, progress: due });
  };

  const controller = new AbortController();
  const onAbort = () => controller.abort();
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    block?.draw(view.render(width()));
    for await (const { id, event } of client.events(runId, controller.signal)) {
      view.apply(event);
      if (options.json) stream.write(`${JSON.stringify({ id, event })}\n`);
      else if (block) {
        if (Date.now() - lastDraw >= 100) redraw();
        else pending ??= setTimeout(redraw, 100);
      } else for (const line of linesFor(event)) stream.write(`${line}\n`);
      // A terminal state in the replayed history may have been resumed since: stop only if it is current.
      if (event.type === 'state' && view.terminal) {
        const now = await client.getRun(runId);
        if (TERMINAL_PHASES.includes(now.state.phase)) break;
      }
    }
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    controller.abort();
    if (pending) clearTimeout(pending);
    if (block) {
      block.draw(view.render(width()));
      block.end();
    }
  }
  return view;
}
