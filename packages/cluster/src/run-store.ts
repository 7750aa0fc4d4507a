import type { Logger, RunEvent, RunPhase, RunRecord, RunState } from '@lorkd/contracts';
import { RunEventSchema, silentLogger } from '@lorkd/contracts';
import { z } from 'zod';
import { ClusterUsageError, RunExistsError, RunNotFoundError } from './errors.js';
import { keys } from './keys.js';
import { QueuePrefixSchema } from './queues.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';

export const RunStoreOptionsSchema = z.object({
  /** Same prefix as the queues (LORKD_QUEUE_PREFIX). */
  prefix: QueuePrefixSchema.default('lorkd'),
  /** Approximate number of events kept per run (XADD MAXLEN ~). */
  eventsMaxLen: z.number().int().positive().default(10_000),
  /** Block time of one XREAD round of `events()`; an abort is noticed at once regardless. */
  eventsBlockMs: z.number().int().positive().default(2_000),
});
export type RunStoreOptions = z.input<typeof RunStoreOptionsSchema>;

/** A patch of the mutable fields of a run record (`state` changes go through `transition`). */
export type RunPatch = Partial<Omit<RunRecord, 'id' | 'createdAt' | 'updatedAt' | 'state'>>;

export type TransitionResult =
  | { readonly ok: true; readonly record: RunRecord; readonly eventId: string }
  | { readonly ok: false; readonly reason: 'phase'; readonly record: RunRecord }
  | { readonly ok: false; readonly reason: 'not-found' };

// Compare-and-set on the record's version; optionally appends an event in the same atomic step.
// KEYS: record, events. ARGV: expected version, new json, new phase, event json ('' for none), maxlen.
const CAS_SCRIPT = `
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return {-1, ''} end
if v ~= ARGV[1] then return {0, ''} end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'phase', ARGV[3], 'version', tostring(tonumber(v) + 1))
local id = ''
if ARGV[4] ~= '' then
  id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[4])
end
return {1, id}
`;

/**
 * Run records and run event streams in Redis. Every write is a compare-and-set on a per-record version, so
 * concurrent writers (coordinator replicas, workers reporting progress) never lose each other's changes;
 * `transition` additionally checks the current phase and appends the `state` event atomically.
 */
export class RunStore {
  readonly prefix: string;
  private readonly connections: RedisConnections;
  private readonly redis: RedisClient;
  private readonly logger: Logger;
  private readonly options: z.output<typeof RunStoreOptionsSchema>;

  private constructor(connections: RedisConnections, options: z.output<typeof RunStoreOptionsSchema>, logger: Logger) {
    this.connections = connections;
    this.redis = connections.command;
    this.options = options;
    this.prefix = options.prefix;
    this.logger = logger;
    this.redis.defineCommand('lorkdRunCas', { numberOfKeys: 2, lua: CAS_SCRIPT });
  }

  static async create(input: RunStoreOptions & { connections: RedisConnections; logger?: Logger }): Promise<RunStore> {
    const { connections, logger, ...rest } = input;
    return new RunStore(
      connections,
      RunStoreOptionsSchema.parse(rest),
      (logger ?? silentLogger).child({ component: 'run-store' }),
    );
  }

  /** Stores a new record (fails with RunExistsError if the id is taken) and appends its first `state` event. */
  async create(record: RunRecord): Promise<RunRecord> {
    const key = keys.run(this.prefix, record.id);
    const created = await this.redis.hsetnx(key, 'version', '0');
    if (created === 0) throw new RunExistsError(record.id);
    const multi = this.redis
      .multi()
      .hset(key, 'json', JSON.stringify(record), 'phase', record.state.phase)
      .zadd(keys.runIndex(this.prefix), Date.parse(record.createdAt) || Date.now(), record.id)
      .xadd(
        keys.runEvents(this.prefix, record.id),
        'MAXLEN',
        '~',
        String(this.options.eventsMaxLen),
        '*',
        'e',
        JSON.stringify({ type: 'state', at: record.updatedAt, state: record.state } satisfies RunEvent),
      );
    await multi.exec();
    return record;
  }

  async get(id: string): Promise<RunRecord | undefined> {
    const json = await this.redis.hget(keys.run(this.prefix, id), 'json');
    return json ? (JSON.parse(json) as RunRecord) : undefined;
  }

  /** Records newest first (by creation time). */
  async list(options: { limit?: number } = {}): Promise<RunRecord[]> {
    const ids = await this.redis.zrevrange(keys.runIndex(this.prefix), 0, (options.limit ?? 1000) - 1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(keys.run(this.prefix, id), 'json');
    const replies = (await pipeline.exec()) ?? [];
    const out: RunRecord[] = [];
    for (const [err, json] of replies) if (!err && typeof json === 'string') out.push(JSON.parse(json) as RunRecord);
    return out;
  }

  /**
   * Atomically moves the run to `to` if its current phase is one of `from`; applies `patch` in the same write and
   * appends a `state` event. Returns `{ ok: false, reason: 'phase', record }` when the phase did not match.
   */
  async transition(
    id: string,
    from: readonly RunPhase[],
    to: RunState,
    patch: RunPatch = {},
  ): Promise<TransitionResult> {
    for (;;) {
      const current = await this.read(id);
      if (!current) return { ok: false, reason: 'not-found' };
      if (!from.includes(current.record.state.phase)) return { ok: false, reason: 'phase', record: current.record };
      const at = new Date().toISOString();
      const record: RunRecord = { ...current.record, ...patch, state: to, updatedAt: at };
      const event: RunEvent = { type: 'state', at, state: to };
      const [code, eventId] = await this.cas(id, current.version, record, event);
      if (code === 1) return { ok: true, record, eventId };
      if (code === -1) return { ok: false, reason: 'not-found' };
    }
  }

  /** Atomically applies a patch (or a function of the current record returning one). */
  async update(id: string, patch: RunPatch | ((current: RunRecord) => RunPatch)): Promise<RunRecord> {
    for (;;) {
      const current = await this.read(id);
      if (!current) throw new RunNotFoundError(id);
      const p = typeof patch === 'function' ? patch(current.record) : patch;
      if ('state' in p || 'id' in p)
        throw new ClusterUsageError('RunStore.update cannot change id or state; use transition()', { runId: id });
      const record: RunRecord = { ...current.record, ...p, updatedAt: new Date().toISOString() };
      const [code] = await this.cas(id, current.version, record, undefined);
      if (code === 1) return record;
      if (code === -1) throw new RunNotFoundError(id);
    }
  }

  /** Deletes a run's record, events and fence. */
  async delete(id: string): Promise<void> {
    await this.redis
      .multi()
      .del(keys.run(this.prefix, id), keys.runEvents(this.prefix, id), keys.fence(this.prefix, id))
      .zrem(keys.runIndex(this.prefix), id)
      .exec();
  }

  /** Appends an event to the run's stream; returns its stream id. */
  async appendEvent(id: string, event: RunEvent): Promise<string> {
    const checked = RunEventSchema.safeParse(event);
    if (!checked.success)
      throw new ClusterUsageError(`invalid run event for run ${id}: ${checked.error.issues[0]?.message}`, {
        runId: id,
      });
    const streamId = await this.redis.xadd(
      keys.runEvents(this.prefix, id),
      'MAXLEN',
      '~',
      String(this.options.eventsMaxLen),
      '*',
      'e',
      JSON.stringify(checked.data),
    );
    return streamId ?? '';
  }

  /** Stored events after `sinceId` (exclusive; all when absent), oldest first, at most `count`. */
  async readEvents(
    id: string,
    options: { sinceId?: string; count?: number } = {},
  ): Promise<{ id: string; event: RunEvent }[]> {
    const start = options.sinceId ? `(${options.sinceId}` : '-';
    const entries = await this.redis.xrange(
      keys.runEvents(this.prefix, id),
      start,
      '+',
      'COUNT',
      options.count ?? 10_000,
    );
    return entries.map(([eid, fields]) => ({ id: eid, event: decodeEvent(fields) }));
  }

  /** Past events after `sinceId` (exclusive), then live ones (XREAD BLOCK on its own connection) until `signal` aborts. */
  async *events(
    id: string,
    options: { sinceId?: string; signal: AbortSignal },
  ): AsyncGenerator<{ id: string; event: RunEvent }> {
    const { signal } = options;
    let last = options.sinceId ?? '0-0';
    const key = keys.runEvents(this.prefix, id);
    for (;;) {
      if (signal.aborted) return;
      const batch = await this.readEvents(id, { sinceId: last, count: 1000 });
      if (batch.length === 0) break;
      for (const e of batch) {
        if (signal.aborted) return;
        last = e.id;
        yield e;
      }
    }
    const reader = this.connections.connection('blocking', 'run-events');
    const onAbort = () => reader.disconnect();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        let reply: [string, [string, string[]][]][] | null;
        try {
          reply = (await reader.xread('COUNT', 1000, 'BLOCK', this.options.eventsBlockMs, 'STREAMS', key, last)) as
            | [string, [string, string[]][]][]
            | null;
        } catch (err) {
          if (signal.aborted) return;
          throw err;
        }
        for (const [, entries] of reply ?? []) {
          for (const [eid, fields] of entries) {
            if (signal.aborted) return;
            last = eid;
            yield { id: eid, event: decodeEvent(fields) };
          }
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      await this.connections.release(reader);
    }
  }

  private async read(id: string): Promise<{ record: RunRecord; version: string } | undefined> {
    const [json, version] = await this.redis.hmget(keys.run(this.prefix, id), 'json', 'version');
    if (!json || version === null || version === undefined) return undefined;
    return { record: JSON.parse(json) as RunRecord, version };
  }

  private async cas(
    id: string,
    version: string,
    record: RunRecord,
    event: RunEvent | undefined,
  ): Promise<[number, string]> {
    const run = (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<[number, string]>>)
      .lorkdRunCas;
    if (!run) throw new ClusterUsageError('lorkdRunCas script missing');
    const reply = await run.call(
      this.redis,
      keys.run(this.prefix, id),
      keys.runEvents(this.prefix, id),
      version,
      JSON.stringify(record),
      record.state.phase,
      event ? JSON.stringify(event) : '',
      String(this.options.eventsMaxLen),
    );
    if (reply[0] === 0) this.logger.debug('run record changed concurrently; retrying', { runId: id });
    return [Number(reply[0]), String(reply[1] ?? '')];
  }
}

function decodeEvent(fields: string[]): RunEvent {
  const i = fields.indexOf('e');
  return JSON.parse(fields[i + 1] ?? 'null') as RunEvent;
}
