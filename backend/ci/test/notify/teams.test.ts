/** The Teams notifier against a real local HTTP receiver (node:http over loopback). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNotifiers, notifyAll, type Notifier } from '../../src/ci/notify.js';
import { createTeamsNotifier } from '../../src/ci/notify/teams.js';
import { parseRetryAfter } from '../../src/ci/notify/retry.js';
import { createRedactor } from '../../src/ci/redact.js';
import { FAKE_SECRET, failedRunEvent, RUN_URL } from './helpers.js';

interface Received {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

/** A webhook receiver answering from a script of responses (the last one repeats). */
async function receiver(script: Array<{ status: number; headers?: Record<string, string>; body?: string }>) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body });
      const r = script[Math.min(received.length - 1, script.length - 1)]!;
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  servers.push(server);
  // The path and query are what make a Teams webhook URL a secret.
  const path = '/webhookb2/fake-example-tenant@fake/IncomingWebhook/fakeexamplehook0001/fake-example-sig';
  return { received, url: `http://127.0.0.1:${port}${path}?sig=fakeexamplesig`, path };
}
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const redactor = createRedactor([FAKE_SECRET]);
const recordSleep = () => {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
};

describe('Teams notifier', () => {
  it('posts an Adaptive Card with status, score, failed gates, duration, initiator and links, and no secret', async () => {
    const r = await receiver([{ status: 200, body: '1' }]);
    const e = await failedRunEvent();
    const teams = createTeamsNotifier({ webhookUrl: r.url, redactor });
    expect(await teams.send(e)).toEqual({ attempts: 1 });

    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got.method).toBe('POST');
    expect(got.contentType).toBe('application/json');
    const msg = JSON.parse(got.body);
    expect(msg.type).toBe('message');
    const att = msg.attachments[0];
    expect(att.contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = att.content;
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.body[0].text).toBe('WeSign → DevTest: FAILED');
    expect(card.body[0].color).toBe('Attention');
    const facts = Object.fromEntries(card.body.find((b: { type: string }) => b.type === 'FactSet').facts.map((f: { title: string; value: string }) => [f.title, f.value]));
    expect(facts).toMatchObject({
      Status: 'FAILED',
      'Run Score': `${e.summary.score.value} (threshold 80)`,
      'Failed gates': 'score',
      Duration: '8 min 5 s',
      Initiator: 'dana@example.com',
    });
    const links = card.actions.map((a: { type: string; title: string; url: string }) => [a.type, a.title, a.url]);
    expect(links).toContainEqual(['Action.OpenUrl', 'Open run', RUN_URL]);
    expect(links).toContainEqual(['Action.OpenUrl', 'API report (newman.html)', `${RUN_URL}/artifacts/newman.html`]);
    expect(links).toContainEqual(['Action.OpenUrl', 'E2E report (playwright.html)', `${RUN_URL}/artifacts/playwright.html`]);
    expect(got.body).not.toContain(FAKE_SECRET);
    expect(got.body).toContain('token=****');
  });

  it('keeps the card under Teams’ 28 KB limit when the reason is very long', async () => {
    const r = await receiver([{ status: 200 }]);
    const e = await failedRunEvent();
    e.run.reason = 'gate failed: '.repeat(5000);
    await createTeamsNotifier({ webhookUrl: r.url, redactor }).send(e);
    expect(Buffer.byteLength(r.received[0]!.body)).toBeLessThan(28 * 1024);
  });

  it('on 429 waits what Retry-After says, then delivers', async () => {
    const r = await receiver([{ status: 429, headers: { 'retry-after': '7' }, body: 'slow down' }, { status: 202 }]);
    const { waits, sleep } = recordSleep();
    const teams = createTeamsNotifier({ webhookUrl: r.url, redactor, sleep, baseDelayMs: 10 });
    expect(await teams.send(await failedRunEvent())).toEqual({ attempts: 2 });
    expect(waits).toEqual([7000]);
    expect(r.received).toHaveLength(2);
  });

  it('retries 5xx with growing backoff and then fails with a message that holds no webhook URL', async () => {
    const r = await receiver([{ status: 503, body: 'upstream unavailable' }]);
    const { waits, sleep } = recordSleep();
    const teams = createTeamsNotifier({ webhookUrl: r.url, redactor, sleep, baseDelayMs: 100, maxAttempts: 4 });
    const [result] = await notifyAll([teams], await failedRunEvent());
    expect(result).toMatchObject({ channel: 'teams', ok: false, attempts: 4 });
    expect(result!.error).toMatch(/^Teams webhook failed after 4 attempts: HTTP 503/);
    expect(result!.error).not.toContain(r.path);
    expect(r.received).toHaveLength(4);
    expect(waits).toHaveLength(3);
    // 100, 200, 400 ms ± 20 % jitter
    expect(waits[0]).toBeGreaterThanOrEqual(80);
    expect(waits[2]).toBeGreaterThanOrEqual(320);
    expect(waits[2]!).toBeGreaterThan(waits[0]!);
  });

  it('does not retry a 4xx other than 429', async () => {
    const r = await receiver([{ status: 400, body: 'Summary or Text is required.' }]);
    const { waits, sleep } = recordSleep();
    const [result] = await notifyAll([createTeamsNotifier({ webhookUrl: r.url, redactor, sleep })], await failedRunEvent());
    expect(result).toMatchObject({ ok: false, attempts: 1 });
    expect(result!.error).toContain('HTTP 400: Summary or Text is required.');
    expect(waits).toEqual([]);
  });

  it('a receiver that is down is retried and reported without the URL', async () => {
    const r = await receiver([{ status: 200 }]);
    await new Promise((res) => servers.pop()!.close(res)); // the port is now closed
    const { sleep } = recordSleep();
    const [result] = await notifyAll([createTeamsNotifier({ webhookUrl: r.url, redactor, sleep, maxAttempts: 2 })], await failedRunEvent());
    expect(result).toMatchObject({ channel: 'teams', ok: false, attempts: 2 });
    expect(result!.error).toMatch(/ECONNREFUSED|fetch failed/);
    expect(result!.error).not.toContain(r.path);
    expect(result!.error).not.toContain('fakeexamplesig');
  });

  it('notifyAll never throws and reports every channel', async () => {
    const r = await receiver([{ status: 200 }]);
    const throwing: Notifier = {
      channel: 'broken',
      send: async () => {
        throw new Error('exploded');
      },
    };
    const results = await notifyAll([...createNotifiers({ teamsWebhookUrl: r.url, redactor }), throwing], await failedRunEvent());
    expect(results).toEqual([
      { channel: 'teams', ok: true, attempts: 1 },
      { channel: 'broken', ok: false, error: 'exploded', attempts: 1 },
    ]);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-12-04T12:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Fri, 04 Dec 2026 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
