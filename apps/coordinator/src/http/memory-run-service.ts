import {
  LorkdError,
  type QueueCounts,
  type RunEvent,
  type RunRecord,
  type RunService,
  type RunSpec,
  TERMINAL_PHASES,
} from '@lorkd/contracts';

interface Stored {
  record: RunRecord;
  events: { id: string; event: RunEvent }[];
  waiters: Set<() => void>;
}

/**
 * A `RunService` kept in memory, for tests of the HTTP API, dashboard and CLI: `emit` plays the
 * role of the coordinator and workers, folding each event into the run record as the real
 * service does. Not for production (nothing is shared or persisted).
 */
export class MemoryRunService implements RunService {
  readonly #runs = new Map<string, Stored>();
  #seq = 0;
  #queues: QueueCounts[] = [];
  readonly storageRoot: string;

  constructor(options: { storageRoot?: string } = {}) {
    this.storageRoot = options.storageRoot ?? 'file:///tmp/lorkd-memory';
  }

  async create(spec: RunSpec): Promise<RunRecord> {
    this.#seq += 1;
    const id = `${spec.name}-${this.#seq.toString(36).padStart(4, '0')}`;
    const now = new Date().toISOString();
    const record: RunRecord = {
      id,
      name: spec.name,
      spec,
      state: { phase: 'pending' },
      createdAt: now,
      updatedAt: now,
      generation: 0,
      storageUrl: `${spec.storage.url ?? this.storageRoot}/runs/${id}`,
      progress: {},
      restarts: [],
    };
    this.#runs.set(id, { record, events: [], waiters: new Set() });
    this.emit(id, { type: 'state', at: now, state: { phase: 'pending' } });
    return this.#mustGet(id).record;
  }

  async list(): Promise<RunRecord[]> {
    return [...this.#runs.values()].map((s) => s.record).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async get(id: string): Promise<RunRecord | undefined> {
    return this.#runs.get(id)?.record;
  }

  async cancel(id: string, reason?: string): Promise<RunRecord> {
    const stored = this.#mustGet(id);
    if (TERMINAL_PHASES.includes(stored.record.state.phase)) {
      throw new LorkdError('E_RUN_TERMINAL', `run '${id}' already ended (${stored.record.state.phase})`);
    }
    this.emit(id, { type: 'state', at: new Date().toISOString(), state: { phase: 'cancelled', reason } });
    return stored.record;
  }

  async resume(id: string): Promise<RunRecord> {
    const stored = this.#mustGet(id);
    const phase = stored.record.state.phase;
    if (phase !== 'failed' && phase !== 'cancelled') {
      throw new LorkdError('E_RUN_STATE', `run '${id}' is ${phase}; only failed or cancelled runs resume`);
    }
    const generation = stored.record.generation + 1;
    const step = stored.record.lastCheckpoint?.step ?? 0;
    const totalSteps = stored.record.spec.training.steps;
    this.emit(id, {
      type: 'state',
      at: new Date().toISOString(),
      state: { phase: 'training', generation, step, totalSteps },
    });
    return stored.record;
  }

  async *events(
    id: string,
    options: { sinceId?: string; signal: AbortSignal },
  ): AsyncIterable<{ id: string; event: RunEvent }> {
    const stored = this.#mustGet(id);
    let next = options.sinceId === undefined ? 0 : stored.events.findIndex((e) => e.id === options.sinceId) + 1;
    while (!options.signal.aborted) {
      while (next < stored.events.length) {
        const item = stored.events[next] as { id: string; event: RunEvent };
        next += 1;
        yield item;
        if (options.signal.aborted) return;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          stored.waiters.delete(wake);
          options.signal.removeEventListener('abort', wake);
          resolve();
        };
        stored.waiters.add(wake);
        options.signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  async queues(): Promise<QueueCounts[]> {
    return this.#queues;
  }

  /** How many event streams of a run are waiting for new events right now. */
  listeners(id: string): number {
    return this.#mustGet(id).waiters.size;
  }

  setQueues(queues: QueueCounts[]): void {
    this.#queues = queues;
  }

  /** Appends an event to a run's stream and folds it into the record. */
  emit(id: string, event: RunEvent): void {
    const stored = this.#mustGet(id);
    const r = stored.record;
    let next: RunRecord = { ...r, updatedAt: event.at };
    switch (event.type) {
      case 'state':
        next = { ...next, state: event.state };
        if (event.state.phase === 'training' || event.state.phase === 'restarting')
          next = { ...next, generation: event.state.generation };
        break;
      case 'progress':
        if (event.phase === 'training') {
          const progress = { ...r.progress };
          for (const p of event.progress) progress[p.region] = p;
          const step = Math.min(...event.progress.map((p) => p.step));
          const state = r.state.phase === 'training' ? { ...r.state, step } : r.state;
          next = { ...next, progress, state };
        } else if (r.state.phase === 'teacher' && event.progress[0]) {
          next = { ...next, state: { ...r.state, step: event.progress[0].step } };
        }
        break;
      case 'checkpoint':
        next = { ...next, lastCheckpoint: { step: event.step, at: event.at, bytes: event.bytes, ms: event.ms } };
        break;
      case 'restart':
        next = { ...next, restarts: [...r.restarts, event], generation: event.generation };
        break;
      default:
        break;
    }
    stored.record = next;
    stored.events.push({ id: `${Date.now()}-${stored.events.length}`, event });
    for (const wake of [...stored.waiters]) wake();
  }

  #mustGet(id: string): Stored {
    const stored = this.#runs.get(id);
    if (!stored) throw new LorkdError('E_RUN_NOT_FOUND', `no run '${id}'`, { fields: { runId: id } });
    return stored;
  }
}
