import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createWinstonLogger } from './winston-logger.js';

function capture() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return { stream, lines: () => chunks.join('').trim().split('\n').filter(Boolean) };
}

describe('createWinstonLogger', () => {
  it('writes JSON lines with child fields (runId/slot/rank/step)', () => {
    const out = capture();
    const log = createWinstonLogger({ format: 'json', stream: out.stream, fields: { service: 'worker' } });
    log.child({ runId: 'r1', slot: 2 }).child({ rank: 1 }).info('step done', { step: 10, loss: 0.5 });
    const [line] = out.lines();
    const parsed = JSON.parse(line ?? '{}') as Record<string, unknown>;
    expect(parsed).toMatchObject({
      level: 'info',
      message: 'step done',
      service: 'worker',
      runId: 'r1',
      slot: 2,
      rank: 1,
      step: 10,
      loss: 0.5,
    });
    expect(typeof parsed.timestamp).toBe('string');
  });

  it('respects the level and renders a readable terminal line', () => {
    const out = capture();
    const log = createWinstonLogger({ format: 'pretty', level: 'warn', stream: out.stream });
    log.info('hidden');
    log.warn('slow step', { runId: 'r2', step: 3, ms: 120 });
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/warn\s+slow step {2}runId=r2 step=3 ms=120$/);
  });

  it('serialises errors to name/message/code', () => {
    const out = capture();
    const log = createWinstonLogger({ format: 'json', stream: out.stream });
    const err = Object.assign(new Error('boom'), { code: 'E_X' });
    log.error('failed', { err });
    expect(JSON.parse(out.lines()[0] ?? '{}').err).toEqual({ name: 'Error', message: 'boom', code: 'E_X' });
  });
});
