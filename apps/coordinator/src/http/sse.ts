import type { IncomingMessage, ServerResponse } from 'node:http';
import { type RunEvent, TERMINAL_PHASES } from '@lorkd/contracts';

export interface StreamOptions {
  /** End the stream after the run's terminal state event. */
  until?: boolean;
  /** Comment line interval that keeps proxies from closing an idle stream; default 15 s. */
  heartbeatMs?: number;
}

/** Writes one event in the Server-Sent Events format (`id`, `event` = the event's type, `data` = JSON). */
export function formatSse(id: string, event: RunEvent): string {
  return `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Streams a run's events to a client until it disconnects, the run ends (with `until`), or the server closes. */
export async function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  events: AsyncIterable<{ id: string; event: RunEvent }>,
  controller: AbortController,
  options: StreamOptions = {},
): Promise<void> {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write(': lorkd event stream\n\n');
  const onClose = () => controller.abort();
  req.once('close', onClose);
  res.once('close', onClose);
  const heartbeat = setInterval(() => res.write(': ping\n\n'), options.heartbeatMs ?? 15_000);
  try {
    for await (const { id, event } of events) {
      if (controller.signal.aborted) break;
      res.write(formatSse(id, event));
      if (options.until && event.type === 'state' && TERMINAL_PHASES.includes(event.state.phase)) break;
    }
  } catch (err) {
    if (!controller.signal.aborted) {
      res.write(`event: error\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
    }
  } finally {
    clearInterval(heartbeat);
    req.off('close', onClose);
    controller.abort();
    res.end();
  }
}
