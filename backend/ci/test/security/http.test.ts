import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/auth/tokens.js';
import { artifactHeaders, BODY_LIMIT_BYTES } from '../../src/security/http.js';
import { FAKE_SESSION_SECRET, type Harness, json, startHarness } from '../auth/harness.js';

describe('security headers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AUTH_MODE: 'none' });
  });
  afterAll(async () => h.close());

  it('sends a strict CSP for the page: self only, no inline script, WS back to the server', async () => {
    const res = await fetch(`${h.url}/page`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const d = Object.fromEntries(csp.split(';').map((p) => p.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    expect(d['default-src']).toEqual(["'self'"]);
    expect(d['script-src']).toEqual(["'self'"]);
    expect(d['connect-src']).toEqual(["'self'", 'ws:', 'wss:']);
    expect(d['object-src']).toEqual(["'none'"]);
    expect(d['frame-ancestors']).toEqual(["'none'"]);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    // Bound to loopback: no HSTS (it would pin https on localhost).
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it('lets only the OpenAPI UI (/docs) use inline styles; scripts stay self-only there too', async () => {
    const docs = (await fetch(`${h.url}/docs/anything`)).headers.get('content-security-policy') ?? '';
    expect(docs).toContain("style-src 'self' 'unsafe-inline'");
    expect(docs).toContain("script-src 'self';");
    expect(docs).not.toMatch(/script-src[^;]*unsafe/);
    expect((await fetch(`${h.url}/docsx`)).headers.get('content-security-policy')).not.toContain('unsafe-inline');
  });

  it('sends no CORS headers by default and refuses a preflight from any origin', async () => {
    const res = await fetch(`${h.url}/ci/runs`, { headers: { origin: 'https://other.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${h.url}/ci/runs`, { method: 'OPTIONS', headers: { origin: 'https://other.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(403);
    expect((await json(pre)).error.code).toBe('cors_not_allowed');
  });

  it('refuses a body over the limit with 413 in the error shape', async () => {
    const res = await fetch(`${h.url}/ci/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(BODY_LIMIT_BYTES) }) });
    expect(res.status).toBe(413);
    expect((await json(res)).error.code).toBeTruthy();
    expect(h.writes).toHaveLength(0);
  });

  it('refuses an over-long route parameter and a malformed escape in the error shape, without echoing the URL', async () => {
    const long = await fetch(`${h.url}/ci/environments/${'e'.repeat(300)}/rollback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(long.status).toBe(414);
    const body = await json(long);
    expect(body.error.code).toBe('param_too_long');
    expect(JSON.stringify(body)).not.toContain('eeeeeeeeee');
    const bad = await fetch(`${h.url}/ci/runs/%zz`);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toMatchObject({ code: 'bad_url' });
  });
});

describe('refused WebSocket upgrades', () => {
  it('closes the socket of an upgrade the router refuses, so the server can shut down', async () => {
    const h = await startHarness({ AUTH_MODE: 'none' });
    const refused = (p: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${h.wsUrl}${p}`);
        ws.once('unexpected-response', (_req, res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        ws.once('error', reject);
      });
    expect(await refused(`/ci/runs/${'x'.repeat(300)}/logs`)).toBe(414);
    expect(await refused('/ci/runs/%zz/logs')).toBe(400);
    // Before the fix the half-open sockets kept app.close() waiting forever (the test would time out here).
    await h.close();
  });
});

describe('CORS when CORS_ORIGINS lists an origin', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ AUTH_MODE: 'none', CORS_ORIGINS: 'https://qa.example.com' });
  });
  afterAll(async () => h.close());

  it('answers a preflight from the listed origin and nothing for others', async () => {
    const pre = await fetch(`${h.url}/ci/runs`, { method: 'OPTIONS', headers: { origin: 'https://qa.example.com', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://qa.example.com');
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/x-csrf-token/);
    const other = await fetch(`${h.url}/ci/runs`, { headers: { origin: 'https://qa.example.com.evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('rate limits', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness({ AUTH_MODE: 'token', SESSION_SECRET: FAKE_SESSION_SECRET, RATE_LIMIT_WRITES_PER_MIN: '3', RATE_LIMIT_LOGIN_PER_MIN: '2', RATE_LIMIT_READS_PER_MIN: '50' });
    token = (await createToken(h.db, { name: 'busy', role: 'deployer' })).token;
  });
  afterAll(async () => h.close());

  const write = () => fetch(`${h.url}/ci/runs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });

  it('limits writes with a 429 in the DESIGN error shape and Retry-After, while reads go on', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await write()).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
    const limited = await write();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = await json(limited);
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/Too many changes from this address \(limit 3 a minute\); wait \d+ s/);
    expect(body.error.details.retry_after_s).toBeGreaterThan(0);
    expect((await fetch(`${h.url}/ci/runs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('limits sign-in attempts separately and more tightly', async () => {
    const attempt = () => fetch(`${h.url}/ci/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: `qaci_${'Q'.repeat(43)}` }) });
    const statuses = [(await attempt()).status, (await attempt()).status, (await attempt()).status];
    expect(statuses).toEqual([401, 401, 429]);
  });
});

describe('artifactHeaders', () => {
  it('sandboxes an artifact and forbids sniffing', async () => {
    const app = Fastify();
    app.get('/a', async (_req, reply) => artifactHeaders(reply).type('text/html').send('<script>1</script>'));
    const res = await app.inject({ url: '/a' });
    expect(res.headers['content-security-policy']).toBe('sandbox allow-scripts');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    await app.close();
  });

  it('overrides the page CSP on a real hardened app (helmet runs first)', async () => {
    const h = await startHarness({ AUTH_MODE: 'none' });
    try {
      mkdirSync(path.join(h.dir, 'runs', 'r1'), { recursive: true });
      writeFileSync(path.join(h.dir, 'runs', 'r1', 'newman.html'), '<!doctype html><script>alert(1)</script>');
      const res = await fetch(`${h.url}/ci/runs/r1/artifacts/newman.html`);
      // Read the body: an unread one keeps the connection busy, and close() would wait for it.
      const body = await res.text();
      expect(res.status).toBe(200);
      expect(body).toContain('<script>alert(1)</script>');
      expect(res.headers.get('content-security-policy')).toBe('sandbox allow-scripts');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await h.close();
    }
  });
});
