/**
 * Teams incoming webhook: POSTs the Adaptive Card message, retrying 429 (after
 * Retry-After when given) and 5xx/network errors with backoff. The webhook URL
 * is a credential (whoever has it can post to the channel): it is never put in
 * a log line, an error message or a result.
 */
import type { Redactor } from '../redact.js';
import type { NotificationEvent, Notifier, SendReceipt } from '../notify.js';
import { buildTeamsMessage, maskDeep } from './card.js';
import { backoffMs, defaultSleep, NotifyError, parseRetryAfter, type RetryOptions } from './retry.js';

export interface TeamsOptions extends RetryOptions {
  webhookUrl: string;
  redactor: Redactor;
  /** One attempt's deadline (default 10 000 ms). */
  timeoutMs?: number;
}

export function createTeamsNotifier(o: TeamsOptions): Notifier {
  let url: URL;
  try {
    url = new URL(o.webhookUrl);
  } catch {
    throw new Error('TEAMS_WEBHOOK_URL is not a URL; paste the incoming webhook URL from the Teams channel (Connectors or Workflows)');
  }
  const maxAttempts = o.maxAttempts ?? 4;
  const base = o.baseDelayMs ?? 1000;
  const maxDelay = o.maxDelayMs ?? 60_000;
  const sleep = o.sleep ?? defaultSleep;
  const timeoutMs = o.timeoutMs ?? 10_000;
  // The URL itself, its path and query are secrets in their own right.
  const hide = (s: string) => o.redactor.mask(s).split(o.webhookUrl).join('[webhook]').split(url.pathname + url.search).join('[webhook]');

  return {
    channel: 'teams',
    async send(e: NotificationEvent): Promise<SendReceipt> {
      const payload = JSON.stringify(maskDeep(buildTeamsMessage(e), o.redactor.mask));
      let last = '';
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        let wait: number | null = null;
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: payload,
            signal: AbortSignal.timeout(timeoutMs),
            redirect: 'error',
          });
          const text = (await res.text().catch(() => '')).slice(0, 200);
          if (res.ok) return { attempts: attempt };
          last = `HTTP ${res.status}${text ? `: ${hide(text)}` : ''}`;
          if (res.status === 429) wait = parseRetryAfter(res.headers.get('retry-after')) ?? backoffMs(attempt, base, maxDelay);
          else if (res.status >= 500) wait = backoffMs(attempt, base, maxDelay);
          else throw new NotifyError(`Teams webhook refused the message (${last}); check that the webhook still exists and accepts Adaptive Cards`, attempt, false);
        } catch (err) {
          if (err instanceof NotifyError) throw err;
          const cause = (err as Error & { cause?: Error }).cause;
          last = hide(`${(err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message}${cause?.message ? ` (${cause.message})` : ''}`);
          wait = backoffMs(attempt, base, maxDelay);
        }
        if (attempt < maxAttempts) await sleep(Math.min(wait ?? 0, maxDelay));
      }
      throw new NotifyError(`Teams webhook failed after ${maxAttempts} attempts: ${last}`, maxAttempts, true);
    },
  };
}
