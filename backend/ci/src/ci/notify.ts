/**
 * Notifications after a run (SPEC step 11): Teams (incoming webhook, Adaptive
 * Card) and email (SMTP). One small interface per channel; `notifyAll` sends
 * to every configured channel and returns what happened, never throwing, so a
 * notification failure is recorded on the run and never changes its result.
 */
import type { Redactor } from './redact.js';
import type { Summary } from './reports/types.js';
import { createEmailNotifier, type SmtpConfig } from './notify/email.js';
import { createTeamsNotifier } from './notify/teams.js';
import type { RetryOptions } from './notify/retry.js';

export interface NotificationEvent {
  summary: Summary;
  run: {
    run_id: string;
    app: string;
    env: string;
    kind: string;
    /** The run's final status (RunStatus: success, failed, rolled_back, cancelled, error). */
    status: string;
    reason: string | null;
    initiator: string;
    duration_ms: number | null;
    run_url: string;
    /** Artifact path (e.g. "newman.html", "trx/unit.trx") → its URL. */
    artifact_urls: Record<string, string>;
  };
}

export interface SendReceipt {
  attempts: number;
}

/**
 * A channel. `send` resolves when the message was accepted (with how many
 * attempts it took) and rejects after its last attempt with a message that
 * holds no secret (a `NotifyError` carries `attempts`).
 */
export interface Notifier {
  readonly channel: string;
  send(e: NotificationEvent): Promise<SendReceipt | void>;
}

export interface NotifyConfig {
  teamsWebhookUrl?: string;
  smtp?: SmtpConfig;
  redactor: Redactor;
  /** Retry tuning (tests inject `sleep`). */
  retry?: RetryOptions;
}

export function createNotifiers(cfg: NotifyConfig): Notifier[] {
  const out: Notifier[] = [];
  if (cfg.teamsWebhookUrl) out.push(createTeamsNotifier({ webhookUrl: cfg.teamsWebhookUrl, redactor: cfg.redactor, ...cfg.retry }));
  if (cfg.smtp) out.push(createEmailNotifier({ smtp: cfg.smtp, redactor: cfg.redactor, ...cfg.retry }));
  return out;
}

export interface NotifyResult {
  channel: string;
  ok: boolean;
  error?: string;
  attempts: number;
}

export async function notifyAll(notifiers: readonly Notifier[], e: NotificationEvent): Promise<NotifyResult[]> {
  return Promise.all(
    notifiers.map(async (n): Promise<NotifyResult> => {
      try {
        const receipt = await n.send(e);
        return { channel: n.channel, ok: true, attempts: receipt?.attempts ?? 1 };
      } catch (err) {
        const attempts = typeof (err as { attempts?: unknown }).attempts === 'number' ? (err as { attempts: number }).attempts : 1;
        return { channel: n.channel, ok: false, error: err instanceof Error ? err.message : String(err), attempts };
      }
    }),
  );
}

export type { SmtpConfig };
