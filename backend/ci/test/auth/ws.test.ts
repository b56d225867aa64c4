/** The WebSocket is authenticated by the session cookie or a single-use 30-second ticket, over real WS. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createToken } from '../../src/auth/tokens.js';
import { cookieHeader, cookiesOf, FAKE_SESSION_SECRET, type Harness, json, startHarness } from './harness.js';

type Outcome = { status: 'open'; message: any } | { status: number };

/** Opens the WS; resolves with its first message, or with the HTTP status that refused the upgrade. */
function connect(url: string, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', (data) => {
      resolve({ status: 'open', message: JSON.parse(String(data)) });
      ws.close();
    });
    ws.once('unexpected-response', (upgradeReq, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      // With this listener, ws leaves the refused upgrade's socket open: close it, or the server waits for it on close.
      upgradeReq.destroy();
    });
    ws.once('error', reject);
  });
}

describe('WS authentication', () => {
  let h: Harness;
  let viewerToken: string;
  let adminToken: string;
  beforeAll(async () => {
    h = await startHarness({ AUTH_MODE: 'token', SESSION_SECRET: FAKE_SESSION_SECRET });
    viewerToken = (await createToken(h.db, { name: 'wendy', role: 'viewer' })).token;
    adminToken = (await createToken(h.db, { name: 'root-ish', role: 'admin' })).token;
  });
  afterAll(async () => h.close());

  const ticketFor = async (token: string) => {
    const res = await fetch(`${h.url}/ci/auth/ws-ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.expires_in_s).toBe(30);
    return body.ticket as string;
  };

  it('refuses an anonymous upgrade with 401', async () => {
    expect(await connect(`${h.wsUrl}/ci/runs/r1/logs`)).toEqual({ status: 401 });
  });

  it('accepts a ticket once, bound to the principal that asked for it', async () => {
    const ticket = await ticketFor(viewerToken);
    const first = await connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=${ticket}`);
    expect(first).toEqual({ status: 'open', message: { hello: 'wendy', role: 'viewer', via: 'token' } });
    expect(await connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=${ticket}`)).toEqual({ status: 401 });
  });

  it('lets only one of two simultaneous uses of a ticket through', async () => {
    const ticket = await ticketFor(viewerToken);
    const both = await Promise.all([connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=${ticket}`), connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=${ticket}`)]);
    expect(both.filter((o) => o.status === 'open')).toHaveLength(1);
  });

  it('refuses a ticket older than 30 seconds', async () => {
    const ticket = await ticketFor(viewerToken);
    const real = Date.now();
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => real + 31_000);
    try {
      expect(await connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=${ticket}`)).toEqual({ status: 401 });
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses a made-up or malformed ticket, and an API token in the URL', async () => {
    expect(await connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=${'A'.repeat(43)}`)).toEqual({ status: 401 });
    expect(await connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=../../etc`)).toEqual({ status: 401 });
    expect(await connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=${viewerToken}`)).toEqual({ status: 401 });
    expect(await connect(`${h.wsUrl}/ci/runs/r1/logs?token=${viewerToken}`)).toEqual({ status: 400 });
  });

  it('refuses a ticket presented together with another user\'s session', async () => {
    const login = await fetch(`${h.url}/ci/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: adminToken }) });
    const cookie = cookieHeader(cookiesOf(login).jar);
    const ticket = await ticketFor(viewerToken);
    expect(await connect(`${h.wsUrl}/ci/runs/r1/logs?ticket=${ticket}`, { cookie })).toEqual({ status: 401 });
  });

  it('accepts the session cookie, and refuses it from a foreign Origin (cross-site WebSocket hijacking)', async () => {
    const login = await fetch(`${h.url}/ci/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: viewerToken }) });
    const cookie = cookieHeader(cookiesOf(login).jar);
    const ok = await connect(`${h.wsUrl}/ci/runs/r1/logs`, { cookie, origin: h.url });
    expect(ok).toEqual({ status: 'open', message: { hello: 'wendy', role: 'viewer', via: 'session' } });
    expect(await connect(`${h.wsUrl}/ci/runs/r1/logs`, { cookie, origin: 'https://evil.example' })).toEqual({ status: 403 });
  });

  it('needs a principal to issue a ticket', async () => {
    const res = await fetch(`${h.url}/ci/auth/ws-ticket`, { method: 'POST' });
    expect(res.status).toBe(401);
  });
});
