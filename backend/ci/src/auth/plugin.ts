/**
 * authPlugin (DESIGN §6): resolves who is calling on every request and
 * serves the sign-in routes. Roles are enforced per route by `requireRole`.
 *
 *   Authorization: Bearer qaci_…   → an API token (AUTH_MODE=token|jwt)
 *   Authorization: Bearer eyJ…     → a JWT checked against JWKS_URL (AUTH_MODE=jwt)
 *   Cookie: qa_session=…           → a browser session opened by POST /ci/auth/login
 *   AUTH_MODE=none                 → every request is the local admin (sandbox on loopback only)
 *
 * Cookie-authenticated writes must echo the readable `qa_csrf` cookie in
 * `X-CSRF-Token` (double submit, bound to the session); bearer requests are
 * exempt, since a browser never adds that header on its own. The WebSocket
 * authenticates with the cookie or a single-use 30-second ticket
 * (`?ticket=`), never with an API token in the URL, where it would be logged.
 *
 * Registered without encapsulation (like fastify-plugin does), so its hooks
 * and `request.principal` apply to every route of the app.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
// jose is imported only with AUTH_MODE=jwt (makeJwtVerifier): ~50 modules the other modes never use.
import type { JWTPayload } from 'jose';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { AppError } from '../ci/errors.js';
import type { Redactor } from '../ci/redact.js';
import { type AuditAction, auditFromRequest, listAudit, recordAudit } from './audit.js';
import { type AuthConfig, isLoopbackHost } from './config.js';
import { authDb, isRole, LOCAL_ADMIN, type Principal, type Role, roleAtLeast, ROLES } from './principal.js';
import { TOKEN_PREFIX, verifyApiToken } from './tokens.js';

export const SESSION_COOKIE = 'qa_session';
export const CSRF_COOKIE = 'qa_csrf';
export const CSRF_HEADER = 'x-csrf-token';
export const WS_TICKET_TTL_S = 30;
const REALM = 'qa-ci';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Asymmetric algorithms only: a JWKS never holds a shared secret. */
const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface AuthPluginOptions {
  config: AuthConfig;
  db: Kysely<any>;
  redactor: Redactor;
  /** True when the sandbox Jenkins is in use (JENKINS_URL unset); shown by GET /ci/me. */
  sandbox: boolean;
}

interface AuthState {
  config: AuthConfig;
  db: Kysely<any>;
  redactor: Redactor;
  verifyJwt: ((token: string) => Promise<Principal>) | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; null when anonymous. Set by authPlugin before any route runs. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    qaAuth: AuthState;
  }
}

/** Thrown by the credential checks; `status` 401 (bad credential), 403 (no role) or 503 (IdP unreachable). */
class AuthFailure extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: unknown): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').send({ error: { code, message, details: details ?? null } });
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest('hex');
const sameHex = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
const newSecretValue = () => randomBytes(32).toString('base64url');

/** The request came over TLS, or from somewhere other than this machine: cookies must be Secure. */
function needsSecureCookie(request: FastifyRequest): boolean {
  return request.protocol === 'https' || !isLoopbackHost(request.ip);
}

/**
 * The Origin names the host the request was sent to, or is listed in
 * CORS_ORIGINS. A missing Origin (a non-browser client) passes. The scheme is
 * not compared: behind a TLS-terminating proxy without TRUST_PROXY the service
 * sees http while the page is https, and a page on the same host is not a
 * cross-site attacker.
 */
export function originAllowed(request: FastifyRequest, corsOrigins: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (corsOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === request.host;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// JWT

function claimAt(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The highest known role among the claim's values (string, space-separated string, or array). */
export function roleFromClaim(value: unknown): Role | null {
  const values = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  let best: Role | null = null;
  for (const v of values) {
    const r = typeof v === 'string' ? v.trim().toLowerCase() : '';
    if (isRole(r) && (!best || roleAtLeast(r, best))) best = r;
  }
  return best;
}

async function makeJwtVerifier(cfg: NonNullable<AuthConfig['jwt']>): Promise<(token: string) => Promise<Principal>> {
  const { createRemoteJWKSet, errors: joseErrors, jwtVerify } = await import('jose');
  const jwks = createRemoteJWKSet(new URL(cfg.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer: cfg.issuer, audience: cfg.audience, algorithms: JWT_ALGORITHMS, clockTolerance: 30 }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new AuthFailure(401, 'token_expired', 'The JWT has expired; sign in to the identity provider again and send a fresh token.');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        throw new AuthFailure(401, 'invalid_token', `The JWT's "${err.claim}" claim is not accepted (${err.reason}); send a token issued by ${cfg.issuer} for audience ${cfg.audience}.`);
      }
      if (err instanceof joseErrors.JWKSTimeout) throw new AuthFailure(503, 'auth_unavailable', 'The identity provider\'s JWKS did not answer in time; try again shortly.');
      if (err instanceof joseErrors.JOSEError) throw new AuthFailure(401, 'invalid_token', 'The JWT could not be verified (bad signature, unknown key or malformed token); send a token from the configured identity provider.');
      // Anything else is the JWKS endpoint being unreachable or broken: not the caller's fault.
      throw new AuthFailure(503, 'auth_unavailable', 'The identity provider\'s JWKS could not be fetched; try again shortly or ask an admin to check JWKS_URL.');
    }
    if (typeof payload.sub !== 'string' || !payload.sub) throw new AuthFailure(401, 'invalid_token', 'The JWT has no "sub" claim; send a token that identifies a user.');
    const role = roleFromClaim(claimAt(payload, cfg.roleClaim));
    if (!role) {
      throw new AuthFailure(403, 'no_role', `The JWT's "${cfg.roleClaim}" claim holds none of the roles ${ROLES.join(', ')}; ask the identity provider's admin to grant one.`);
    }
    const rawName = claimAt(payload, cfg.nameClaim);
    const name = typeof rawName === 'string' && rawName.trim() ? rawName.trim().slice(0, 128) : payload.sub;
    return { id: `jwt:${payload.sub.slice(0, 200)}`, name, role, via: 'jwt' };
  };
}

// ---------------------------------------------------------------------------
// Credentials

/** Checks a bearer credential: an API token, or (AUTH_MODE=jwt) a JWT. */
async function principalFromCredential(state: AuthState, credential: string): Promise<{ principal: Principal; tokenId: string | null; expiresAt: number | null }> {
  if (credential.startsWith(TOKEN_PREFIX)) {
    const tok = await verifyApiToken(state.db, credential);
    if (!tok) throw new AuthFailure(401, 'invalid_token', 'The API token is unknown or revoked; ask an admin for a new one (npx tsx backend/ci/src/cli/tokens.ts create).');
    return { principal: { id: `token:${tok.id}`, name: tok.name, role: tok.role, via: 'token' }, tokenId: tok.id, expiresAt: null };
  }
  if (state.verifyJwt) {
    const principal = await state.verifyJwt(credential);
    const exp = decodeExp(credential);
    return { principal, tokenId: null, expiresAt: exp };
  }
  throw new AuthFailure(401, 'invalid_token', 'The bearer credential is not an API token (they start with qaci_); send Authorization: Bearer qaci_….');
}

function decodeExp(jwt: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

async function principalFromSession(state: AuthState, cookieValue: string): Promise<{ principal: Principal; csrfHash: string } | null> {
  if (!state.config.sessionSecret || !/^[A-Za-z0-9_-]{43}$/.test(cookieValue)) return null;
  const row = await authDb(state.db).selectFrom('sessions').selectAll().where('id', '=', hmac(state.config.sessionSecret, cookieValue)).executeTakeFirst();
  if (!row || Date.parse(row.expires_at) <= Date.now() || !isRole(row.role)) return null;
  return { principal: { id: row.principal, name: row.name, role: row.role, via: 'session' }, csrfHash: row.csrf_hash };
}

// Failed bearer attempts are audited at most once a minute per address and reason,
// so a flood of bad tokens cannot turn every read into a DB write.
const failureAuditedAt = new Map<string, number>();
function shouldAuditFailure(key: string): boolean {
  const now = Date.now();
  const last = failureAuditedAt.get(key);
  if (last !== undefined && now - last < 60_000) return false;
  if (failureAuditedAt.size > 10_000) failureAuditedAt.clear();
  failureAuditedAt.set(key, now);
  return true;
}

async function audit(state: AuthState, request: FastifyRequest, action: AuditAction, target: string | null, details?: Record<string, unknown>): Promise<void> {
  try {
    await recordAudit(state.db, auditFromRequest(request, action, target, details), state.redactor);
  } catch (err) {
    // The audit write failing must not hide the answer; it is logged (masked) for the operator.
    request.log.error({ err: state.redactor.mask(String(err)) }, 'audit write failed');
  }
}

// ---------------------------------------------------------------------------
// Route guards

/** preHandler: 401 (with WWW-Authenticate) when anonymous, 403 naming the role needed when the role is too low. */
export function requireRole(role: Role): preHandlerAsyncHookHandler {
  return async function requireRoleHandler(request, reply) {
    const p = request.principal;
    if (!p) {
      reply.header('www-authenticate', `Bearer realm="${REALM}"`);
      return sendError(reply, 401, 'unauthenticated', `Sign in first: send Authorization: Bearer <API token or JWT>, or sign in on the page (POST /ci/auth/login). This needs the ${role} role.`, {
        required_role: role,
      });
    }
    if (!roleAtLeast(p.role, role)) {
      return sendError(reply, 403, 'forbidden', `This needs the ${role} role; ${p.name} has ${p.role}. Ask an admin for a ${role} token.`, { required_role: role, role: p.role });
    }
  };
}

/**
 * For the WebSocket route: the principal from the session cookie, a bearer
 * header (non-browser clients), or a single-use `?ticket=` from
 * POST /ci/auth/ws-ticket. Null when none is valid or the Origin is foreign
 * (cross-site WebSocket hijacking). A ticket is consumed even if the role
 * check that follows fails.
 */
export async function verifyWsRequest(request: FastifyRequest): Promise<Principal | null> {
  const state = request.server.qaAuth;
  if (!originAllowed(request, state.config.corsOrigins)) return null;
  if (state.config.mode === 'none') return LOCAL_ADMIN;
  const query = request.query as Record<string, unknown> | undefined;
  const ticket = typeof query?.ticket === 'string' ? query.ticket : undefined;
  if (ticket !== undefined) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(ticket)) return null;
    const adb = authDb(state.db);
    const id = sha256(ticket);
    const row = await adb.selectFrom('ws_tickets').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    // DELETE decides who redeems it: of two concurrent uses, only one deletes the row.
    const del = await adb.deleteFrom('ws_tickets').where('id', '=', id).executeTakeFirst();
    if (Number(del.numDeletedRows) !== 1 || Date.parse(row.expires_at) <= Date.now() || !isRole(row.role)) return null;
    // Bound to its principal: a ticket presented alongside another user's session is refused.
    if (request.principal && request.principal.id !== row.principal) return null;
    return { id: row.principal, name: row.name, role: row.role, via: row.via as Principal['via'] };
  }
  return request.principal;
}

/** preHandler for the WebSocket route: verifyWsRequest, then the role check; sets request.principal. */
export function requireWsRole(role: Role): preHandlerAsyncHookHandler {
  const check = requireRole(role);
  return async function requireWsRoleHandler(request, reply) {
    const p = await verifyWsRequest(request);
    if (!p && !originAllowed(request, request.server.qaAuth.config.corsOrigins)) {
      return sendError(reply, 403, 'origin_not_allowed', 'This WebSocket was opened from a page on another origin; open it from the CI page itself.');
    }
    request.principal = p;
    return check.call(this, request, reply);
  };
}

// ---------------------------------------------------------------------------
// The plugin

const LoginBody = z.object({ token: z.string().min(1).max(8192) }).strict();
const AuditQuery = z
  .object({
    actor: z.string().optional(),
    action: z.string().optional(),
    target: z.string().optional(),
    since: z.string().optional(),
    until: z.string().optional(),
    limit: z.coerce.number().optional(),
    cursor: z.string().max(1024).optional(),
  })
  .strict();

async function authPluginImpl(app: FastifyInstance, opts: AuthPluginOptions): Promise<void> {
  const { config, db, redactor } = opts;
  const state: AuthState = { config, db, redactor, verifyJwt: config.mode === 'jwt' && config.jwt ? await makeJwtVerifier(config.jwt) : undefined };
  app.decorate('qaAuth', state);
  if (!app.hasRequestDecorator('cookies')) await app.register(cookie);
  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (request, reply) => {
    request.principal = null;
    const query = request.query as Record<string, unknown> | undefined;
    if (query && ('access_token' in query || 'token' in query || 'api_token' in query)) {
      return sendError(reply, 400, 'token_in_url', 'Credentials in the URL end up in logs and browser history; send Authorization: Bearer <token> instead (the WebSocket takes ?ticket= from POST /ci/auth/ws-ticket).');
    }
    const unsafe = !SAFE_METHODS.has(request.method);

    if (config.mode === 'none') {
      // DNS rebinding: a foreign site resolving its name to 127.0.0.1 would arrive with its own Host.
      if (!isLoopbackHost(request.hostname)) {
        return sendError(reply, 403, 'host_not_allowed', `AUTH_MODE=none answers only requests addressed to a loopback name; open http://127.0.0.1 or http://localhost, not ${request.hostname.slice(0, 100)}.`);
      }
      if (unsafe && !originAllowed(request, config.corsOrigins)) {
        return sendError(reply, 403, 'origin_not_allowed', 'A page on another origin tried to change something here; use the CI page itself, or list that origin in CORS_ORIGINS.');
      }
      request.principal = LOCAL_ADMIN;
      return;
    }

    const authz = request.headers.authorization;
    if (authz !== undefined) {
      const m = /^Bearer ([\x21-\x7e]{1,8192})$/.exec(authz);
      if (!m?.[1]) {
        reply.header('www-authenticate', `Bearer realm="${REALM}", error="invalid_request"`);
        return sendError(reply, 401, 'invalid_request', 'The Authorization header must be "Bearer <API token or JWT>" (one space, no quotes).');
      }
      try {
        request.principal = (await principalFromCredential(state, m[1])).principal;
      } catch (err) {
        if (!(err instanceof AuthFailure)) throw err;
        if (shouldAuditFailure(`${request.ip}|${err.code}`)) await audit(state, request, 'auth.failed', null, { via: 'bearer', reason: err.code });
        if (err.status === 401) reply.header('www-authenticate', `Bearer realm="${REALM}", error="invalid_token"`);
        return sendError(reply, err.status, err.code, err.message);
      }
      return; // bearer requests are exempt from CSRF: browsers never attach that header by themselves
    }

    const sessionCookie = request.cookies?.[SESSION_COOKIE];
    if (sessionCookie) {
      const s = await principalFromSession(state, sessionCookie);
      if (s) {
        request.principal = s.principal;
        if (unsafe) {
          const header = request.headers[CSRF_HEADER];
          const csrfCookie = request.cookies?.[CSRF_COOKIE];
          if (!originAllowed(request, config.corsOrigins)) {
            return sendError(reply, 403, 'origin_not_allowed', 'A page on another origin tried to change something with your session; use the CI page itself, or an admin can list that origin in CORS_ORIGINS.');
          }
          const ok =
            typeof header === 'string' &&
            header === csrfCookie &&
            /^[A-Za-z0-9_-]{43}$/.test(header) &&
            sameHex(hmac(config.sessionSecret as string, header), s.csrfHash);
          if (!ok) {
            return sendError(reply, 403, 'csrf_failed', `A signed-in browser change needs the ${CSRF_HEADER} header set to the value of the ${CSRF_COOKIE} cookie; reload the page and try again.`);
          }
        }
      }
    }
  });

  // --- POST /ci/auth/login {token} → session + CSRF cookies
  app.post('/ci/auth/login', async (request, reply) => {
    if (config.mode === 'none') return sendError(reply, 409, 'auth_disabled', 'AUTH_MODE=none: every local request is already the local admin; there is nothing to sign in to.');
    if (!config.sessionSecret) {
      return sendError(reply, 503, 'sessions_not_configured', 'Browser sign-in is off because SESSION_SECRET is not set; an admin must set it (32+ random characters). Bearer tokens still work.');
    }
    const parsed = LoginBody.safeParse(request.body);
    if (!parsed.success) return sendError(reply, 422, 'invalid_input', 'Send a JSON body {"token": "<API token or JWT>"} and nothing else.', { fields: parsed.error.issues.map((i) => i.path.join('.') || '(body)') });
    let result: Awaited<ReturnType<typeof principalFromCredential>>;
    try {
      result = await principalFromCredential(state, parsed.data.token);
    } catch (err) {
      if (!(err instanceof AuthFailure)) throw err;
      await audit(state, request, 'auth.failed', null, { via: 'login', reason: err.code });
      if (err.status === 503 || err.status === 403) return sendError(reply, err.status, err.code, err.message);
      return sendError(reply, 401, 'invalid_credentials', 'That token was not accepted (unknown, revoked, expired or not from the configured identity provider); check it and try again.');
    }
    const now = Date.now();
    const expiresAt = Math.min(now + config.sessionTtlS * 1000, result.expiresAt ?? Infinity);
    const sessionValue = newSecretValue();
    const csrfValue = newSecretValue();
    const adb = authDb(db);
    const nowIso = new Date(now).toISOString();
    await adb.deleteFrom('sessions').where('expires_at', '<', nowIso).execute();
    await adb.deleteFrom('ws_tickets').where('expires_at', '<', nowIso).execute();
    await adb
      .insertInto('sessions')
      .values({
        id: hmac(config.sessionSecret, sessionValue),
        principal: result.principal.id,
        name: result.principal.name,
        role: result.principal.role,
        via: result.principal.via,
        token_id: result.tokenId,
        csrf_hash: hmac(config.sessionSecret, csrfValue),
        created_at: nowIso,
        expires_at: new Date(expiresAt).toISOString(),
      })
      .execute();
    request.principal = result.principal;
    await audit(state, request, 'auth.login', result.principal.id, { via: result.principal.via });
    const secure = needsSecureCookie(request);
    const maxAge = Math.max(1, Math.floor((expiresAt - now) / 1000));
    reply.setCookie(SESSION_COOKIE, sessionValue, { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge });
    // Readable by the page's script on purpose: it echoes it in X-CSRF-Token.
    reply.setCookie(CSRF_COOKIE, csrfValue, { httpOnly: false, sameSite: 'strict', secure, path: '/', maxAge });
    const { id, name, role } = result.principal;
    return reply.header('cache-control', 'no-store').send({ user: { id, name, role }, expires_at: new Date(expiresAt).toISOString() });
  });

  // --- POST /ci/auth/logout
  app.post('/ci/auth/logout', async (request, reply) => {
    const value = request.cookies?.[SESSION_COOKIE];
    if (value && config.sessionSecret && /^[A-Za-z0-9_-]{43}$/.test(value)) {
      await authDb(db).deleteFrom('sessions').where('id', '=', hmac(config.sessionSecret, value)).execute();
    }
    const secure = needsSecureCookie(request);
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure });
    reply.clearCookie(CSRF_COOKIE, { path: '/', sameSite: 'strict', secure });
    return reply.header('cache-control', 'no-store').send({ ok: true });
  });

  // --- GET /ci/me
  app.get('/ci/me', async (request, reply) => {
    const p = request.principal;
    return reply.header('cache-control', 'no-store').send({ user: p ? { id: p.id, name: p.name, role: p.role } : null, auth_mode: config.mode, sandbox: opts.sandbox });
  });

  // --- POST /ci/auth/ws-ticket → {ticket}: single use, 30 s, bound to the caller
  app.post('/ci/auth/ws-ticket', { preHandler: requireRole('viewer') }, async (request, reply) => {
    const p = request.principal as Principal;
    const ticket = newSecretValue();
    const now = Date.now();
    const adb = authDb(db);
    await adb.deleteFrom('ws_tickets').where('expires_at', '<', new Date(now).toISOString()).execute();
    await adb
      .insertInto('ws_tickets')
      .values({ id: sha256(ticket), principal: p.id, name: p.name, role: p.role, via: p.via, expires_at: new Date(now + WS_TICKET_TTL_S * 1000).toISOString() })
      .execute();
    return reply.header('cache-control', 'no-store').send({ ticket, expires_in_s: WS_TICKET_TTL_S });
  });

  // --- GET /ci/audit (admin)
  app.get('/ci/audit', { preHandler: requireRole('admin') }, async (request, reply) => {
    const q = AuditQuery.safeParse(request.query ?? {});
    if (!q.success) {
      return sendError(reply, 422, 'invalid_input', 'Query parameters are actor, action, target, since, until (ISO-8601), limit (1–200) and cursor.', {
        fields: q.error.issues.map((i) => (i.path.join('.') || i.message)),
      });
    }
    try {
      return reply.header('cache-control', 'no-store').send(await listAudit(db, q.data));
    } catch (err) {
      if (err instanceof AppError) return sendError(reply, err.status, err.code, err.message, err.details);
      throw err;
    }
  });
}

// Same effect as wrapping in fastify-plugin: the hooks and decorators reach the whole app.
(authPluginImpl as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(authPluginImpl as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = 'qa-auth';
(authPluginImpl as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')] = { name: 'qa-auth', fastify: '5.x' };

export const authPlugin = authPluginImpl;
