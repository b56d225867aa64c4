import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, revokeToken } from '../../src/auth/tokens.js';
import { cookieHeader, cookiesOf, FAKE_SESSION_SECRET, type Harness, json, startHarness } from './harness.js';

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('AUTH_MODE=token: bearer tokens, roles and browser sessions', () => {
  let h: Harness;
  let viewer: string;
  let deployer: string;
  let admin: string;
  beforeAll(async () => {
    h = await startHarness({ AUTH_MODE: 'token', SESSION_SECRET: FAKE_SESSION_SECRET });
    viewer = (await createToken(h.db, { name: 'vera', role: 'viewer' })).token;
    deployer = (await createToken(h.db, { name: 'dan', role: 'deployer' })).token;
    admin = (await createToken(h.db, { name: 'ada', role: 'admin' })).token;
  });
  afterAll(async () => h.close());

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('answers an anonymous request to a guarded route with 401 and WWW-Authenticate: Bearer', async () => {
    const res = await fetch(`${h.url}/ci/runs`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="qa-ci"/);
    const body = await json(res);
    expect(body.error.code).toBe('unauthenticated');
    expect(body.error.message).toMatch(/Authorization: Bearer/);
  });

  it('lets public routes through anonymously', async () => {
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    const me = await json(await fetch(`${h.url}/ci/me`));
    expect(me).toEqual({ user: null, auth_mode: 'token', sandbox: true });
  });

  it('enforces the role order viewer < deployer < admin, 403 naming the role needed', async () => {
    expect((await fetch(`${h.url}/ci/runs`, { headers: bearer(viewer) })).status).toBe(200);
    const denied = await post(`${h.url}/ci/runs`, { app: 'WeSign' }, bearer(viewer));
    expect(denied.status).toBe(403);
    const body = await json(denied);
    expect(body.error).toMatchObject({ code: 'forbidden', details: { required_role: 'deployer', role: 'viewer' } });
    expect(body.error.message).toMatch(/needs the deployer role; vera has viewer/);
    expect((await post(`${h.url}/ci/runs`, {}, bearer(deployer))).status).toBe(201);
    expect((await post(`${h.url}/ci/environments/DevTest/rollback`, {}, bearer(deployer))).status).toBe(403);
    expect((await post(`${h.url}/ci/environments/DevTest/rollback`, {}, bearer(admin))).status).toBe(202);
    const me = await json(await fetch(`${h.url}/ci/me`, { headers: bearer(deployer) }));
    expect(me.user).toMatchObject({ name: 'dan', role: 'deployer' });
  });

  it('refuses an unknown or malformed bearer with 401 invalid_token, even on a public route', async () => {
    const unknown = await fetch(`${h.url}/healthz`, { headers: bearer(`qaci_${'A'.repeat(43)}`) });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect((await json(unknown)).error.code).toBe('invalid_token');
    const notBearer = await fetch(`${h.url}/ci/runs`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    expect(notBearer.status).toBe(401);
    expect((await json(notBearer)).error.code).toBe('invalid_request');
    const jwtInTokenMode = await fetch(`${h.url}/ci/runs`, { headers: bearer('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.') });
    expect(jwtInTokenMode.status).toBe(401);
  });

  it('refuses credentials in the URL', async () => {
    const res = await fetch(`${h.url}/ci/runs?access_token=${viewer}`);
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('token_in_url');
  });

  it('signs in with a token: HttpOnly SameSite=Strict session cookie, readable CSRF cookie, not Secure on loopback', async () => {
    const res = await post(`${h.url}/ci/auth/login`, { token: deployer });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await json(res);
    expect(body.user).toMatchObject({ name: 'dan', role: 'deployer' });
    const { raw, jar } = cookiesOf(res);
    const session = raw.find((c) => c.startsWith('qa_session='))!;
    const csrf = raw.find((c) => c.startsWith('qa_csrf='))!;
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Strict/i);
    expect(session).not.toMatch(/Secure/i);
    expect(csrf).not.toMatch(/HttpOnly/i);
    expect(csrf).toMatch(/SameSite=Strict/i);
    expect(jar.qa_session).not.toBe(deployer);
    expect(JSON.stringify(body)).not.toContain(deployer);
  });

  it('marks the cookies Secure when the client is not on loopback (behind a trusted proxy)', async () => {
    const proxied = await startHarness({ AUTH_MODE: 'token', SESSION_SECRET: FAKE_SESSION_SECRET, TRUST_PROXY: 'true' });
    try {
      const t = (await createToken(proxied.db, { name: 'remote', role: 'viewer' })).token;
      const res = await post(`${proxied.url}/ci/auth/login`, { token: t }, { 'x-forwarded-for': '203.0.113.9' });
      expect(res.status).toBe(200);
      for (const c of cookiesOf(res).raw) expect(c).toMatch(/;\s*Secure/i);
      const audit = await proxied.db.selectFrom('audit_events' as never).selectAll().where('action' as never, '=', 'auth.login' as never).execute();
      expect((audit[0] as any).source_ip).toBe('203.0.113.9');
    } finally {
      await proxied.close();
    }
  });

  it('requires the CSRF header on cookie-authenticated writes, and exempts bearer requests', async () => {
    const login = await post(`${h.url}/ci/auth/login`, { token: deployer });
    const { jar } = cookiesOf(login);
    const cookie = cookieHeader(jar);

    expect((await fetch(`${h.url}/ci/runs`, { headers: { cookie } })).status).toBe(200);

    const before = h.writes.length;
    const none = await post(`${h.url}/ci/runs`, { x: 1 }, { cookie });
    expect(none.status).toBe(403);
    expect((await json(none)).error).toMatchObject({ code: 'csrf_failed' });
    const wrong = await post(`${h.url}/ci/runs`, { x: 1 }, { cookie, 'x-csrf-token': `${jar.qa_csrf!.slice(0, -1)}x` });
    expect(wrong.status).toBe(403);
    // A forged pair: header equals a cookie the attacker set, but it is not this session's token.
    const forged = 'F'.repeat(43);
    const forgedRes = await post(`${h.url}/ci/runs`, { x: 1 }, { cookie: `qa_session=${jar.qa_session}; qa_csrf=${forged}`, 'x-csrf-token': forged });
    expect(forgedRes.status).toBe(403);
    const foreign = await post(`${h.url}/ci/runs`, { x: 1 }, { cookie, 'x-csrf-token': jar.qa_csrf!, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect((await json(foreign)).error.code).toBe('origin_not_allowed');
    const lookalike = await post(`${h.url}/ci/runs`, { x: 1 }, { cookie, 'x-csrf-token': jar.qa_csrf!, origin: `${h.url}.evil.example` });
    expect(lookalike.status).toBe(403);
    expect(h.writes.length).toBe(before);

    const ok = await post(`${h.url}/ci/runs`, { x: 1 }, { cookie, 'x-csrf-token': jar.qa_csrf! });
    expect(ok.status).toBe(201);
    // Same host through a TLS-terminating proxy: the page is https, the service sees http.
    const viaTls = await post(`${h.url}/ci/runs`, { x: 1 }, { cookie, 'x-csrf-token': jar.qa_csrf!, origin: h.url.replace('http:', 'https:') });
    expect(viaTls.status).toBe(201);
    expect((await json(ok)).initiator).toBe('dan');

    expect((await post(`${h.url}/ci/runs`, { x: 2 }, bearer(deployer))).status).toBe(201);
  });

  it('ends the session on logout', async () => {
    const { jar } = cookiesOf(await post(`${h.url}/ci/auth/login`, { token: viewer }));
    const cookie = cookieHeader(jar);
    expect((await fetch(`${h.url}/ci/runs`, { headers: { cookie } })).status).toBe(200);
    const out = await post(`${h.url}/ci/auth/logout`, {}, { cookie, 'x-csrf-token': jar.qa_csrf! });
    expect(out.status).toBe(200);
    expect(cookiesOf(out).raw.some((c) => c.startsWith('qa_session=;'))).toBe(true);
    expect((await fetch(`${h.url}/ci/runs`, { headers: { cookie } })).status).toBe(401);
  });

  it('ends the sessions of a revoked token', async () => {
    const t = await createToken(h.db, { name: 'temp', role: 'viewer' });
    const { jar } = cookiesOf(await post(`${h.url}/ci/auth/login`, { token: t.token }));
    const cookie = cookieHeader(jar);
    expect((await fetch(`${h.url}/ci/runs`, { headers: { cookie } })).status).toBe(200);
    await revokeToken(h.db, t.id);
    expect((await fetch(`${h.url}/ci/runs`, { headers: { cookie } })).status).toBe(401);
    expect((await fetch(`${h.url}/ci/runs`, { headers: bearer(t.token) })).status).toBe(401);
  });

  it('refuses a wrong token at sign-in with 401 and records auth.failed without the token', async () => {
    const bad = `qaci_${'Z'.repeat(43)}`;
    const res = await post(`${h.url}/ci/auth/login`, { token: bad });
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe('invalid_credentials');
    expect(cookiesOf(res).raw).toEqual([]);
    const rows = (await h.db.selectFrom('audit_events' as never).selectAll().where('action' as never, '=', 'auth.failed' as never).execute()) as any[];
    expect(rows.some((r) => JSON.parse(r.details).via === 'login')).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(bad);
  });

  it('explains a malformed sign-in body', async () => {
    const res = await post(`${h.url}/ci/auth/login`, { tokn: 'x' });
    expect(res.status).toBe(422);
    expect((await json(res)).error.message).toMatch(/\{"token": "<API token or JWT>"\}/);
  });

  it('ignores a forged or stale session cookie (anonymous, not an error)', async () => {
    const res = await fetch(`${h.url}/ci/me`, { headers: { cookie: `qa_session=${'x'.repeat(43)}` } });
    expect(res.status).toBe(200);
    expect((await json(res)).user).toBeNull();
  });
});

describe('sign-in configuration', () => {
  it('without SESSION_SECRET, sign-in says what to set; bearer tokens still work', async () => {
    const h = await startHarness({ AUTH_MODE: 'token' });
    try {
      const t = (await createToken(h.db, { name: 'x', role: 'viewer' })).token;
      const res = await post(`${h.url}/ci/auth/login`, { token: t });
      expect(res.status).toBe(503);
      expect((await json(res)).error).toMatchObject({ code: 'sessions_not_configured' });
      expect((await fetch(`${h.url}/ci/runs`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('AUTH_MODE=none: everyone is the local admin, sign-in is 409, foreign Host and Origin are refused', async () => {
    const h = await startHarness({ AUTH_MODE: 'none' });
    try {
      const me = await json(await fetch(`${h.url}/ci/me`));
      expect(me).toEqual({ user: { id: 'local', name: 'local', role: 'admin' }, auth_mode: 'none', sandbox: true });
      expect((await post(`${h.url}/ci/environments/DevTest/rollback`, {})).status).toBe(202);
      expect((await post(`${h.url}/ci/auth/login`, { token: 'x' })).status).toBe(409);
      const before = h.writes.length;
      const crossSite = await post(`${h.url}/ci/runs`, {}, { origin: 'https://evil.example' });
      expect(crossSite.status).toBe(403);
      expect((await json(crossSite)).error.code).toBe('origin_not_allowed');
      expect(h.writes.length).toBe(before);
      // DNS rebinding: evil.example resolving to 127.0.0.1 arrives with its own Host header.
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${h.url}/ci/runs`, { headers: { host: 'evil.example:8080' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(403);
    } finally {
      await h.close();
    }
  });
});
