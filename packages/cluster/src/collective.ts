import type { Logger } from '@lorkd/contracts';
import { silentLogger } from '@lorkd/contracts';
import { z } from 'zod';
import {
  ClusterAbortedError,
  ClusterUsageError,
  CollectiveTimeoutError,
  GenerationFencedError,
  RedisUnavailableError,
} from './errors.js';
import { decodeHalf, encodeHalf } from './fp16.js';
import { encodeMessage, Inbox, type InboxMessage } from './inbox.js';
import { keys } from './keys.js';
import { QueuePrefixSchema } from './queues.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';

export const CollectiveOptionsSchema = z.object({
  prefix: QueuePrefixSchema.default('lorkd'),
  runId: z.string().min(1),
  generation: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  /** Longest wait for peers in one collective call (each call may override). */
  timeoutMs: z.number().int().positive().default(60_000),
  /** Largest Redis value written; bigger payloads are split into chunks of this size. */
  chunkBytes: z
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  /** Lifetime of data keys (a backstop: keys are deleted once every peer has read them). */
  keyTtlMs: z
    .number()
    .int()
    .positive()
    .default(10 * 60_000),
  /** Wire format of gradient payloads: float32, or float16 (half the bytes, ~3 significant digits). */
  transport: z.enum(['f32', 'f16']).default('f32'),
  /** 'auto' picks 'direct' (all-gather, local reduce) for 2 ranks or small buffers, else 'reduce-scatter'. */
  algorithm: z.enum(['auto', 'direct', 'reduce-scatter']).default('auto'),
  /** 'auto' uses 'direct' at or below this many payload bytes. */
  directMaxBytes: z
    .number()
    .int()
    .nonnegative()
    .default(256 * 1024),
  /** How often a waiting call re-checks the generation fence (and the BLPOP slice). */
  pollMs: z.number().int().positive().default(500),
});
export type CollectiveOptions = z.input<typeof CollectiveOptionsSchema>;

export interface CollectiveCallOptions {
  readonly transport?: 'f32' | 'f16';
  readonly timeoutMs?: number;
  readonly algorithm?: 'auto' | 'direct' | 'reduce-scatter';
  readonly signal?: AbortSignal;
}

type Transport = 'f32' | 'f16';

interface Op {
  readonly what: string;
  readonly group: string;
  readonly ranks: readonly number[];
  readonly step: number;
  readonly id: string;
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly losses: number;
}

// KEYS: fence, inbox keys... ARGV: generation, message, ttl ms. -1 when fenced.
const NOTIFY = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur ~= ARGV[1] then return -1 end
for i = 2, #KEYS do
  redis.call('RPUSH', KEYS[i], ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
end
return 1
`;

const GROUP_RE = /^[A-Za-z0-9_.:@/-]+$/;

/**
 * Collectives of one rank of one (run, generation) over Redis: all-reduce (SUM), broadcast and barrier within a
 * group of ranks. Payloads are binary (float32 or float16), chunked, and always reduced in ascending rank order,
 * so every rank gets bit-identical results whatever the arrival order. Every wait has a timeout whose error names
 * run, generation, step, group and the missing ranks; writes check the generation fence atomically.
 *
 * Algorithms: 'direct' — each rank publishes its buffer, every rank reads all and sums (N·(N-1)·S bytes read);
 * 'reduce-scatter' — rank i sums part i of everyone's buffer and publishes the sum, every rank gathers the parts
 * (≈ (3N-2)·S bytes through Redis instead of N²·S). Calls on a group must be made in the same order on every
 * member, one at a time (await each); calls on different groups may run concurrently.
 */
export class Collective {
  readonly runId: string;
  readonly generation: number;
  readonly rank: number;
  private readonly options: z.output<typeof CollectiveOptionsSchema>;
  private readonly connections: RedisConnections;
  private readonly data: RedisClient;
  private readonly blocking: RedisClient;
  private readonly inbox: Inbox;
  private readonly logger: Logger;
  private readonly base: string;
  private readonly fenceKey: string;
  private readonly seq = new Map<string, { step: number; seq: number }>();
  private readonly toDelete = new Map<string, string[]>();
  private readonly inFlight = new Set<(err: unknown) => void>();
  private losses = 0;
  private closed = false;

  private constructor(
    connections: RedisConnections,
    options: z.output<typeof CollectiveOptionsSchema>,
    logger: Logger,
    data: RedisClient,
    blocking: RedisClient,
  ) {
    this.connections = connections;
    this.options = options;
    this.runId = options.runId;
    this.generation = options.generation;
    this.rank = options.rank;
    this.logger = logger;
    this.data = data;
    this.blocking = blocking;
    this.base = keys.collective(options.prefix, options.runId, options.generation);
    this.fenceKey = keys.fence(options.prefix, options.runId);
    this.inbox = new Inbox(blocking, `${this.base}:inbox:${options.rank}`, options.pollMs);
    data.defineCommand('lorkdCollNotify', { lua: NOTIFY });
    const lost = () => {
      if (!this.closed) this.losses++;
    };
    data.on('close', lost);
    blocking.on('close', lost);
  }

  /** Opens this rank's collectives; fails with GenerationFencedError unless the run's fence is at `generation`. */
  static async create(
    input: CollectiveOptions & { connections: RedisConnections; logger?: Logger },
  ): Promise<Collective> {
    const { connections, logger, ...rest } = input;
    const o = CollectiveOptionsSchema.parse(rest);
    const log = (logger ?? silentLogger).child({ runId: o.runId, generation: o.generation, rank: o.rank });
    const data = connections.connection('command', `coll-data-r${o.rank}`);
    const blocking = connections.connection('blocking', `coll-inbox-r${o.rank}`);
    const c = new Collective(connections, o, log, data, blocking);
    try {
      await c.checkFence('collective open');
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  /**
   * Sums `data` over the ranks of `group` (elementwise, in ascending rank order); every member gets the same
   * bits. A group of one returns a copy at once. With fp16 transport every contribution (and, for
   * reduce-scatter, each reduced part) is rounded to binary16.
   */
  async allReduce(
    group: string,
    ranks: readonly number[],
    step: number,
    data: Float32Array,
    options: CollectiveCallOptions = {},
  ): Promise<Float32Array> {
    const op = this.begin('all-reduce', group, ranks, step, options);
    if (ranks.length === 1) return data.slice();
    const transport = options.transport ?? this.options.transport;
    const bytes = data.length * (transport === 'f16' ? 2 : 4);
    let algorithm = options.algorithm ?? this.options.algorithm;
    if (algorithm === 'auto')
      algorithm = ranks.length <= 2 || bytes <= this.options.directMaxBytes ? 'direct' : 'reduce-scatter';
    const result =
      algorithm === 'direct' ? await this.direct(op, data, transport) : await this.reduceScatter(op, data, transport);
    await this.finish(op);
    return result;
  }

  /** Sends `data` from `root` to every member of `group`; non-roots pass null and receive a copy. */
  async broadcast(
    group: string,
    ranks: readonly number[],
    step: number,
    root: number,
    data: Float32Array | null,
    options: CollectiveCallOptions = {},
  ): Promise<Float32Array> {
    const op = this.begin('broadcast', group, ranks, step, options);
    if (!ranks.includes(root))
      throw new ClusterUsageError(`broadcast root ${root} is not in group ${group} (ranks ${ranks.join(',')})`);
    const transport = options.transport ?? this.options.transport;
    const others = ranks.filter((r) => r !== this.rank);
    let out: Float32Array;
    if (this.rank === root) {
      if (!data) throw new ClusterUsageError(`broadcast root ${root} must pass the data to send`);
      const payload = encode(data, transport);
      if (others.length > 0) this.remember(op, await this.publish(op, 'b', 0, payload, others));
      out = transport === 'f16' ? decode(payload, data.length, transport) : data.slice();
    } else {
      const msgs = await this.wait(op, 'b', [root], 'broadcast');
      const m = msgs.get(root) as InboxMessage;
      const n = m.nbytes / (transport === 'f16' ? 2 : 4);
      out = await this.receive(op, m, false, n, transport);
    }
    await this.finish(op);
    return out;
  }

  /** Returns once every member of `group` has entered the barrier. */
  async barrier(
    group: string,
    ranks: readonly number[],
    step: number,
    options: CollectiveCallOptions = {},
  ): Promise<void> {
    const op = this.begin('barrier', group, ranks, step, options);
    const others = ranks.filter((r) => r !== this.rank);
    if (others.length === 0) return;
    await this.notify(op, { op: op.id, kind: 'x', from: this.rank, part: 0, nbytes: 0, chunkBytes: 0 }, others);
    await this.wait(op, 'x', others, 'barrier');
    await this.finish(op);
  }

  /** Stops waiting, closes this rank's connections. Data keys left behind expire (keyTtlMs). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const fail of [...this.inFlight])
      fail(new ClusterAbortedError('collective wait', new Error('closed'), 'close'));
    this.inbox.close();
    await Promise.all([this.connections.release(this.data), this.connections.release(this.blocking)]);
  }

  // ---------------------------------------------------------------- algorithms

  private async direct(op: Op, data: Float32Array, transport: Transport): Promise<Float32Array> {
    const others = op.ranks.filter((r) => r !== this.rank);
    const payload = encode(data, transport);
    this.remember(op, await this.publish(op, 'd', 0, payload, others));
    const own = transport === 'f16' ? decode(payload, data.length, transport) : data;
    const msgs = await this.wait(op, 'd', others, 'all-gather');
    const parts = await Promise.all(
      op.ranks.map(async (r) => {
        if (r === this.rank) return own;
        const m = msgs.get(r) as InboxMessage;
        this.checkLength(op, m, data.length, transport);
        return this.receive(op, m, false, data.length, transport);
      }),
    );
    return sumInOrder(parts, data.length);
  }

  private async reduceScatter(op: Op, data: Float32Array, transport: Transport): Promise<Float32Array> {
    const n = op.ranks.length;
    const me = op.ranks.indexOf(this.rank);
    const bounds = partBounds(data.length, n);
    const others = op.ranks.filter((r) => r !== this.rank);
    // 1. scatter: send part p of my buffer to the owner of part p.
    await Promise.all(
      op.ranks.map(async (owner, p) => {
        if (owner === this.rank) return;
        const [s, e] = bounds[p] as [number, number];
        await this.publish(op, 's', p, encode(data.subarray(s, e), transport), [owner]);
      }),
    );
    // 2. reduce my part in rank order.
    const [ms, me2] = bounds[me] as [number, number];
    const len = me2 - ms;
    const ownPart = data.subarray(ms, me2);
    const msgs = await this.wait(op, 's', others, 'reduce-scatter');
    const contributions = await Promise.all(
      op.ranks.map(async (r) => {
        if (r === this.rank) return transport === 'f16' ? decode(encode(ownPart, transport), len, transport) : ownPart;
        const m = msgs.get(r) as InboxMessage;
        this.checkLength(op, m, len, transport);
        return this.receive(op, m, true, len, transport);
      }),
    );
    const reducedExact = sumInOrder(contributions, len);
    const reducedPayload = encode(reducedExact, transport);
    const reduced = transport === 'f16' ? decode(reducedPayload, len, transport) : reducedExact;
    // 3. all-gather the reduced parts.
    this.remember(op, await this.publish(op, 'g', me, reducedPayload, others));
    const result = new Float32Array(data.length);
    result.set(reduced, ms);
    const gathered = await this.wait(op, 'g', others, 'all-gather');
    await Promise.all(
      others.map(async (r) => {
        const m = gathered.get(r) as InboxMessage;
        const [s, e] = bounds[m.part] as [number, number];
        this.checkLength(op, m, e - s, transport);
        await this.receive(op, m, false, e - s, transport, result.subarray(s, e));
      }),
    );
    return result;
  }

  // ---------------------------------------------------------------- plumbing

  private begin(what: string, group: string, ranks: readonly number[], step: number, o: CollectiveCallOptions): Op {
    if (this.closed) throw new ClusterUsageError(`${what}: this Collective is closed`);
    if (!GROUP_RE.test(group))
      throw new ClusterUsageError(`${what}: invalid group name '${group}' (letters, digits and _ . : @ / - only)`);
    if (!Number.isInteger(step) || step < 0)
      throw new ClusterUsageError(`${what}: step must be a non-negative integer, got ${step}`);
    const sorted = ranks.every((r, i) => Number.isInteger(r) && r >= 0 && (i === 0 || r > (ranks[i - 1] as number)));
    if (ranks.length === 0 || !sorted)
      throw new ClusterUsageError(
        `${what}: group ${group} ranks must be ascending distinct ranks, got [${ranks.join(',')}]`,
      );
    if (!ranks.includes(this.rank))
      throw new ClusterUsageError(`${what}: rank ${this.rank} is not a member of group ${group} [${ranks.join(',')}]`);
    const counter = this.seq.get(group);
    const seq = counter && counter.step === step ? counter.seq + 1 : 0;
    this.seq.set(group, { step, seq });
    const timeoutMs = o.timeoutMs ?? this.options.timeoutMs;
    if (o.signal?.aborted) throw new ClusterAbortedError(what, o.signal.reason);
    return {
      what,
      group,
      ranks,
      step,
      id: `${group}@${step}#${seq}`,
      timeoutMs,
      deadline: Date.now() + timeoutMs,
      signal: o.signal,
      losses: this.losses,
    };
  }

  private describe(op: Op): string {
    return `run ${this.runId} generation ${this.generation} step ${op.step} group ${op.group} [ranks ${op.ranks.join(',')}]`;
  }

  private chunkKey(op: Op, kind: string, from: number, part: number, c: number): string {
    return `${this.base}:${op.id}:${kind}:${from}:${part}:${c}`;
  }

  /** Writes `payload` in chunks, then notifies `to` (fenced). Returns the keys written. */
  private async publish(
    op: Op,
    kind: string,
    part: number,
    payload: Uint8Array,
    to: readonly number[],
  ): Promise<string[]> {
    const chunkBytes = this.options.chunkBytes;
    const written: string[] = [];
    const pipeline = this.data.pipeline();
    for (let off = 0, c = 0; off < payload.length; off += chunkBytes, c++) {
      const key = this.chunkKey(op, kind, this.rank, part, c);
      const end = Math.min(off + chunkBytes, payload.length);
      const view = Buffer.from(payload.buffer, payload.byteOffset + off, end - off);
      pipeline.set(key, view, 'PX', this.options.keyTtlMs);
      written.push(key);
    }
    if (written.length > 0) {
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([err]) => err);
      if (failed) throw this.redisError(op, failed[0]);
    }
    await this.notify(op, { op: op.id, kind, from: this.rank, part, nbytes: payload.length, chunkBytes }, to);
    return written;
  }

  private async notify(op: Op, m: InboxMessage, to: readonly number[]): Promise<void> {
    const inboxes = to.map((r) => `${this.base}:inbox:${r}`);
    const run = (this.data as unknown as Record<string, (...a: unknown[]) => Promise<number>>).lorkdCollNotify;
    if (!run) throw new Error('lorkdCollNotify script missing');
    let reply: number;
    try {
      reply = Number(
        await run.call(
          this.data,
          1 + inboxes.length,
          this.fenceKey,
          ...inboxes,
          String(this.generation),
          encodeMessage(m),
          String(this.options.keyTtlMs),
        ),
      );
    } catch (err) {
      throw this.redisError(op, err);
    }
    if (reply === -1) throw await this.fencedError(op);
  }

  /**
   * Reads the values announced by `m` into `into` (or a new array), deleting the chunks when this rank is their only
   * reader. f32 chunks are copied straight into the result's bytes; f16 chunks are decoded.
   */
  private async receive(
    op: Op,
    m: InboxMessage,
    del: boolean,
    length: number,
    transport: Transport,
    into?: Float32Array,
  ): Promise<Float32Array> {
    const out = into ?? new Float32Array(length);
    if (m.nbytes === 0) return out;
    const half = transport === 'f16' ? new Uint16Array(length) : undefined;
    const bytes = half ? new Uint8Array(half.buffer) : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    const chunks = Math.ceil(m.nbytes / m.chunkBytes);
    const pipeline = this.data.pipeline();
    for (let c = 0; c < chunks; c++) {
      const key = this.chunkKey(op, m.kind, m.from, m.part, c);
      if (del) pipeline.getdelBuffer(key);
      else pipeline.getBuffer(key);
    }
    const replies = (await pipeline.exec()) ?? [];
    for (let c = 0; c < chunks; c++) {
      const [err, buf] = replies[c] ?? [new Error('no reply')];
      if (err) throw this.redisError(op, err);
      if (!Buffer.isBuffer(buf))
        throw new RedisUnavailableError(
          `${op.what} failed: ${this.describe(op)}: data of rank ${m.from} is missing from Redis (expired, evicted or Redis restarted); the generation must restart`,
          { fields: { runId: this.runId, generation: this.generation, step: op.step, group: op.group, from: m.from } },
        );
      bytes.set(buf, c * m.chunkBytes);
    }
    if (half) decodeHalf(half, out);
    return out;
  }

  /** Waits for `(op, kind)` messages from `from`, with timeout, fence checks, abort and connection-loss checks. */
  private wait(op: Op, kind: string, from: readonly number[], phase: string): Promise<Map<number, InboxMessage>> {
    return new Promise((resolve, reject) => {
      let cancel: (() => Map<number, InboxMessage>) | undefined;
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (err: unknown, value?: Map<number, InboxMessage>) => {
        if (done) return;
        done = true;
        this.inFlight.delete(finish);
        if (timer) clearTimeout(timer);
        op.signal?.removeEventListener('abort', onAbort);
        if (err !== undefined) {
          cancel?.();
          this.logger.warn(err instanceof Error ? err.message : String(err), { step: op.step, group: op.group });
          reject(err);
        } else resolve(value as Map<number, InboxMessage>);
      };
      this.inFlight.add(finish);
      const onAbort = () => finish(new ClusterAbortedError(`${op.what} (${this.describe(op)})`, op.signal?.reason));
      op.signal?.addEventListener('abort', onAbort, { once: true });
      if (op.signal?.aborted) {
        onAbort();
        return;
      }
      const tick = () => {
        if (done) return;
        const left = op.deadline - Date.now();
        if (this.losses !== op.losses) {
          finish(
            new RedisUnavailableError(
              `${op.what} failed: ${this.describe(op)}: the Redis connection was lost during the ${phase} phase; data in flight may be gone, so the generation must restart`,
              { fields: { runId: this.runId, generation: this.generation, step: op.step, group: op.group } },
            ),
          );
          return;
        }
        if (this.inbox.error !== undefined) {
          finish(this.redisError(op, this.inbox.error));
          return;
        }
        if (left <= 0) {
          const have = cancel ? [...cancel().keys()] : [];
          const missing = from.filter((r) => !have.includes(r));
          finish(
            new CollectiveTimeoutError(
              `${op.what} timed out after ${op.timeoutMs} ms: ${this.describe(op)}: waiting for ranks ${missing.join(', ')} in the ${phase} phase`,
              {
                runId: this.runId,
                generation: this.generation,
                step: op.step,
                group: op.group,
                missingRanks: missing,
                phase,
              },
            ),
          );
          return;
        }
        this.data
          .get(this.fenceKey)
          .then((cur) => {
            if (done) return;
            if (cur !== String(this.generation))
              finish(
                new GenerationFencedError(`${op.what} (${this.describe(op)})`, {
                  runId: this.runId,
                  generation: this.generation,
                  current: cur === null ? null : Number(cur),
                }),
              );
          })
          .catch(() => {});
        timer = setTimeout(tick, Math.min(this.options.pollMs, Math.max(1, left)));
      };
      this.inbox
        .collect(op.id, kind, from, (c) => {
          cancel = c;
        })
        .then(
          (v) => finish(undefined, v),
          (err: unknown) => finish(err),
        );
      if (!done) timer = setTimeout(tick, Math.min(this.options.pollMs, Math.max(1, op.deadline - Date.now())));
    });
  }

  private remember(op: Op, written: string[]): void {
    const list = this.toDelete.get(`${op.group}#next`) ?? [];
    list.push(...written);
    this.toDelete.set(`${op.group}#next`, list);
  }

  /**
   * Deletes the keys this rank wrote for the previous call on the group: every member has finished it (they are
   * all past the current call), so no one reads them any more.
   */
  private async finish(op: Op): Promise<void> {
    const previous = this.toDelete.get(op.group) ?? [];
    this.toDelete.set(op.group, this.toDelete.get(`${op.group}#next`) ?? []);
    this.toDelete.delete(`${op.group}#next`);
    if (previous.length > 0) await this.data.unlink(...previous).catch(() => 0);
  }

  private checkLength(op: Op, m: InboxMessage, expected: number, transport: Transport): void {
    const got = m.nbytes / (transport === 'f16' ? 2 : 4);
    if (got !== expected)
      throw new ClusterUsageError(
        `${op.what}: ${this.describe(op)}: rank ${m.from} sent ${got} values (${transport}) where ${expected} were expected; all ranks must pass buffers of the same length and transport`,
        { from: m.from, got, expected },
      );
  }

  private async checkFence(what: string): Promise<void> {
    const cur = await this.data.get(this.fenceKey);
    if (cur !== String(this.generation))
      throw new GenerationFencedError(`${what} of rank ${this.rank}`, {
        runId: this.runId,
        generation: this.generation,
        current: cur === null ? null : Number(cur),
      });
  }

  private async fencedError(op: Op): Promise<GenerationFencedError> {
    const cur = await this.data.get(this.fenceKey).catch(() => null);
    return new GenerationFencedError(`${op.what} write (${this.describe(op)})`, {
      runId: this.runId,
      generation: this.generation,
      current: cur === null ? null : Number(cur),
    });
  }

  private redisError(op: Op, err: unknown): RedisUnavailableError {
    const why = err instanceof Error ? err.message : String(err);
    return new RedisUnavailableError(`${op.what} failed: ${this.describe(op)}: Redis error: ${why}`, {
      fields: { runId: this.runId, generation: this.generation, step: op.step, group: op.group },
      cause: err,
    });
  }
}

/** Part p of a buffer of `length` values split over `n` owners: [start, end). */
export function partBounds(length: number, n: number): [number, number][] {
  const base = Math.floor(length / n);
  const rem = length % n;
  const out: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < n; p++) {
    const end = start + base + (p < rem ? 1 : 0);
    out.push([start, end]);
    start = end;
  }
  return out;
}

/** Elementwise float32 sum of `parts` in the given order: ((p0 + p1) + p2) + … — the reference all ranks agree on. */
export function sumInOrder(parts: readonly Float32Array[], length: number): Float32Array {
  const out = new Float32Array(length);
  const fr = Math.fround;
  const [a, b, c, d] = parts;
  if (!a) return out;
  // One pass over up to four parts (each partial sum rounded to float32 exactly as a float32 add would be).
  if (parts.length === 1) out.set(a.subarray(0, length));
  else if (parts.length === 2 && b) for (let i = 0; i < length; i++) out[i] = (a[i] as number) + (b[i] as number);
  else if (parts.length === 3 && b && c)
    for (let i = 0; i < length; i++) out[i] = fr((a[i] as number) + (b[i] as number)) + (c[i] as number);
  else if (b && c && d) {
    for (let i = 0; i < length; i++)
      out[i] = fr(fr((a[i] as number) + (b[i] as number)) + (c[i] as number)) + (d[i] as number);
    for (let k = 4; k < parts.length; k++) {
      const p = parts[k] as Float32Array;
      for (let i = 0; i < length; i++) out[i] = (out[i] as number) + (p[i] as number);
    }
  }
  return out;
}

function encode(data: Float32Array, transport: Transport): Uint8Array {
  if (transport === 'f32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const half = new Uint16Array(data.length);
  encodeHalf(data, half);
  return new Uint8Array(half.buffer);
}

function decode(bytes: Uint8Array, length: number, transport: Transport): Float32Array {
  if (transport === 'f32') {
    const out = new Float32Array(length);
    new Uint8Array(out.buffer).set(bytes.subarray(0, length * 4));
    return out;
  }
  const half = new Uint16Array(length);
  new Uint8Array(half.buffer).set(bytes.subarray(0, length * 2));
  const out = new Float32Array(length);
  decodeHalf(half, out);
  return out;
}
