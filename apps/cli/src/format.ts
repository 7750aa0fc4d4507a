import type { RunState } from '@lorkd/contracts';

export function duration(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec) || sec < 0) return '–';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function num(v: number | undefined, digits = 3): string {
  return v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

export function percent(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)}%`;
}

/** Parameter counts as 12.3k / 1.2M. */
export function count(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(v);
}

export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  const part = f * width - full >= 0.5 && full < width ? '▌' : '';
  return `${'█'.repeat(full)}${part}${'░'.repeat(width - full - (part ? 1 : 0))}`;
}

export function phaseLine(state: RunState): string {
  switch (state.phase) {
    case 'teacher':
      return `teacher ${state.step}/${state.totalSteps}`;
    case 'training':
      return `training (generation ${state.generation}) ${state.step}/${state.totalSteps}`;
    case 'restarting':
      return `restarting as generation ${state.generation} from step ${state.fromStep}: ${state.cause}: ${state.reason}`;
    case 'done':
      return `done: report ${state.reportUrl}`;
    case 'failed':
      return `failed (${state.cause}): ${state.reason}`;
    case 'cancelled':
      return `cancelled${state.reason ? `: ${state.reason}` : ''}`;
    default:
      return state.phase;
  }
}

/** A plain text table with right-aligned numeric columns. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: readonly boolean[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
