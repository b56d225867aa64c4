/**
 * JWT sign-in against a real JWKS endpoint: jose keys served by node:http on
 * loopback, tokens signed with jose, checked by the app over real HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/auth/tokens.js';
import { cookieHeader, cookiesOf, FAKE_SESSION_SECRET, type Harness, json, startHarness } from './harness.js';

const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'qa-intelligence-ci';

describe('AUTH_MODE=jwt', () => {
  let jwks: Server;
  let jwksUrl: string;
  let jwksHits = 0;
  let key: CryptoKey;
  let otherKey: CryptoKey;
  let h: Harness;
  let nested: Harness;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const pub: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'fake-kid-1', alg: 'RS256', use: 'sig' };
    jwks = createServer((req, res) => {
      jwksHits++;
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [pub] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    const env = { AUTH_MODE: 'jwt', JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, SESSION_SECRET: FAKE_SESSION_SECRET };
    h = await startHarness(env);
    nested = await startHarness({ ...env, JWT_ROLE_CLAIM: 'realm_access.roles', JWT_NAME_CLAIM: 'preferred_username' });
  });
  afterAll(async () => {
    await h.close();
    await nested.close();
    await new Promise((r) => jwks.close(r));
  });

  const sign = (claims: Record<string, unknown>, opts: { iss?: string; aud?: string; exp?: string | number; signer?: CryptoKey; kid?: string; sub?: string | null } = {}) => {
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'fake-kid-1' })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '10m');
    if (opts.sub !== null) jwt = jwt.setSubject(opts.sub ?? 'user-123');
    return jwt.sign(opts.signer ?? key);
  };
  const get = (base: string, token: string, path = '/ci/runs') => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('accepts a valid token and maps the role and name claims', async () => {
    const token = await sign({ role: 'deployer', name: 'Dana Example' });
    const res = await get(h.url, token, '/ci/me');
    expect(res.status).toBe(200);
    expect((await json(res)).user).toEqual({ id: 'jwt:user-123', name: 'Dana Example', role: 'deployer' });
    expect((await fetch(`${h.url}/ci/runs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })).status).toBe(201);
    expect(jwksHits).toBeGreaterThan(0);
  });

  it('takes the highest role from an array claim and falls back to sub for the name', async () => {
    const res = await get(h.url, await sign({ role: ['viewer', 'admin', 'unrelated'] }), '/ci/me');
    expect((await json(res)).user).toEqual({ id: 'jwt:user-123', name: 'user-123', role: 'admin' });
  });

  it('reads a nested role claim (JWT_ROLE_CLAIM=realm_access.roles)', async () => {
    const res = await get(nested.url, await sign({ realm_access: { roles: ['offline_access', 'viewer'] }, preferred_username: 'vic' }), '/ci/me');
    expect((await json(res)).user).toEqual({ id: 'jwt:user-123', name: 'vic', role: 'viewer' });
  });

  it('refuses a token from another issuer', async () => {
    const res = await get(h.url, await sign({ role: 'admin' }, { iss: 'https://evil.example/' }));
    expect(res.status).toBe(401);
    const body = await json(res);
    expect(body.error.code).toBe('invalid_token');
    expect(body.error.message).toMatch(/"iss" claim/);
  });

  it('refuses a token for another audience', async () => {
    const res = await get(h.url, await sign({ role: 'admin' }, { aud: 'some-other-app' }));
    expect(res.status).toBe(401);
    expect((await json(res)).error.message).toMatch(/"aud" claim/);
  });

  it('refuses an expired token, saying so', async () => {
    const res = await get(h.url, await sign({ role: 'admin' }, { exp: Math.floor(Date.now() / 1000) - 3600 }));
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe('token_expired');
  });

  it('answers 403 no_role for a valid token without a known role', async () => {
    for (const claims of [{}, { role: 'superuser' }, { role: [] }]) {
      const res = await get(h.url, await sign(claims));
      expect(res.status).toBe(403);
      const body = await json(res);
      expect(body.error.code).toBe('no_role');
      expect(body.error.message).toMatch(/"role" claim holds none of the roles viewer, deployer, admin/);
    }
  });

  it('refuses a token signed by a key not in the JWKS, a token without sub, alg none and HS256', async () => {
    expect((await get(h.url, await sign({ role: 'admin' }, { signer: otherKey }))).status).toBe(401);
    expect((await get(h.url, await sign({ role: 'admin' }, { signer: otherKey, kid: 'unknown-kid' }))).status).toBe(401);
    expect((await get(h.url, await sign({ role: 'admin' }, { sub: null }))).status).toBe(401);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const payload = { role: 'admin', sub: 'x', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 };
    expect((await get(h.url, `${b64({ alg: 'none' })}.${b64(payload)}.`)).status).toBe(401);
    const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('fake-shared-secret-0123456789abcdef'));
    expect((await get(h.url, hs)).status).toBe(401);
  });

  it('still accepts API tokens alongside JWTs', async () => {
    const t = (await createToken(h.db, { name: 'robot', role: 'viewer' })).token;
    expect((await get(h.url, t)).status).toBe(200);
  });

  it('opens a browser session from a JWT, which then needs CSRF for writes', async () => {
    const token = await sign({ role: 'deployer', name: 'Sam' });
    const login = await fetch(`${h.url}/ci/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    expect(login.status).toBe(200);
    const { jar } = cookiesOf(login);
    const cookie = cookieHeader(jar);
    expect((await json(await fetch(`${h.url}/ci/me`, { headers: { cookie } }))).user).toMatchObject({ name: 'Sam', role: 'deployer' });
    const headers = { cookie, 'content-type': 'application/json' };
    expect((await fetch(`${h.url}/ci/runs`, { method: 'POST', headers, body: '{}' })).status).toBe(403);
    expect((await fetch(`${h.url}/ci/runs`, { method: 'POST', headers: { ...headers, 'x-csrf-token': jar.qa_csrf! }, body: '{}' })).status).toBe(201);
  });

  it('caps the session at the JWT expiry', async () => {
    const exp = Math.floor(Date.now() / 1000) + 120;
    const login = await fetch(`${h.url}/ci/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: await sign({ role: 'viewer' }, { exp }) }) });
    const body = await json(login);
    expect(Date.parse(body.expires_at)).toBeLessThanOrEqual(exp * 1000);
  });

  it('answers 503 (not 401) when the identity provider is unreachable', async () => {
    const down = await startHarness({ AUTH_MODE: 'jwt', JWKS_URL: 'http://127.0.0.1:9/jwks.json', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    try {
      const res = await get(down.url, await sign({ role: 'admin' }));
      expect(res.status).toBe(503);
      expect((await json(res)).error.code).toBe('auth_unavailable');
    } finally {
      await down.close();
    }
  });
});
