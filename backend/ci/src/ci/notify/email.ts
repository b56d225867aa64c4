/**
 * Email through SMTP (nodemailer): a short HTML body and the same in plain
 * text. Transient SMTP failures (connection errors, 4xx replies such as 421
 * or 451) are retried with backoff; 5xx replies are final.
 */
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Redactor } from '../redact.js';
import type { NotificationEvent, Notifier, SendReceipt } from '../notify.js';
import { formatMs, renderConsoleBlock } from '../reports/render.js';
import { reportLinks, statusLabel } from './card.js';
import { backoffMs, defaultSleep, NotifyError, type RetryOptions } from './retry.js';

export interface SmtpConfig {
  host: string;
  port: number;
  secure: boolean;
  user?: string;
  password?: string;
  ignoreTLS: boolean;
  from: string;
  to: string[];
}

export interface EmailOptions extends RetryOptions {
  smtp: SmtpConfig;
  redactor: Redactor;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function emailSubject(e: NotificationEvent): string {
  return `[QA CI] ${e.run.app} → ${e.run.env}: ${statusLabel(e)} · score ${e.summary.score.value} · run ${e.run.run_id.slice(0, 8)}`;
}

export function emailText(e: NotificationEvent): string {
  const links = reportLinks(e).map((l) => `${l.title}: ${l.url}`);
  return `${renderConsoleBlock(e.summary)}${e.run.reason ? `\nReason: ${e.run.reason}\n` : ''}\nDuration: ${formatMs(e.run.duration_ms)}\nInitiator: ${e.run.initiator}\n\n${links.join('\n')}\n`;
}

export function emailHtml(e: NotificationEvent): string {
  const s = e.summary;
  const color = e.run.status === 'success' ? '#1a7f37' : e.run.status === 'rolled_back' ? '#9a6700' : '#cf222e';
  const row = (k: string, v: string) => `<tr><th align="left" style="padding:2px 12px 2px 0">${esc(k)}</th><td>${esc(v)}</td></tr>`;
  const gates = s.gates
    .map((g) => `<tr><td>${esc(g.id)}</td><td style="color:${g.passed ? '#1a7f37' : '#cf222e'}">${g.passed ? 'pass' : 'FAIL'}</td><td>${esc(g.reason)}</td></tr>`)
    .join('');
  const links = reportLinks(e)
    .map((l) => `<li><a href="${esc(l.url)}">${esc(l.title)}</a></li>`)
    .join('');
  return `<!DOCTYPE html><html><body style="font-family:Segoe UI,Arial,sans-serif">
<h2 style="color:${color}">${esc(`${e.run.app} → ${e.run.env}: ${statusLabel(e)}`)}</h2>
${s.rollback_failed ? '<p style="color:#cf222e;font-weight:bold">The automatic rollback failed: DevTest may be down. Restore the backup by hand (docs/Runbook.md).</p>' : ''}
<table>${row('Run', e.run.run_id)}${row('Run Score', `${s.score.value} (threshold ${s.score.threshold})`)}${row('Failed gates', s.verdict.failed_gates.join(', ') || 'none')}${row('Duration', formatMs(e.run.duration_ms))}${row('Initiator', e.run.initiator)}${row('Branch/tag', s.run.branch_or_tag)}${e.run.reason ? row('Reason', e.run.reason) : ''}${s.verdict.failure ? row('Failure', `${s.verdict.failure.kind}: ${s.verdict.failure.message}`) + row('Next step', s.verdict.failure.next_step) : ''}</table>
<h3>Gates</h3><table border="1" cellpadding="4" style="border-collapse:collapse">${gates}</table>
<h3>Links</h3><ul>${links}</ul>
</body></html>`;
}

const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET']);

export function createEmailNotifier(o: EmailOptions): Notifier {
  const { smtp } = o;
  if (!smtp.to.length) throw new Error('NOTIFY_EMAIL_TO is empty; give at least one recipient address');
  // nodemailer is imported at the first send, not at startup: it is several MB of modules
  // that an idle backend (or one that never sends mail) does not need. Creating the
  // transport opens no connection, so making it later changes nothing.
  let transport: Promise<Transporter<SMTPTransport.SentMessageInfo>> | undefined;
  const getTransport = () =>
    (transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ignoreTLS: smtp.ignoreTLS,
        ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
      }),
    ));
  const maxAttempts = o.maxAttempts ?? 3;
  const base = o.baseDelayMs ?? 2000;
  const maxDelay = o.maxDelayMs ?? 60_000;
  const sleep = o.sleep ?? defaultSleep;
  const hide = (s: string) => {
    let out = o.redactor.mask(s);
    if (smtp.password && smtp.password.length >= 4) out = out.split(smtp.password).join('****');
    return out;
  };

  return {
    channel: 'email',
    async send(e: NotificationEvent): Promise<SendReceipt> {
      const message = {
        from: smtp.from,
        to: smtp.to,
        subject: hide(emailSubject(e)),
        text: hide(emailText(e)),
        html: hide(emailHtml(e)),
      };
      const smtpTransport = await getTransport();
      let last = '';
      // Recipients still to reach: a server may accept some and refuse others.
      let pending = [...smtp.to];
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        try {
          const info = await smtpTransport.sendMail({ ...message, to: pending });
          const rejected = (info.rejected ?? []).map((r) => (typeof r === 'string' ? r : r.address));
          if (!rejected.length) return { attempts: attempt };
          const codes = ((info as { rejectedErrors?: Array<{ responseCode?: number }> }).rejectedErrors ?? []).map((x) => x.responseCode ?? 0);
          pending = rejected;
          last = `the server refused ${rejected.length} recipient(s): ${rejected.join(', ')}${codes.length ? ` (${codes.join(', ')})` : ''}`;
          if (codes.some((c) => c >= 500)) throw new NotifyError(`email reached only some recipients: ${last}`, attempt, false);
          if (attempt < maxAttempts) await sleep(backoffMs(attempt, base, maxDelay));
        } catch (err) {
          if (err instanceof NotifyError) throw err;
          const x = err as Error & { code?: string; responseCode?: number };
          last = hide(`${x.code ? `${x.code}: ` : ''}${x.message}`);
          const transient = (x.responseCode !== undefined && x.responseCode >= 400 && x.responseCode < 500) || (x.code !== undefined && TRANSIENT_CODES.has(x.code));
          if (!transient) throw new NotifyError(`SMTP server refused the message: ${last}`, attempt, false);
          if (attempt < maxAttempts) await sleep(backoffMs(attempt, base, maxDelay));
        }
      }
      throw new NotifyError(`email failed after ${maxAttempts} attempts: ${last}`, maxAttempts, true);
    },
  };
}
