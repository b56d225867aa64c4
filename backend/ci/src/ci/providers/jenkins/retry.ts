/**
 * Retrying provider calls for the orchestrator: exponential backoff with jitter, only for
 * errors that say `retryable: true` (network, timeout, 5xx, 429; see CiProvider's error
 * contract), giving up at the deadline with the last error.
 *
 * Not every call is safe to retry blindly. `trigger` is the one that is not: a timeout or 5xx
 * may still have queued a build. Before retrying a trigger, look for it with
 * `JenkinsClient.locateByRunId` (docs/jenkins-client.md, "Retrying a trigger").
 */
import { ProviderError } from '../../errors.js';

export interface RetryInfo {
  /** The attempt that just failed, from 1. */
  attempt: number;
  /** How long we wait before the next attempt. */
  delayMs: number;
  error: ProviderError;
}

export interface RetryOptions {
  /** Total time budget in ms, counted from the call; the last attempt starts no later than this. */
  deadlineMs: number;
  signal?: AbortSignal;
  /** Called before each wait, e.g. to show "Jenkins unreachable, retrying in 2 s: …". Must not throw (if it does, it is ignored). */
  onRetry?: (info: RetryInfo) => void;
  /** First backoff step (default 250 ms); doubles each attempt. */
  baseDelayMs?: number;
  /** Largest backoff step (default 10 s). */
  maxDelayMs?: number;
  /** Source of randomness for the jitter, in [0, 1) (default Math.random). */
  random?: () => number;
}

/**
 * Runs `fn` until it resolves, a non-retryable error is thrown (rethrown at once), the signal
 * aborts (ProviderError 'aborted'), or the deadline passes (the last error is rethrown).
 * Anything thrown that is not a ProviderError is a bug, not a transient failure: rethrown at once.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const { deadlineMs, signal, onRetry } = opts;
  if (!Number.isFinite(deadlineMs) || deadlineMs < 0) {
    throw new ProviderError('invalid_argument', `withRetry needs deadlineMs >= 0 (a budget in milliseconds), got ${String(deadlineMs)}.`, false);
  }
  const base = opts.baseDelayMs ?? 250;
  const max = opts.maxDelayMs ?? 10_000;
  const random = opts.random ?? Math.random;
  const deadline = Date.now() + deadlineMs;

  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal);
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof ProviderError) || !err.retryable) throw err;
      throwIfAborted(signal);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw err;
      // "Equal jitter": half the step fixed, half random, so waits grow but callers do not align.
      const step = Math.min(max, base * 2 ** (attempt - 1));
      const delayMs = Math.min(remaining, Math.round(step / 2 + random() * (step / 2)));
      try {
        onRetry?.({ attempt, delayMs, error: err });
      } catch {
        /* a listener that throws must not stop the retries */
      }
      await sleep(delayMs, signal);
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ProviderError('aborted', 'The operation was cancelled.', false, null, { cause: signal.reason });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ProviderError('aborted', 'The operation was cancelled.', false, null, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
