/** Retry with exponential backoff, shared by the notifiers. */

export interface RetryOptions {
  /** Total attempts, first one included (default 4). */
  maxAttempts?: number;
  /** First backoff; doubles each retry, with ±20 % jitter (default 1000 ms). */
  baseDelayMs?: number;
  /** Upper bound of one wait, Retry-After included (default 60 000 ms). */
  maxDelayMs?: number;
  /** Injected in tests so they assert the waits asked for without waiting. */
  sleep?: (ms: number) => Promise<void>;
}

export const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function backoffMs(attempt: number, base: number, max: number): number {
  const exp = base * 2 ** (attempt - 1);
  const jitter = exp * 0.2 * (Math.random() * 2 - 1);
  return Math.min(max, Math.max(0, Math.round(exp + jitter)));
}

/**
 * Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Returns milliseconds, or null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isFinite(date) ? Math.max(0, date - now) : null;
}

/** An error from a notifier after its last attempt; `attempts` says how many were made. */
export class NotifyError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'NotifyError';
  }
}
