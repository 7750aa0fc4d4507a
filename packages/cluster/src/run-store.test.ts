import type { RunRecord, RunSpec } from '@lorkd/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sharedRedis } from '../test-support/redis.js';
import { RunExistsError, RunNotFoundError } from './errors.js';
import { RunStore } from './run-store.js';

function record(id: string, createdAt = new Date().toISOString()): RunRecord {
  return {
    id,
    name: `run ${id}`,
    spec: { name: id } as unknown as RunSpec,
    state: { phase: 'pending' },
    createdAt,
    updatedAt: createdAt,
    generation: 0,
    storageUrl: 'file:///tmp/x',
    progress: {},
    restarts: [],
  };
}

describe('RunStore', () => {
  let env: Awaited<ReturnType<typeof sharedRedis>>;
  let store: RunStore;
  beforeEach(async () => {
    env = await sharedRedis('runstore');
    store = await RunStore.create({ connections: env.connections, prefix: env.prefix, eventsBlockMs: 200 });
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('creates, gets and lists runs newest first; refuses duplicates', async () => {
    await store.create(record('a', '2026-01-01T00:00:00.000Z'));
    await store.create(record('b', '2026-01-02T00:00:00.000Z'));
    await expect(store.create(record('a'))).rejects.toBeInstanceOf(RunExistsError);
    expect((await store.get('a'))?.name).toBe('run a');
    expect(await store.get('nope')).toBeUndefined();
    expect((await store.list()).map((r) => r.id)).toEqual(['b', 'a']);
  });

  it('transitions only from the given phases and appends a state event', async () => {
    await store.create(record('t'));
    const bad = await store.transition('t', ['training'], { phase: 'exporting' });
    expect(bad).toMatchObject({ ok: false, reason: 'phase' });
    const ok = await store.transition('t', ['pending'], { phase: 'training', generation: 0, step: 0, totalSteps: 10 });
    expect(ok.ok).toBe(true);
    expect((await store.get('t'))?.state.phase).toBe('training');
    expect(await store.transition('missing', ['pending'], { phase: 'done', reportUrl: 'x' })).toEqual({
      ok: false,
      reason: 'not-found',
    });
    const events = await store.readEvents('t');
    expect(events.map((e) => (e.event.type === 'state' ? e.event.state.phase : e.event.type))).toEqual([
      'pending',
      'training',
    ]);
  });

  it('lets exactly one of many concurrent transitions win, and loses no concurrent update', async () => {
    await store.create(record('c'));
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.transition('c', ['pending'], { phase: 'failed', cause: 'bug', reason: `writer ${i}` }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'phase')).toHaveLength(7);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.update('c', (cur) => ({
          progress: { ...cur.progress, [`r${i}`]: { region: `r${i}`, step: i, totalSteps: 10 } },
        })),
      ),
    );
    expect(Object.keys((await store.get('c'))?.progress ?? {}).sort()).toHaveLength(10);
    await expect(store.update('zzz', { generation: 1 })).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('streams past then live events and stops on abort', async () => {
    await store.create(record('e'));
    await store.appendEvent('e', { type: 'log', at: 'now', level: 'info', message: 'one' });
    const ac = new AbortController();
    const got: string[] = [];
    const reading = (async () => {
      for await (const { event } of store.events('e', { signal: ac.signal })) {
        got.push(event.type === 'log' ? event.message : event.type);
        if (got.length === 4) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    await store.appendEvent('e', { type: 'log', at: 'now', level: 'info', message: 'two' });
    await store.appendEvent('e', { type: 'log', at: 'now', level: 'warn', message: 'three' });
    await reading;
    expect(got).toEqual(['state', 'one', 'two', 'three']);
    // sinceId is exclusive
    const all = await store.readEvents('e');
    const after: string[] = [];
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 1000);
    for await (const { event } of store.events('e', { sinceId: all[2]?.id, signal: ac2.signal }))
      after.push(event.type === 'log' ? event.message : event.type);
    expect(after).toEqual(['three']);
    await expect(
      store.appendEvent('e', { type: 'log', at: 'now', level: 'loud', message: 'x' } as never),
    ).rejects.toThrow(/invalid run event/);
  });
});
