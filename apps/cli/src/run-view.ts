import {
  type RegionProgress,
  type RestartRecord,
  type RunEvent,
  type RunRecord,
  type RunState,
  TERMINAL_PHASES,
} from '@lorkd/contracts';
import { bar, bytes, duration, num, phaseLine } from './format.js';

interface Checkpoint {
  readonly step: number;
  readonly at: string;
  readonly bytes: number;
  readonly ms: number;
}

/** What `status` knows about one run: its record, folded with the events that followed. */
export class RunView {
  state: RunState;
  generation: number;
  readonly progress: Map<string, RegionProgress>;
  readonly restarts: RestartRecord[];
  lastCheckpoint?: Checkpoint;
  teacher?: { step: number; totalSteps: number; loss?: number; samplesPerSec?: number; etaSec?: number };

  constructor(readonly record: RunRecord) {
    this.state = record.state;
    this.generation = record.generation;
    this.progress = new Map(
      record.spec.regions.map((r) => [r.name, { region: r.name, step: 0, totalSteps: record.spec.training.steps }]),
    );
    for (const [region, p] of Object.entries(record.progress)) this.progress.set(region, p);
    this.restarts = [...record.restarts];
    if (record.lastCheckpoint) this.lastCheckpoint = record.lastCheckpoint;
  }

  get terminal(): boolean {
    return TERMINAL_PHASES.includes(this.state.phase);
  }

  apply(event: RunEvent): void {
    switch (event.type) {
      case 'state':
        this.state = event.state;
        if ('generation' in event.state) this.generation = event.state.generation;
        return;
      case 'progress':
        if (event.phase === 'teacher') {
          const p = event.progress[0];
          if (p) this.teacher = p;
        } else for (const p of event.progress) this.progress.set(p.region, p);
        return;
      case 'checkpoint':
        this.lastCheckpoint = event;
        return;
      case 'restart':
        if (!this.restarts.some((r) => r.at === event.at && r.generation === event.generation))
          this.restarts.push(event);
        this.generation = event.generation;
        return;
      default:
        return;
    }
  }

  /** The live block: header, one bar per region, restarts, last checkpoint. */
  render(width: number): string[] {
    const w = Math.max(40, width);
    const names = [...this.progress.keys()];
    const nameWidth = Math.max(6, ...names.map((n) => n.length));
    const barWidth = Math.max(10, Math.min(30, w - nameWidth - 70));
    const lines = [
      `run ${this.record.id} (${this.record.name})  ${phaseLine(this.state)}  generation ${this.generation}`,
    ];
    if (this.teacher && (this.state.phase === 'teacher' || this.state.phase === 'pending')) {
      const t = this.teacher;
      lines.push(
        `  ${'teacher'.padEnd(nameWidth)} ${bar(t.step / Math.max(1, t.totalSteps), barWidth)} ${`${t.step}/${t.totalSteps}`.padStart(11)}  loss ${num(t.loss)}  ${num(t.samplesPerSec, 1)} samples/s  ETA ${duration(t.etaSec)}`,
      );
    }
    for (const p of this.progress.values()) lines.push(`  ${regionLine(p, nameWidth, barWidth)}`);
    const causes = new Map<string, number>();
    for (const r of this.restarts) causes.set(r.cause, (causes.get(r.cause) ?? 0) + 1);
    const last = this.restarts.at(-1);
    lines.push(
      this.restarts.length === 0
        ? '  restarts: none'
        : `  restarts: ${this.restarts.length} (${[...causes].map(([c, n]) => `${c} ×${n}`).join(', ')}); last: generation ${last?.generation} from step ${last?.fromStep}: ${last?.reason}`,
    );
    const c = this.lastCheckpoint;
    lines.push(
      c
        ? `  last checkpoint: step ${c.step} at ${c.at.slice(11, 19)} (${bytes(c.bytes)}, ${Math.round(c.ms)} ms)`
        : '  last checkpoint: none yet',
    );
    return lines.map((l) => (l.length > w - 1 ? `${l.slice(0, w - 2)}…` : l));
  }
}

export function regionLine(p: RegionProgress, nameWidth: number, barWidth: number): string {
  const frac = p.totalSteps > 0 ? p.step / p.totalSteps : 0;
  const parts =
    p.taskLoss !== undefined || p.kdLoss !== undefined ? ` (task ${num(p.taskLoss)} kd ${num(p.kdLoss)})` : '';
  return `${p.region.padEnd(nameWidth)} ${bar(frac, barWidth)} ${`${p.step}/${p.totalSteps}`.padStart(11)} ${`${Math.round(frac * 100)}%`.padStart(4)}  loss ${num(p.loss)}${parts}  ${num(p.samplesPerSec, 1)} samples/s  ETA ${duration(p.etaSec)}`;
}

/** One line per event for logs and pipes (no cursor movement); undefined = nothing worth a line. */
export function eventLine(event: RunEvent): string[] {
  const t = event.at.slice(11, 19);
  switch (event.type) {
    case 'state':
      return [`${t} state ${phaseLine(event.state)}`];
    case 'progress':
      return event.progress.map(
        (p) =>
          `${t} ${event.phase === 'teacher' ? 'teacher' : p.region} step ${p.step}/${p.totalSteps} loss ${num(p.loss)}${p.taskLoss !== undefined ? ` task ${num(p.taskLoss)}` : ''}${p.kdLoss !== undefined ? ` kd ${num(p.kdLoss)}` : ''} ${num(p.samplesPerSec, 1)} samples/s ETA ${duration(p.etaSec)}`,
      );
    case 'checkpoint':
      return [`${t} checkpoint step ${event.step} (${bytes(event.bytes)}, ${Math.round(event.ms)} ms)`];
    case 'restart':
      return [
        `${t} restart generation ${event.generation} from step ${event.fromStep}: ${event.cause}: ${event.reason}`,
      ];
    case 'log':
      return [`${t} ${event.level} ${event.message}`];
    default:
      return [];
  }
}
