import { describe, expect, it } from 'vitest';
import { assertAuthModeAllowed, isLoopbackHost, loadAuthConfig } from '../../src/auth/config.js';
import { ConfigError } from '../../src/config.js';

describe('loadAuthConfig', () => {
  it('defaults to AUTH_MODE=none with CORS closed and no proxy trusted', () => {
    const c = loadAuthConfig({});
    expect(c.mode).toBe('none');
    expect(c.corsOrigins).toEqual([]);
    expect(c.trustProxy).toBe(false);
    expect(c.sessionSecret).toBeUndefined();
    expect(c.sessionTtlS).toBe(8 * 3600);
  });

  it('rejects an unknown AUTH_MODE, naming the allowed values', () => {
    expect(() => loadAuthConfig({ AUTH_MODE: 'open' })).toThrow(/AUTH_MODE="open" is not valid; set none .* token .* jwt/);
  });

  it('requires JWKS_URL, JWT_ISSUER and JWT_AUDIENCE for AUTH_MODE=jwt, naming the missing ones', () => {
    expect(() => loadAuthConfig({ AUTH_MODE: 'jwt', JWKS_URL: 'https://idp.example.com/jwks' })).toThrow(/needs JWT_ISSUER, JWT_AUDIENCE/);
  });

  it('refuses a plain-http JWKS_URL that is not loopback', () => {
    expect(() => loadAuthConfig({ AUTH_MODE: 'jwt', JWKS_URL: 'http://idp.example.com/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' })).toThrow(/must use https/);
    const ok = loadAuthConfig({ AUTH_MODE: 'jwt', JWKS_URL: 'http://127.0.0.1:9/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' });
    expect(ok.jwt).toMatchObject({ roleClaim: 'role', nameClaim: 'name', issuer: 'i', audience: 'a' });
  });

  it('flags JWT settings given without AUTH_MODE=jwt', () => {
    expect(() => loadAuthConfig({ AUTH_MODE: 'token', JWKS_URL: 'https://idp.example.com/jwks' })).toThrow(/set AUTH_MODE=jwt to use them/);
  });

  it('refuses a short SESSION_SECRET without echoing it', () => {
    let msg = '';
    try {
      loadAuthConfig({ AUTH_MODE: 'token', SESSION_SECRET: 'fake-short-secret' });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/SESSION_SECRET is too short \(17 characters\); set 32 or more/);
    expect(msg).not.toContain('fake-short-secret');
  });

  it('parses CORS_ORIGINS and refuses *, paths and non-URLs', () => {
    expect(loadAuthConfig({ CORS_ORIGINS: 'https://qa.example.com, http://localhost:5173' }).corsOrigins).toEqual(['https://qa.example.com', 'http://localhost:5173']);
    expect(() => loadAuthConfig({ CORS_ORIGINS: '*' })).toThrow(/not allowed \(the API uses cookies\)/);
    expect(() => loadAuthConfig({ CORS_ORIGINS: 'https://qa.example.com/app' })).toThrow(/without a path/);
    expect(() => loadAuthConfig({ CORS_ORIGINS: 'qa.example.com' })).toThrow(/is not an origin/);
  });

  it('parses TRUST_PROXY as false, true or a list of addresses', () => {
    expect(loadAuthConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadAuthConfig({ TRUST_PROXY: '10.0.0.5, 10.1.0.0/16' }).trustProxy).toEqual(['10.0.0.5', '10.1.0.0/16']);
    expect(() => loadAuthConfig({ TRUST_PROXY: 'proxy.example.com' })).toThrow(/TRUST_PROXY: "proxy.example.com" is not an address or CIDR/);
  });

  it('validates SESSION_TTL_S and the rate limits as bounded whole numbers', () => {
    expect(loadAuthConfig({ SESSION_TTL_S: '3600' }).sessionTtlS).toBe(3600);
    expect(() => loadAuthConfig({ SESSION_TTL_S: '10' })).toThrow(/SESSION_TTL_S="10" is not valid; set a whole number between 60 and 604800/);
    expect(() => loadAuthConfig({ RATE_LIMIT_WRITES_PER_MIN: 'lots' })).toThrow(/RATE_LIMIT_WRITES_PER_MIN/);
  });
});

describe('assertAuthModeAllowed', () => {
  const cases: Array<[mode: 'none' | 'token' | 'jwt', host: string, sandbox: boolean, allowed: boolean]> = [
    ['none', '127.0.0.1', true, true],
    ['none', 'localhost', true, true],
    ['none', '::1', true, true],
    ['none', '127.8.9.10', true, true],
    ['none', '0.0.0.0', true, false],
    ['none', '::', true, false],
    ['none', '10.0.0.7', true, false],
    ['none', 'ci.example.com', true, false],
    ['none', '127.0.0.1', false, false],
    ['none', '0.0.0.0', false, false],
    ['token', '0.0.0.0', false, true],
    ['token', '127.0.0.1', true, true],
    ['jwt', '0.0.0.0', false, true],
    ['jwt', '10.0.0.7', true, true],
  ];
  for (const [authMode, host, sandbox, allowed] of cases) {
    it(`${allowed ? 'allows' : 'refuses'} AUTH_MODE=${authMode} on HOST=${host} ${sandbox ? 'with the sandbox' : 'with JENKINS_URL set'}`, () => {
      const run = () => assertAuthModeAllowed({ authMode, host, sandbox });
      if (allowed) expect(run).not.toThrow();
      else expect(run).toThrow(ConfigError);
    });
  }

  it('says what is wrong and what to set', () => {
    expect(() => assertAuthModeAllowed({ authMode: 'none', host: '0.0.0.0', sandbox: false })).toThrow(
      /JENKINS_URL is set \(a real Jenkins\) and HOST=0\.0\.0\.0 is not a loopback address\. Set AUTH_MODE=token .*tokens\.ts create/,
    );
  });

  it('knows loopback names', () => {
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('localhost.example.com')).toBe(false);
  });
});
