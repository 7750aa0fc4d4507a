import { EventEmitter } from 'node:events';
import type { LogFields, Logger } from '@lorkd/contracts';
import { describe, expect, it } from 'vitest';
import { untilStopped } from './until-stopped.js';

function memoryLogger(lines: string[]): Logger {
  const write = (level: string) => (message: string, fields?: LogFields) =>
    lines.push(`${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
  const logger: Logger = {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: () => logger,
  };
  return logger;
}

describe('untilStopped', () => {
  it('stops once on the first signal, ignores the next ones, and resolves 0', async () => {
    const source = new EventEmitter();
    const lines: string[] = [];
    const stops: string[] = [];
    const done = untilStopped({
      logger: memoryLogger(lines),
      message: 'stopping',
      stop: async (signal) => {
        stops.push(signal);
        await new Promise((r) => setTimeout(r, 10));
      },
      source,
    });
    source.emit('SIGTERM', 'SIGTERM');
    source.emit('SIGINT', 'SIGINT');
    expect(await done).toBe(0);
    expect(stops).toEqual(['SIGTERM']);
    expect(lines).toEqual(['info SIGTERM: stopping']);
  });

  it('resolves 1 and logs why when stopping fails', async () => {
    const source = new EventEmitter();
    const lines: string[] = [];
    const done = untilStopped({
      logger: memoryLogger(lines),
      message: 'checkpointing',
      stop: () => Promise.reject(new Error('redis is gone')),
      source,
    });
    source.emit('SIGINT', 'SIGINT');
    expect(await done).toBe(1);
    expect(lines).toEqual(['info SIGINT: checkpointing', 'error shutdown failed {"error":"redis is gone"}']);
  });
});
