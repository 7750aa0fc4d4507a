import { describe, expect, it } from 'vitest';
import { decideOnFailure, NO_FAILURES, primaryFailure, restartDelayMs } from './failure-policy.js';

const budgets = { preemptions: 2, crashes: 1, hangs: 0 };

describe('failure policy', () => {
  it('restarts while the cause has budget, then fails naming the budget', () => {
    const first = decideOnFailure({ cause: 'crashed', reason: 'slot 1 lost' }, NO_FAILURES, budgets);
    expect(first).toMatchObject({ action: 'restart', left: 0 });
    const second = decideOnFailure({ cause: 'crashed', reason: 'slot 2 lost' }, first.counts, budgets);
    expect(second).toMatchObject({ action: 'fail', cause: 'crashed' });
    expect(second.reason).toBe('slot 2 lost (gave up: 2 crashed failures, budget 1)');
  });

  it('keeps separate budgets per cause', () => {
    let counts = NO_FAILURES;
    for (let i = 0; i < 2; i++) {
      const d = decideOnFailure({ cause: 'preempted', reason: 'SIGTERM' }, counts, budgets);
      expect(d.action).toBe('restart');
      counts = d.counts;
    }
    expect(decideOnFailure({ cause: 'crashed', reason: 'x' }, counts, budgets).action).toBe('restart');
    expect(decideOnFailure({ cause: 'preempted', reason: 'x' }, counts, budgets).action).toBe('fail');
    expect(decideOnFailure({ cause: 'hung', reason: 'x' }, counts, budgets).action).toBe('fail');
  });

  it('fails fast on bad input and bugs, whatever the budgets', () => {
    const big = { preemptions: 99, crashes: 99, hangs: 99 };
    expect(decideOnFailure({ cause: 'bad-input', reason: 'no dataset at s3://x' }, NO_FAILURES, big)).toEqual({
      action: 'fail',
      cause: 'bad-input',
      reason: 'no dataset at s3://x',
      counts: { ...NO_FAILURES, 'bad-input': 1 },
    });
    expect(decideOnFailure({ cause: 'bug', reason: 'x' }, NO_FAILURES, big).action).toBe('fail');
  });

  it('picks the most telling report of a generation', () => {
    expect(
      primaryFailure([
        { cause: 'hung', reason: 'timeout waiting for rank 2' },
        { cause: 'crashed', reason: 'rank 2 lost' },
      ]),
    ).toEqual({ cause: 'crashed', reason: 'rank 2 lost' });
    expect(primaryFailure([])).toBeUndefined();
  });

  it('waits out storage and Redis outages with growing delays, restarts lost workers at once', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => restartDelayMs('storage', n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
    expect(restartDelayMs('redis', 2)).toBe(2_000);
    for (const cause of ['crashed', 'preempted', 'hung'] as const) expect(restartDelayMs(cause, 3)).toBe(0);
    const d = decideOnFailure({ cause: 'storage', reason: 'ECONNREFUSED' }, NO_FAILURES, budgets);
    expect(d).toMatchObject({ action: 'restart', delayMs: 1_000 });
  });
});
