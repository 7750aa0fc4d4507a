import type { FailureCause } from '@lorkd/contracts';

/** Retry budgets per cause (from `spec.cluster.budgets`); causes without one use the crash budget. */
export interface FailureBudgets {
  readonly preemptions: number;
  readonly crashes: number;
  readonly hangs: number;
}

export type FailureCounts = Readonly<Record<FailureCause, number>>;

export const NO_FAILURES: FailureCounts = {
  preempted: 0,
  crashed: 0,
  hung: 0,
  'bad-input': 0,
  bug: 0,
  storage: 0,
  redis: 0,
};

/** A generation ended early, as reported by a worker or seen by the coordinator. */
export interface FailureReport {
  readonly cause: FailureCause;
  readonly reason: string;
}

export type FailureDecision =
  | {
      readonly action: 'restart';
      readonly cause: FailureCause;
      readonly reason: string;
      /** Counts after charging this failure. */
      readonly counts: FailureCounts;
      /** How many of this cause's retries are left after this one. */
      readonly left: number;
      /** Wait this long before the next generation starts (outages of storage/Redis get time to pass). */
      readonly delayMs: number;
    }
  | { readonly action: 'fail'; readonly cause: FailureCause; readonly reason: string; readonly counts: FailureCounts };

/** The budget a cause draws from; `bad-input` and `bug` have none: retrying cannot help. */
export function budgetFor(cause: FailureCause, budgets: FailureBudgets): number {
  switch (cause) {
    case 'preempted':
      return budgets.preemptions;
    case 'crashed':
    case 'storage':
    case 'redis':
      return budgets.crashes;
    case 'hung':
      return budgets.hangs;
    case 'bad-input':
    case 'bug':
      return 0;
  }
}

/**
 * Decides what to do about a lost generation: restart it from the latest checkpoint while the
 * cause's own budget lasts, otherwise fail the run with a reason that says which budget ran out.
 */
export function decideOnFailure(
  report: FailureReport,
  counts: FailureCounts,
  budgets: FailureBudgets,
): FailureDecision {
  const used = counts[report.cause] + 1;
  const next: FailureCounts = { ...counts, [report.cause]: used };
  const budget = budgetFor(report.cause, budgets);
  if (report.cause === 'bad-input' || report.cause === 'bug') {
    return { action: 'fail', cause: report.cause, reason: report.reason, counts: next };
  }
  if (used > budget) {
    return {
      action: 'fail',
      cause: report.cause,
      reason: `${report.reason} (gave up: ${used} ${report.cause} failures, budget ${budget})`,
      counts: next,
    };
  }
  return {
    action: 'restart',
    cause: report.cause,
    reason: report.reason,
    counts: next,
    left: budget - used,
    delayMs: restartDelayMs(report.cause, used),
  };
}

/**
 * How long to wait before restarting after the `nth` failure of a cause: none after a lost worker,
 * a preemption or a hang (the sooner the better: that is time lost), exponential for storage and
 * Redis failures — 1, 2, 4, 8, 16 s, at most 30 s — so that a short outage is waited out instead of
 * spending the whole crash budget in a few seconds.
 */
export function restartDelayMs(cause: FailureCause, nth: number): number {
  if (cause !== 'storage' && cause !== 'redis') return 0;
  return Math.min(30_000, 1_000 * 2 ** Math.max(0, nth - 1));
}

/** The worst of several reports from one generation (e.g. one slot crashed, the others timed out). */
export function primaryFailure(reports: readonly FailureReport[]): FailureReport | undefined {
  const order: FailureCause[] = ['bad-input', 'bug', 'storage', 'crashed', 'preempted', 'redis', 'hung'];
  return [...reports].sort((a, b) => order.indexOf(a.cause) - order.indexOf(b.cause))[0];
}
