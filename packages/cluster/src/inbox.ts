import type { RedisClient } from './redis-connections.js';

/** One notification: `from` published `nbytes` bytes (in chunks of `chunkBytes`) of `part` for operation `op`. */
export interface InboxMessage {
  readonly op: string;
  readonly kind: string;
  readonly from: number;
  readonly part: number;
  readonly nbytes: number;
  readonly chunkBytes: number;
}

export function encodeMessage(m: InboxMessage): string {
  return `${m.op}|${m.kind}|${m.from}|${m.part}|${m.nbytes}|${m.chunkBytes}`;
}

function decodeMessage(s: string): InboxMessage | undefined {
  const f = s.split('|');
  if (f.length !== 6) return undefined;
  return {
    op: f[0] ?? '',
    kind: f[1] ?? '',
    from: Number(f[2]),
    part: Number(f[3]),
    nbytes: Number(f[4]),
    chunkBytes: Number(f[5]),
  };
}

interface Waiter {
  readonly key: string;
  readonly expected: Set<number>;
  readonly got: Map<number, InboxMessage>;
  resolve(v: Map<number, InboxMessage>): void;
}

/**
 * A rank's inbox: one Redis list that every peer RPUSHes small notifications to, read by one BLPOP loop on a
 * dedicated connection and dispatched to whichever operation waits for them (messages that arrive early are kept),
 * so any number of concurrent collectives share one blocking connection.
 */
export class Inbox {
  private readonly redis: RedisClient;
  private readonly key: string;
  private readonly sliceSec: number;
  private readonly early = new Map<string, InboxMessage[]>();
  private readonly waiters = new Set<Waiter>();
  private pumping: Promise<void> | undefined;
  private closed = false;
  private pumpError: unknown;

  constructor(redis: RedisClient, key: string, sliceMs: number) {
    this.redis = redis;
    this.key = key;
    this.sliceSec = Math.max(0.01, sliceMs / 1000);
  }

  /**
   * Resolves with the messages of `(op, kind)` from every rank in `from` (keyed by rank). `cancel` is called with
   * a rejection function so the caller can abort the wait (timeout, fence, abort signal, lost connection).
   */
  collect(
    op: string,
    kind: string,
    from: readonly number[],
    onCancel: (cancel: () => Map<number, InboxMessage>) => void,
  ): Promise<Map<number, InboxMessage>> {
    const key = `${op}|${kind}`;
    const got = new Map<number, InboxMessage>();
    const expected = new Set(from);
    for (const m of this.early.get(key) ?? []) if (expected.has(m.from)) got.set(m.from, m);
    this.early.delete(key);
    if (got.size === expected.size) return Promise.resolve(got);
    return new Promise((resolve) => {
      const waiter: Waiter = { key, expected, got, resolve };
      this.waiters.add(waiter);
      onCancel(() => {
        this.waiters.delete(waiter);
        return got;
      });
      this.ensurePump();
    });
  }

  /** Error that stopped the pump (Redis gone for good), if any. */
  get error(): unknown {
    return this.pumpError;
  }

  close(): void {
    this.closed = true;
    this.waiters.clear();
    this.early.clear();
  }

  private ensurePump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (this.waiters.size > 0 && !this.closed && this.pumpError === undefined) this.ensurePump();
    });
  }

  private async pump(): Promise<void> {
    while (this.waiters.size > 0 && !this.closed) {
      let first: [string, string] | null;
      try {
        first = await this.redis.blpop(this.key, this.sliceSec);
      } catch (err) {
        if (this.closed) return;
        this.pumpError = err;
        return;
      }
      if (!first) continue;
      const batch = [first[1]];
      const more = (await this.redis.lpop(this.key, 1000).catch(() => null)) as string[] | null;
      if (more) batch.push(...more);
      for (const raw of batch) {
        const m = decodeMessage(raw);
        if (m) this.dispatch(m);
      }
    }
  }

  private dispatch(m: InboxMessage): void {
    const key = `${m.op}|${m.kind}`;
    for (const w of this.waiters) {
      if (w.key !== key || !w.expected.has(m.from)) continue;
      w.got.set(m.from, m);
      if (w.got.size === w.expected.size) {
        this.waiters.delete(w);
        w.resolve(w.got);
      }
      return;
    }
    const list = this.early.get(key) ?? [];
    list.push(m);
    this.early.set(key, list);
  }
}
