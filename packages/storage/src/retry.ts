import { z } from 'zod';

export const RetryPolicySchema = z.object({
  /** Total attempts including the first. */
  maxAttempts: z.number().int().min(1).max(20).default(5),
  baseDelayMs: z.number().min(0).default(100),
  maxDelayMs: z.number().min(0).default(10_000),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/** How the AWS SDK classifies a failed attempt (`@smithy/types` RetryErrorType). */
export type FailureKind = 'TRANSIENT' | 'THROTTLING' | 'SERVER_ERROR' | 'CLIENT_ERROR';

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: string };

/**
 * Retry on throttling (429/503 SlowDown), 5xx and connection errors with exponential backoff and
 * full jitter; never on other 4xx, which cannot succeed by repeating them. `attempt` counts from 1.
 */
export function retryDecision(
  kind: FailureKind,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
  retryAfterMs?: number,
): RetryDecision {
  if (kind === 'CLIENT_ERROR') return { retry: false, reason: 'client error (4xx): repeating it cannot succeed' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: `gave up after ${attempt} attempts` };
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = random() * ceiling;
  const delayMs = Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0));
  return { retry: true, delayMs };
}

interface Token {
  getRetryCount(): number;
  getRetryDelay(): number;
}

/** An SDK v3 `retryStrategy` that applies `retryDecision` to every request, multipart parts included. */
export function sdkRetryStrategy(
  policy: RetryPolicy,
  onRetry?: (info: { kind: FailureKind; attempt: number; delayMs: number; error: unknown }) => void,
) {
  const token = (count: number, delay: number): Token => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  return {
    mode: 'lorkd',
    async acquireInitialRetryToken(_scope: string): Promise<Token> {
      return token(0, 0);
    },
    async refreshRetryTokenForRetry(
      previous: Token,
      info: { errorType: FailureKind; error?: unknown; retryAfterHint?: Date },
    ): Promise<Token> {
      const attempt = previous.getRetryCount() + 1;
      // 501 Not Implemented (an S3-compatible server without that API) cannot succeed on repeat.
      const status = (info.error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
      if (status === 501) throw info.error;
      const retryAfterMs = info.retryAfterHint ? info.retryAfterHint.getTime() - Date.now() : undefined;
      const decision = retryDecision(info.errorType, attempt, policy, Math.random, retryAfterMs);
      if (!decision.retry) throw info.error ?? new Error(decision.reason);
      onRetry?.({ kind: info.errorType, attempt, delayMs: decision.delayMs, error: info.error });
      return token(attempt, decision.delayMs);
    },
    recordSuccess(_token: Token): void {},
  };
}
