/**
 * Access-control settings (DESIGN §6), read once at start-up. Like config.ts,
 * a missing or malformed variable stops start-up with a message naming it and
 * saying what to set instead. Secrets read here (SESSION_SECRET) are never
 * logged or echoed back in a message.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../config.js';

export type AuthMode = 'none' | 'token' | 'jwt';

export interface JwtConfig {
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** Claim holding the role; a dotted path reaches nested claims (`realm_access.roles`). */
  roleClaim: string;
  /** Claim holding the display name; falls back to `sub` when absent. */
  nameClaim: string;
}

export interface RateLimits {
  /** Requests per minute and client address, by kind. */
  readsPerMinute: number;
  writesPerMinute: number;
  loginPerMinute: number;
}

export interface AuthConfig {
  mode: AuthMode;
  jwt: JwtConfig | undefined;
  /** Lifetime of a browser session. */
  sessionTtlS: number;
  /** Key for the session and CSRF hashes. Undefined: browser sign-in is disabled (bearer only). */
  sessionSecret: string | undefined;
  /** Origins allowed to call the API from a browser; empty = CORS closed. */
  corsOrigins: string[];
  /** Fastify's `trustProxy`: false, true, or the proxies' addresses/CIDRs. */
  trustProxy: boolean | string[];
  rateLimits: RateLimits;
}

const DEFAULT_SESSION_TTL_S = 8 * 3600;

function intVar(env: Record<string, string | undefined>, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name}="${raw}" is not valid; set a whole number between ${min} and ${max} (default ${def}).`);
  }
  return n;
}

function parseOrigin(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(`${name}: "${value}" is not an origin; list origins like https://qa.example.com (scheme, host and optional port), comma-separated.`);
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.pathname !== '/' || u.search || u.hash || u.username) {
    throw new ConfigError(`${name}: "${value}" is not an origin; give only scheme://host[:port], without a path, for example https://qa.example.com.`);
  }
  return u.origin;
}

function parseTrustProxy(raw: string | undefined): boolean | string[] {
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of parts) {
    const [addr, bits] = p.split('/');
    if (!addr || !isIP(addr) || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
      throw new ConfigError(
        `TRUST_PROXY: "${p}" is not an address or CIDR; set false (default), true (trust every proxy: only behind one you control), or a comma-separated list such as 10.0.0.5,10.1.0.0/16.`,
      );
    }
  }
  return parts;
}

/** Reads the access-control variables. Throws ConfigError naming the variable at fault. */
export function loadAuthConfig(env: Record<string, string | undefined>): AuthConfig {
  const modeRaw = (env.AUTH_MODE ?? '').trim() || 'none';
  if (modeRaw !== 'none' && modeRaw !== 'token' && modeRaw !== 'jwt') {
    throw new ConfigError(`AUTH_MODE="${modeRaw}" is not valid; set none (sandbox on loopback only), token (API tokens) or jwt (JWKS-validated JWTs plus API tokens).`);
  }
  const mode: AuthMode = modeRaw;

  let jwt: JwtConfig | undefined;
  if (mode === 'jwt') {
    const missing = ['JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE'].filter((k) => !env[k]);
    if (missing.length) {
      throw new ConfigError(
        `AUTH_MODE=jwt needs ${missing.join(', ')}; set JWKS_URL to the identity provider's JWKS endpoint (https://…/.well-known/jwks.json), JWT_ISSUER to its "iss" and JWT_AUDIENCE to the "aud" it issues for QA Intelligence.`,
      );
    }
    const jwksUrl = env.JWKS_URL as string;
    let u: URL;
    try {
      u = new URL(jwksUrl);
    } catch {
      throw new ConfigError(`JWKS_URL="${jwksUrl}" is not a URL; set the identity provider's JWKS endpoint, e.g. https://idp.example.com/.well-known/jwks.json.`);
    }
    const loopback = isLoopbackHost(u.hostname);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
      throw new ConfigError('JWKS_URL must use https:// (plain http is accepted only for a loopback address, as in tests).');
    }
    const roleClaim = (env.JWT_ROLE_CLAIM ?? '').trim() || 'role';
    const nameClaim = (env.JWT_NAME_CLAIM ?? '').trim() || 'name';
    for (const [k, v] of [['JWT_ROLE_CLAIM', roleClaim], ['JWT_NAME_CLAIM', nameClaim]] as const) {
      if (!/^[A-Za-z0-9_:\-/.]+$/.test(v)) throw new ConfigError(`${k}="${v}" is not a claim name; use letters, digits and _ : - / (dots reach nested claims).`);
    }
    jwt = { jwksUrl: u.toString(), issuer: env.JWT_ISSUER as string, audience: env.JWT_AUDIENCE as string, roleClaim, nameClaim };
  } else {
    const stray = ['JWKS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE'].filter((k) => env[k]);
    if (stray.length) throw new ConfigError(`${stray.join(', ')} set but AUTH_MODE=${mode}; set AUTH_MODE=jwt to use them, or remove them.`);
  }

  const secret = env.SESSION_SECRET;
  let sessionSecret: string | undefined;
  if (secret !== undefined && secret !== '') {
    if (secret.length < 32) {
      // The value itself is never echoed.
      throw new ConfigError(`SESSION_SECRET is too short (${secret.length} characters); set 32 or more random characters, e.g. the output of: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`);
    }
    if (/^(.)\1*$/.test(secret)) throw new ConfigError('SESSION_SECRET is one repeated character; set 32 or more random characters.');
    sessionSecret = secret;
  }

  const corsOrigins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((o) => {
      if (o === '*') throw new ConfigError('CORS_ORIGINS="*" is not allowed (the API uses cookies); list the exact origins, e.g. https://qa.example.com.');
      return parseOrigin('CORS_ORIGINS', o);
    });

  return {
    mode,
    jwt,
    sessionTtlS: intVar(env, 'SESSION_TTL_S', DEFAULT_SESSION_TTL_S, 60, 7 * 24 * 3600),
    sessionSecret,
    corsOrigins,
    trustProxy: parseTrustProxy(env.TRUST_PROXY?.trim()),
    rateLimits: {
      readsPerMinute: intVar(env, 'RATE_LIMIT_READS_PER_MIN', 1200, 1, 1_000_000),
      writesPerMinute: intVar(env, 'RATE_LIMIT_WRITES_PER_MIN', 60, 1, 1_000_000),
      loginPerMinute: intVar(env, 'RATE_LIMIT_LOGIN_PER_MIN', 10, 1, 1_000_000),
    },
  };
}

/** 127.0.0.0/8, ::1, ::ffff:127.x and "localhost" (the names HOST may take). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * DESIGN §6: AUTH_MODE=none only with the sandbox (JENKINS_URL unset) and only
 * when bound to a loopback address. Anything else throws, saying what to set.
 */
export function assertAuthModeAllowed(opts: { authMode: AuthMode; host: string; sandbox: boolean }): void {
  if (opts.authMode !== 'none') return;
  const problems: string[] = [];
  if (!opts.sandbox) problems.push('JENKINS_URL is set (a real Jenkins)');
  if (!isLoopbackHost(opts.host)) problems.push(`HOST=${opts.host} is not a loopback address`);
  if (problems.length) {
    throw new ConfigError(
      `AUTH_MODE=none is allowed only with the sandbox on a loopback address, but ${problems.join(' and ')}. ` +
        'Set AUTH_MODE=token (and create tokens with: npx tsx backend/ci/src/cli/tokens.ts create --name <who> --role <viewer|deployer|admin>) or AUTH_MODE=jwt with JWKS_URL, JWT_ISSUER and JWT_AUDIENCE; ' +
        'or, for a local trial, unset JENKINS_URL and set HOST=127.0.0.1.',
    );
  }
}
