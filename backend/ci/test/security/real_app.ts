/**
 * The real service (buildApp) with access control on: AUTH_MODE=token, a
 * fresh SQLite file and artifact store, the sandbox Jenkins at test pace, and
 * one API token per role. Used by the route × role matrix and the hostile
 * input corpus.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { buildApp, type Services } from '../../src/app.js';
import { createToken } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { FAKE_SESSION_SECRET } from '../auth/harness.js';

export interface RealApp {
  url: string;
  wsUrl: string;
  services: Services;
  db: Kysely<any>;
  tokens: { viewer: string; deployer: string; admin: string };
  close(): Promise<void>;
}

export async function startRealApp(env: Record<string, string> = {}): Promise<RealApp> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qaci-sec-'));
  const config = loadConfig({
    AUTH_MODE: 'token',
    SESSION_SECRET: FAKE_SESSION_SECRET,
    DATABASE_URL: path.join(dir, 'ci.sqlite'),
    ARTIFACT_STORE: path.join(dir, 'artifacts'),
    SANDBOX_TIME_SCALE: '0.02',
    JENKINS_POLL_MS: '100',
    JENKINS_DEADLINE_S: '20',
    LOG_LEVEL: 'silent',
    PORT: '0',
    // The corpus sends hundreds of writes from one address in a few seconds.
    RATE_LIMIT_WRITES_PER_MIN: '100000',
    RATE_LIMIT_READS_PER_MIN: '100000',
    RATE_LIMIT_LOGIN_PER_MIN: '100000',
    ...env,
  });
  const { app, services } = await buildApp(config);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const db = services.db.db as unknown as Kysely<any>;
  const tokens = {
    viewer: (await createToken(db, { name: 'matrix-viewer', role: 'viewer' })).token,
    deployer: (await createToken(db, { name: 'matrix-deployer', role: 'deployer' })).token,
    admin: (await createToken(db, { name: 'matrix-admin', role: 'admin' })).token,
  };
  // Fail loudly, with the reason, when app.ts does not wire authPlugin.
  const me = (await (await fetch(`${url}/ci/me`)).json()) as { user: unknown; auth_mode: string };
  if (me.auth_mode !== 'token' || me.user !== null) {
    await app.close();
    throw new Error(`app.ts does not enforce AUTH_MODE=token (GET /ci/me anonymously answered ${JSON.stringify(me)}); wire authPlugin and createAuthSeam as docs/security.md §9 says.`);
  }
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    services,
    db,
    tokens,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const TERMINAL = new Set(['success', 'failed', 'rolled_back', 'cancelled', 'error']);

export async function call(base: string, method: string, p: string, opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

export async function waitForRun(base: string, token: string, runId: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(base, 'GET', `/ci/runs/${runId}`, { token });
    if (r.status === 200 && TERMINAL.has(r.body.status)) return r.body;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not finish in ${timeoutMs} ms; last: ${r.text.slice(0, 300)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
