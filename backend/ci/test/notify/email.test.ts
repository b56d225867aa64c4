/** The email notifier against a real local SMTP server (smtp-server), parsing what arrived (mailparser). */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPError } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { createNotifiers, notifyAll } from '../../src/ci/notify.js';
import { createRedactor } from '../../src/ci/redact.js';
import { FAKE_SECRET, failedRunEvent, RUN_URL } from './helpers.js';

const SMTP_PASSWORD = 'fake-smtp-password-example';
const servers: SMTPServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A sink that requires AUTH with the fake credentials and can refuse recipients from a script. */
async function smtpSink(rcptReplies: Array<number | null> = [null]) {
  const mails: ParsedMail[] = [];
  const auths: Array<{ user?: string; passwordOk: boolean }> = [];
  let rcpt = 0;
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      auths.push({ user: auth.username, passwordOk: auth.password === SMTP_PASSWORD });
      if (auth.username === 'qa-bot' && auth.password === SMTP_PASSWORD) cb(null, { user: 'qa-bot' });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(_address, _session, cb) {
      const code = rcptReplies[Math.min(rcpt++, rcptReplies.length - 1)];
      if (code) cb(Object.assign(new Error(code >= 500 ? 'mailbox unavailable' : 'try again later'), { responseCode: code }) as SMTPError);
      else cb();
    },
    onData(stream, _session, cb) {
      simpleParser(stream).then(
        (m) => {
          mails.push(m);
          cb();
        },
        (e: Error) => cb(e),
      );
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  const port = (server.server.address() as AddressInfo).port;
  return { mails, auths, port };
}

const smtpConfig = (port: number, password = SMTP_PASSWORD) => ({
  host: '127.0.0.1',
  port,
  secure: false,
  ignoreTLS: true,
  user: 'qa-bot',
  password,
  from: 'qa-ci@example.com',
  to: ['wesign-team@example.com', 'qa@example.com'],
});
const redactor = createRedactor([FAKE_SECRET, SMTP_PASSWORD]);
const noWait = { sleep: async () => {}, baseDelayMs: 1 };

describe('email notifier', () => {
  it('delivers an HTML + text email with status, score, gates and links, and no secret', async () => {
    const sink = await smtpSink();
    const e = await failedRunEvent();
    const notifiers = createNotifiers({ smtp: smtpConfig(sink.port), redactor, retry: noWait });
    expect(notifiers.map((n) => n.channel)).toEqual(['email']);
    const results = await notifyAll(notifiers, e);
    expect(results).toEqual([{ channel: 'email', ok: true, attempts: 1 }]);
    expect(sink.auths).toEqual([{ user: 'qa-bot', passwordOk: true }]);

    expect(sink.mails).toHaveLength(1);
    const m = sink.mails[0]!;
    expect(m.subject).toBe(`[QA CI] WeSign → DevTest: FAILED · score ${e.summary.score.value} · run 7b0e4a52`);
    expect(m.from?.text).toBe('qa-ci@example.com');
    expect(m.text).toContain(`Score    ${e.summary.score.value} / threshold 80`);
    expect(m.text).toContain(`Open run: ${RUN_URL}`);
    expect(m.text).toContain(`API report (newman.html): ${RUN_URL}/artifacts/newman.html`);
    expect(m.text).toContain('Initiator: dana@example.com');
    const html = m.html as string;
    expect(html).toContain(`<a href="${RUN_URL}">Open run</a>`);
    expect(html).toContain(`<a href="${RUN_URL}/artifacts/playwright.html">E2E report (playwright.html)</a>`);
    expect(html).toContain('Failed gates</th><td>score</td>');
    for (const body of [m.subject ?? '', m.text ?? '', html]) {
      expect(body).not.toContain(FAKE_SECRET);
      expect(body).not.toContain(SMTP_PASSWORD);
    }
  });

  it('retries a transient 451 and then delivers', async () => {
    const sink = await smtpSink([451, 451, null]); // both recipients refused once, then accepted
    const results = await notifyAll(createNotifiers({ smtp: smtpConfig(sink.port), redactor, retry: noWait }), await failedRunEvent());
    expect(results).toEqual([{ channel: 'email', ok: true, attempts: 2 }]);
    expect(sink.mails).toHaveLength(1);
  });

  it('when one recipient is refused for now, retries that recipient only', async () => {
    const sink = await smtpSink([451, null]); // wesign-team refused once; qa accepted
    const results = await notifyAll(createNotifiers({ smtp: smtpConfig(sink.port), redactor, retry: noWait }), await failedRunEvent());
    expect(results).toEqual([{ channel: 'email', ok: true, attempts: 2 }]);
    expect(sink.mails.map((m) => (Array.isArray(m.to) ? m.to.map((t) => t.text).join() : m.to?.text))).toEqual(['wesign-team@example.com, qa@example.com', 'wesign-team@example.com']); // the retry goes to the refused one only
  });

  it('reports a permanent refusal without retrying and without the password', async () => {
    const sink = await smtpSink([550]);
    const [r] = await notifyAll(createNotifiers({ smtp: smtpConfig(sink.port), redactor, retry: noWait }), await failedRunEvent());
    expect(r).toMatchObject({ channel: 'email', ok: false, attempts: 1 });
    expect(r!.error).toMatch(/^SMTP server refused the message: .*550/);
    expect(sink.mails).toHaveLength(0);
  });

  it('reports refused credentials without echoing them', async () => {
    const sink = await smtpSink();
    const wrong = 'fake-wrong-password-example';
    const [r] = await notifyAll(createNotifiers({ smtp: smtpConfig(sink.port, wrong), redactor: createRedactor([wrong]), retry: noWait }), await failedRunEvent());
    expect(r).toMatchObject({ ok: false });
    expect(r!.error).toMatch(/535|Invalid login|EAUTH/);
    expect(r!.error).not.toContain(wrong);
  });
});
